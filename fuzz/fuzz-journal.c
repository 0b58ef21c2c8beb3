/*
 * fuzz-journal.c: libFuzzer target for the journal's recovery and check.
 *
 * The input becomes the files of a journal directory, which is then
 * checked (ts_journal_check) and opened (ts_journal_open, which replays
 * it).  Byte 0 says how:
 *
 *   bit 0  fix the checksums: walk the records as their lengths say and
 *          write each one's CRC-32C (and the header's), so that inputs get
 *          past the checksums to the rules behind them
 *   bit 1  put a valid header in front of each file
 *   bit 2  two files: bytes 1-2 (little-endian) are the length of a
 *          snapshot, snap.0000000001, and the rest is log.0000000002; with
 *          bit 1 also, bytes 3-4 are the snapshot header's highest seq
 *
 * Otherwise the rest of the input is log.0000000001.  Oracles, any
 * failure of which is printed and abort()ed:
 *
 *   - check says damaged (1) exactly when open fails; it never gives -1;
 *   - replay hands over tuples in increasing seq order, none above the
 *     highest seq it reports, and each once;
 *   - after a successful open the directory is sound: closing and opening
 *     again gives the same tuples, drops nothing, and check reports no
 *     torn tail; an out appended then is there at the next open;
 *   - when check --fix says it repaired the directory (2), check then
 *     finds it sound and open succeeds.
 *
 * The directory is made once per process in $TMPDIR, or in /dev/shm if
 * TMPDIR is not set and /dev/shm exists (a tmpfs, where the journal's
 * fsyncs cost nothing), or in /tmp.  It is not removed at exit.
 *
 * Built and run with the other targets by fuzz/fuzz.mk (make check runs
 * each briefly); on its own:
 *
 *   make -f fuzz/fuzz.mk build-fuzz/fuzz-journal
 *   build-fuzz/fuzz-journal -dict=fuzz/journal.dict -max_len=4096 \
 *       -max_total_time=60 build-fuzz/corpus-journal fuzz/corpus/journal
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_SIZE 36

/* What a replay handed over, boiled down. */
struct seen {
    uint64_t n;
    uint64_t last;
    uint64_t hash;
    int disorder;
};

static const struct ts_journal_opts opts = {TS_JOURNAL_NONE, 0, 0, 0, 0};
static char dir[4096];

static void fail(const char *what, const char *detail) __attribute__((noreturn));
static void setup(void);
static void clear(void);
static void put32(unsigned char *p, uint32_t v);
static void put64(unsigned char *p, uint64_t v);
static void header(unsigned char *h, uint32_t kind, uint64_t num, uint64_t seq);
static void fix_crcs(unsigned char *p, size_t n);
static void write_file(const char *name, const unsigned char *p, size_t n);
static int seen_fn(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
                   const char *text, size_t len);
static struct ts_journal *open_seen(struct seen *s, struct ts_journal_replay *rep, char *err,
                                    size_t errlen);

static void
fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz-journal: %s\n%s\n", what, detail);
    abort();
}

static void
setup(void)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;

    if (dir[0] != '\0')
        return;
    if (tmp == NULL || *tmp == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz-journal.XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        fail("cannot make a directory", strerror(errno));
}

/* Remove every file but the lock. */
static void
clear(void)
{
    char path[8192];
    struct dirent *d;
    DIR *dp = opendir(dir);

    if (dp == NULL)
        fail("cannot read the directory", strerror(errno));
    while ((d = readdir(dp)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
            strcmp(d->d_name, "lock") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
        unlink(path);
    }
    closedir(dp);
}

static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* The header journal.h documents. */
static void
header(unsigned char *h, uint32_t kind, uint64_t num, uint64_t seq)
{
    memcpy(h, "TSJOURNL", 8);
    put32(h + 8, 1);
    put32(h + 12, kind);
    put64(h + 16, num);
    put64(h + 24, seq);
    put32(h + 32, ts_crc32c(0, h, 32));
}

static void
fix_crcs(unsigned char *p, size_t n)
{
    size_t off = HDR_SIZE;
    uint32_t len;

    if (n < HDR_SIZE)
        return;
    put32(p + 32, ts_crc32c(0, p, 32));
    while (n - off >= 8) {
        len = (uint32_t)p[off + 4] | (uint32_t)p[off + 5] << 8 | (uint32_t)p[off + 6] << 16 |
              (uint32_t)p[off + 7] << 24;
        if (len > n - off - 8)
            break;
        put32(p + off, ts_crc32c(0, p + off + 4, (size_t)len + 4));
        off += 8 + (size_t)len;
    }
}

static void
write_file(const char *name, const unsigned char *p, size_t n)
{
    char path[8192];
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n))
        fail("cannot write a file", strerror(errno));
    close(fd);
}

static int
seen_fn(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
        const char *text, size_t len)
{
    struct seen *s = arg;
    size_t i;

    if (s->n > 0 && seq <= s->last)
        s->disorder = 1;
    s->n++;
    s->last = seq;
    /* FNV-1a over what was handed over, to compare two replays. */
    s->hash = (s->hash ^ seq) * 0x100000001b3u;
    s->hash = (s->hash ^ deadline) * 0x100000001b3u;
    if (owner != NULL) {
        s->hash = (s->hash ^ owner->pid) * 0x100000001b3u;
        s->hash = (s->hash ^ owner->start) * 0x100000001b3u;
        s->hash = (s->hash ^ owner->boot) * 0x100000001b3u;
    }
    for (i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char)text[i]) * 0x100000001b3u;
    s->hash = (s->hash ^ len) * 0x100000001b3u;
    return 0;
}

static struct ts_journal *
open_seen(struct seen *s, struct ts_journal_replay *rep, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->hash = 0xcbf29ce484222325u;
    return ts_journal_open(dir, &opts, seen_fn, s, rep, err, errlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char report[8192], err[1024], detail[16384];
    struct ts_journal_replay rep, rep2;
    struct seen s, s2;
    struct ts_journal *j;
    unsigned char *buf, *log;
    size_t snaplen = 0, loglen, skip = 1;
    uint64_t seq = 0;
    int flags, rc, rc2;

    if (size < 1)
        return 0;
    setup();
    clear();
    flags = data[0];
    if ((flags & 4) != 0) {
        if (size < 3)
            return 0;
        snaplen = (size_t)data[1] | (size_t)data[2] << 8;
        skip = 3;
        if ((flags & 2) != 0) {
            if (size < 5)
                return 0;
            seq = (uint64_t)data[3] | (uint64_t)data[4] << 8;
            skip = 5;
        }
        if (snaplen > size - skip)
            snaplen = size - skip;
    }
    loglen = size - skip - snaplen;
    /* Room for a header in front of each part. */
    buf = malloc(snaplen + loglen + 2 * HDR_SIZE + 1);
    if (buf == NULL)
        fail("out of memory", "");
    if ((flags & 4) != 0) {
        size_t h = (flags & 2) != 0 ? HDR_SIZE : 0;

        if (h > 0)
            header(buf, 2, 1, seq);
        memcpy(buf + h, data + skip, snaplen);
        if ((flags & 1) != 0)
            fix_crcs(buf, h + snaplen);
        write_file("snap.0000000001", buf, h + snaplen);
    }
    log = buf + snaplen + HDR_SIZE;
    {
        size_t h = (flags & 2) != 0 ? HDR_SIZE : 0;
        uint64_t num = (flags & 4) != 0 ? 2 : 1;

        if (h > 0)
            header(log, 1, num, 0);
        memcpy(log + h, data + skip + snaplen, loglen);
        if ((flags & 1) != 0)
            fix_crcs(log, h + loglen);
        write_file(num == 2 ? "log.0000000002" : "log.0000000001", log, h + loglen);
    }
    free(buf);

    rc = ts_journal_check(dir, 0, report, sizeof report);
    if (rc != 0 && rc != 1)
        fail("check could not check", report);
    j = open_seen(&s, &rep, err, sizeof err);
    if ((j == NULL) != (rc == 1)) {
        snprintf(detail, sizeof detail, "check gave %d:\n%s\nopen: %s", rc, report,
                 j == NULL ? err : "succeeded");
        fail("check and open disagree", detail);
    }
    if (j != NULL) {
        if (s.disorder || (s.n > 0 && s.last > rep.hiseq) || s.n != rep.tuples)
            fail("replay handed over tuples out of order or above its highest seq", "");
        if (ts_journal_close(j) < 0)
            fail("close failed", strerror(errno));
        j = open_seen(&s2, &rep2, err, sizeof err);
        if (j == NULL)
            fail("a directory that opened once does not open again", err);
        if (s2.n != s.n || s2.hash != s.hash || rep2.dropped != 0 || rep2.hiseq != rep.hiseq) {
            snprintf(detail, sizeof detail, "%" PRIu64 " tuples then %" PRIu64 "; dropped %" PRIu64,
                     s.n, s2.n, rep2.dropped);
            fail("a second open differs from the first", detail);
        }
        rc2 = ts_journal_check(dir, 0, report, sizeof report);
        if (rc2 != 0 || strstr(report, "torn tail") != NULL)
            fail("after open, check is not clean", report);
        /* Appending after recovery must work, and survive. */
        if (rep.hiseq + 1 < ((uint64_t)1 << 63)) {
            if (ts_journal_out(j, rep.hiseq + 1, 0, "[\"new\"]", 7) < 0 || ts_journal_write(j) < 0)
                fail("cannot append after recovery", strerror(errno));
            ts_journal_close(j);
            j = open_seen(&s2, &rep2, err, sizeof err);
            if (j == NULL || s2.n != s.n + 1 || s2.last != rep.hiseq + 1)
                fail("an out appended after recovery is not there", j == NULL ? err : "");
        }
        ts_journal_close(j);
        return 0;
    }

    rc = ts_journal_check(dir, 1, report, sizeof report);
    if (rc == 2) {
        rc2 = ts_journal_check(dir, 0, detail, sizeof detail);
        if (rc2 != 0)
            fail("check --fix said it repaired, but check still finds damage", detail);
        j = open_seen(&s, &rep, err, sizeof err);
        if (j == NULL)
            fail("check --fix said it repaired, but open fails", err);
        ts_journal_close(j);
    } else if (rc != 1)
        fail("check --fix gave neither 1 nor 2 for a damaged directory", report);
    return 0;
}
