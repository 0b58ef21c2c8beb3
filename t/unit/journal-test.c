/*
 * journal-test.c: unit test of the durable space's journal and of CRC-32C.
 *
 * Usage: journal-test DIR
 *
 * DIR is the directory of case tables the other unit tests read; this test
 * needs none and ignores it.  It works in a fresh directory under $TMPDIR
 * (or /tmp), removed at the end unless a test failed.
 *
 * The journal's callbacks are driven by a model: a list of tuples in seq
 * order, changed alongside every out and deletion.  Replay must give the
 * model back, in order; so must compaction, which rereads the files.  Torn tails are made by
 * copying a log and cutting it at every byte offset inside its last records; recovery must then
 * give the model as it was after some whole number of records.
 *
 * Output is TAP; the exit status is 0 when every test passed, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal.h"

#define LOG1 "log.0000000001"
#define LOG2 "log.0000000002"
#define LOG3 "log.0000000003"
#define SNAP1 "snap.0000000001"
#define SNAP2 "snap.0000000002"

struct tup {
    uint64_t seq;
    uint64_t deadline;
    struct ts_journal_owner owner; /* pid 0: none */
    char *text;
    size_t len;
};

/* The tuples a journal should hold, in seq order. */
struct model {
    struct tup *t;
    size_t n, cap;
};

static void *must(void *p);
static void model_add(struct model *m, uint64_t seq, uint64_t deadline, const char *text,
                      size_t len);
static size_t model_del(struct model *m, uint64_t seq);
static void model_copy(struct model *dst, const struct model *src);
static void model_free(struct model *m);
static int model_same(const struct model *a, const struct model *b, char *why, size_t whylen);
static int collect(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
                   const char *text, size_t len);
static void ok(int pass, const char *desc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diag(const char *text);
static char *path(const char *dir, const char *name);
static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw);
static void rm_rf(const char *dir);
static char *fresh_dir(const char *name);
static int copy_file(const char *from, const char *to, off_t len);
static int copy_dir(const char *from, const char *to);
static off_t file_size(const char *dir, const char *name);
static int file_exists(const char *dir, const char *name);
static char *read_file(const char *dir, const char *name, size_t *len);
static int patch_file(const char *dir, const char *name, off_t off, const void *p, size_t n);
static int reopen_same(const char *dir, const struct model *m, struct ts_journal_replay *rep,
                       char *why, size_t whylen);
static int do_out(struct ts_journal *j, struct model *m, uint64_t seq, uint64_t deadline,
                  const char *text);
static int do_del(struct ts_journal *j, struct model *m, uint64_t seq);
static int do_out_owned(struct ts_journal *j, struct model *m, uint64_t seq, uint64_t deadline,
                        uint32_t pid, uint64_t start, const char *text);
static int finish_compaction(struct ts_journal *j, char *msg, size_t msglen);
static int wait_file(const char *dir, const char *name);
static struct ts_journal *ten_records(const char *dir, struct model *m, struct model *at,
                                      off_t *size);
static uint64_t mono_ns(void);

static size_t hand_record(unsigned char *p, int type, uint64_t seq, uint64_t deadline,
                          const char *text);
static void le32(unsigned char *p, uint32_t v);
static void le64(unsigned char *p, uint64_t v);
static void test_crc(void);
static void test_format(void);
static void test_create(void);
static void test_round_trip(void);
static void test_torn(void);
static void test_torn_header(void);
static void test_zero_tail(void);
static void test_corrupt(void);
static void test_bad_length(void);
static void test_unknown_del(void);
static void test_compact(void);
static void test_owned(void);
static void test_crash_after_rename(void);
static void test_auto_compact(void);
static void test_child_fails(void);
static void test_close_stops(void);
static void test_gap(void);
static void test_torn_not_last(void);
static void test_lock(void);
static void test_lock_fork(void);
static void test_dir_checks(void);
static void test_fault(void);
static void test_fault_env(void);
static void test_sync(void);
static void test_check_sound(void);

static unsigned test_no, failed;
static char *root;
static const struct ts_journal_opts opts_none = {TS_JOURNAL_NONE, 0, 0, 0, 0};

/* ---- the model */

static void *
must(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "journal-test: out of memory\n");
        exit(1);
    }
    return p;
}

static void
model_add(struct model *m, uint64_t seq, uint64_t deadline, const char *text, size_t len)
{
    struct tup *t;

    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->t = must(realloc(m->t, m->cap * sizeof *m->t));
    }
    t = &m->t[m->n++];
    t->seq = seq;
    t->deadline = deadline;
    memset(&t->owner, 0, sizeof t->owner);
    t->text = must(malloc(len + 1));
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    t->len = len;
}

/* Remove seq; returns its text's length, for ts_journal_del. */
static size_t
model_del(struct model *m, uint64_t seq)
{
    size_t i, len;

    for (i = 0; i < m->n; i++)
        if (m->t[i].seq == seq) {
            len = m->t[i].len;
            free(m->t[i].text);
            memmove(&m->t[i], &m->t[i + 1], (m->n - i - 1) * sizeof *m->t);
            m->n--;
            return len;
        }
    return 0;
}

static void
model_copy(struct model *dst, const struct model *src)
{
    size_t i;

    memset(dst, 0, sizeof *dst);
    for (i = 0; i < src->n; i++) {
        model_add(dst, src->t[i].seq, src->t[i].deadline, src->t[i].text, src->t[i].len);
        dst->t[i].owner = src->t[i].owner;
    }
}

static void
model_free(struct model *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        free(m->t[i].text);
    free(m->t);
    memset(m, 0, sizeof *m);
}

static int
model_same(const struct model *a, const struct model *b, char *why, size_t whylen)
{
    size_t i;

    if (a->n != b->n) {
        snprintf(why, whylen, "%zu tuples, expected %zu", a->n, b->n);
        return 0;
    }
    for (i = 0; i < a->n; i++)
        if (a->t[i].seq != b->t[i].seq || a->t[i].deadline != b->t[i].deadline ||
            a->t[i].owner.pid != b->t[i].owner.pid || a->t[i].owner.start != b->t[i].owner.start ||
            a->t[i].owner.boot != b->t[i].owner.boot || a->t[i].len != b->t[i].len ||
            memcmp(a->t[i].text, b->t[i].text, a->t[i].len) != 0) {
            snprintf(why, whylen, "tuple %zu is seq %" PRIu64 " %s, expected seq %" PRIu64 " %s", i,
                     a->t[i].seq, a->t[i].text, b->t[i].seq, b->t[i].text);
            return 0;
        }
    return 1;
}

/* The replay callback: add to a model, insisting on seq order. */
static int
collect(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
        const char *text, size_t len)
{
    struct model *m = arg;

    if (m->n > 0 && seq <= m->t[m->n - 1].seq)
        return -1;
    model_add(m, seq, deadline, text, len);
    if (owner != NULL)
        m->t[m->n - 1].owner = *owner;
    return 0;
}

/* ---- TAP */

static void
ok(int pass, const char *desc, const char *fmt, ...)
{
    char why[16384];
    va_list ap;

    test_no++;
    printf("%s %u - %s\n", pass ? "ok" : "not ok", test_no, desc);
    if (!pass) {
        failed++;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        diag(why);
    }
    fflush(stdout);
}

static void
diag(const char *text)
{
    const char *p = text, *nl;

    while (*p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        printf("# %.*s\n", (int)(nl - p), p);
        p = *nl == '\n' ? nl + 1 : nl;
    }
}

/* ---- files */

static char *
path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = must(malloc(n));

    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        chmod(p, 0700);
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void
rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path under the scratch root, not yet existing. */
static char *
fresh_dir(const char *name)
{
    char *p = path(root, name);

    rm_rf(p);
    return p;
}

/* Copy from to to, only its first len bytes when len >= 0. */
static int
copy_file(const char *from, const char *to, off_t len)
{
    char buf[65536];
    int in, out, rc = 0;
    ssize_t n;
    off_t done = 0;

    if ((in = open(from, O_RDONLY)) < 0)
        return -1;
    if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
        close(in);
        return -1;
    }
    while ((n = read(in, buf, sizeof buf)) > 0) {
        if (len >= 0 && done + n > len)
            n = (ssize_t)(len - done);
        if (n > 0 && write(out, buf, (size_t)n) != n)
            rc = -1;
        done += n;
        if (len >= 0 && done >= len)
            break;
    }
    if (n < 0)
        rc = -1;
    close(in);
    close(out);
    return rc;
}

/* Copy the journal files (not the lock) of one directory into a new one. */
static int
copy_dir(const char *from, const char *to)
{
    static const char *names[] = {LOG1, LOG2, LOG3, SNAP1, SNAP2, "log.0000000004"};
    size_t i;
    int rc = 0;

    rm_rf(to);
    if (mkdir(to, 0700) < 0)
        return -1;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (file_exists(from, names[i])) {
            char *a = path(from, names[i]), *b = path(to, names[i]);

            if (copy_file(a, b, -1) < 0)
                rc = -1;
            free(a);
            free(b);
        }
    return rc;
}

static off_t
file_size(const char *dir, const char *name)
{
    char *p = path(dir, name);
    struct stat st;
    off_t n = stat(p, &st) == 0 ? st.st_size : -1;

    free(p);
    return n;
}

static int
file_exists(const char *dir, const char *name)
{
    return file_size(dir, name) >= 0;
}

static char *
read_file(const char *dir, const char *name, size_t *len)
{
    char *p = path(dir, name), *buf = NULL;
    off_t n = file_size(dir, name);
    int fd = open(p, O_RDONLY);

    *len = 0;
    if (fd >= 0 && n >= 0) {
        buf = must(malloc((size_t)n + 1));
        if (read(fd, buf, (size_t)n) == n)
            *len = (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    free(p);
    return buf;
}

static int
patch_file(const char *dir, const char *name, off_t off, const void *buf, size_t n)
{
    char *p = path(dir, name);
    int fd = open(p, O_WRONLY), rc;

    free(p);
    if (fd < 0)
        return -1;
    rc = pwrite(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
    close(fd);
    return rc;
}

/* ---- journal helpers */

/* Open dir, replay it, close it: was it m? */
static int
reopen_same(const char *dir, const struct model *m, struct ts_journal_replay *rep, char *why,
            size_t whylen)
{
    struct ts_journal_replay r0;
    struct model got = {0};
    struct ts_journal *j;
    char err[512];
    int same;

    if (rep == NULL)
        rep = &r0;
    j = ts_journal_open(dir, &opts_none, collect, &got, rep, err, sizeof err);
    if (j == NULL) {
        snprintf(why, whylen, "open failed: %s", err);
        model_free(&got);
        return 0;
    }
    same = model_same(&got, m, why, whylen);
    model_free(&got);
    if (ts_journal_close(j) < 0) {
        snprintf(why, whylen, "close failed: %s", strerror(errno));
        return 0;
    }
    return same;
}

static int
do_out(struct ts_journal *j, struct model *m, uint64_t seq, uint64_t deadline, const char *text)
{
    if (ts_journal_out(j, seq, deadline, text, strlen(text)) < 0)
        return -1;
    model_add(m, seq, deadline, text, strlen(text));
    return 0;
}

/* An out bound to process pid, which started at start in boot 0xb007. */
static int
do_out_owned(struct ts_journal *j, struct model *m, uint64_t seq, uint64_t deadline, uint32_t pid,
             uint64_t start, const char *text)
{
    struct ts_journal_owner o = {pid, start, 0xb007};

    if (ts_journal_out_owned(j, seq, deadline, &o, text, strlen(text)) < 0)
        return -1;
    model_add(m, seq, deadline, text, strlen(text));
    m->t[m->n - 1].owner = o;
    return 0;
}

static int
do_del(struct ts_journal *j, struct model *m, uint64_t seq)
{
    return ts_journal_del(j, seq, model_del(m, seq));
}

/*
 * Wait (up to 20 s) for the compaction thread, and let tick take its
 * result: 0 when it succeeded, -1 when it failed, msg saying so.
 */
static int
finish_compaction(struct ts_journal *j, char *msg, size_t msglen)
{
    struct ts_journal_stats before, st;
    struct timespec pause = {0, 5000000};
    int i;

    ts_journal_stats(j, &before);
    if (!before.compacting) {
        snprintf(msg, msglen, "no compaction to finish");
        return -1;
    }
    for (i = 0; i < 4000; i++) {
        /* A time far ahead: tick looks at the thread now. */
        if (ts_journal_tick(j, UINT64_MAX / 2, msg, msglen) == 1) {
            ts_journal_stats(j, &st);
            if (!st.compacting)
                return st.compactions > before.compactions ? 0 : -1;
        }
        nanosleep(&pause, NULL);
    }
    snprintf(msg, msglen, "the compaction did not end");
    return -1;
}

/* Wait (up to 20 s) until a file exists. */
static int
wait_file(const char *dir, const char *name)
{
    struct timespec pause = {0, 5000000};
    int i;

    for (i = 0; i < 4000; i++) {
        if (file_exists(dir, name))
            return 0;
        nanosleep(&pause, NULL);
    }
    return -1;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
le32(unsigned char *p, uint32_t v)
{
    int i;

    for (i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void
le64(unsigned char *p, uint64_t v)
{
    le32(p, (uint32_t)v);
    le32(p + 4, (uint32_t)(v >> 32));
}

/* A record made from the layout journal.h documents, not from journal.c. */
static size_t
hand_record(unsigned char *p, int type, uint64_t seq, uint64_t deadline, const char *text)
{
    size_t tl = text != NULL ? strlen(text) : 0, body = 9 + (type == 2 ? 8 : 0) + tl;

    le32(p + 4, (uint32_t)body);
    p[8] = (unsigned char)type;
    le64(p + 9, seq);
    if (type == 2)
        le64(p + 17, deadline);
    memcpy(p + 8 + body - tl, text != NULL ? text : "", tl);
    le32(p, ts_crc32c(0, p + 4, body + 4));
    return 8 + body;
}

/* ---- the tests */

static void
test_crc(void)
{
    unsigned char buf[1000];
    uint32_t whole, parts;
    size_t i, cut;
    int pass = 1;

    ok(ts_crc32c(0, "123456789", 9) == 0xe3069283u, "crc32c: check value of \"123456789\"",
       "got %08x", ts_crc32c(0, "123456789", 9));
    memset(buf, 0, 32);
    ok(ts_crc32c(0, buf, 32) == 0x8a9136aau, "crc32c: 32 zero bytes (RFC 3720)", "got %08x",
       ts_crc32c(0, buf, 32));
    for (i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    whole = ts_crc32c(0, buf, sizeof buf);
    for (cut = 0; cut <= sizeof buf; cut += 37) {
        parts = ts_crc32c(ts_crc32c(0, buf, cut), buf + cut, sizeof buf - cut);
        if (parts != whole)
            pass = 0;
    }
    ok(pass, "crc32c: in pieces equals at once", "a split gave another CRC");
}

/* The on-disk layout is the one journal.h describes. */
static void
test_format(void)
{
    char *dir = fresh_dir("format"), err[512], why[8192] = "";
    unsigned char h[36], rec[256];
    struct model m = {0};
    struct ts_journal *j;
    size_t n = 0, len;
    char *buf;
    off_t end;

    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ts_journal_out(j, 7, 0, "[\"x\"]", 5);
    ts_journal_close(j);
    buf = read_file(dir, LOG1, &len);
    memcpy(h, "TSJOURNL", 8);
    le32(h + 8, 1);
    le32(h + 12, 1);
    le64(h + 16, 1);
    le64(h + 24, 0);
    le32(h + 32, ts_crc32c(0, h, 32));
    n = hand_record(rec, 1, 7, 0, "[\"x\"]");
    ok(buf != NULL && len == 36 + n && memcmp(buf, h, 36) == 0 && memcmp(buf + 36, rec, n) == 0,
       "format: header and an out record are laid out as documented", "%zu bytes", len);
    free(buf);

    /* Records made by hand: an out with a deadline, a deletion, an out. */
    end = file_size(dir, LOG1);
    n = hand_record(rec, 2, 8, 123456789, "[\"d\"]");
    n += hand_record(rec + n, 3, 7, 0, NULL);
    n += hand_record(rec + n, 1, 9, 0, "[\"y\"]");
    patch_file(dir, LOG1, end, rec, n);
    model_add(&m, 8, 123456789, "[\"d\"]", 5);
    model_add(&m, 9, 0, "[\"y\"]", 5);
    ok(reopen_same(dir, &m, NULL, why, sizeof why),
       "format: hand-made records of each type are read back", "%s", why);

    /* An out whose seq is not above the last is refused. */
    end = file_size(dir, LOG1);
    n = hand_record(rec, 1, 9, 0, "[\"again\"]");
    n += hand_record(rec + n, 1, 10, 0, "[\"z\"]");
    patch_file(dir, LOG1, end, rec, n);
    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "seq 9") != NULL, "format: a repeated seq is refused", "%s",
       j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    model_free(&m);
    free(dir);
}

static void
test_create(void)
{
    char *dir = fresh_dir("create"), err[512];
    struct ts_journal *j;
    struct stat st;

    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j != NULL && stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700 &&
           file_exists(dir, "lock") && file_exists(dir, LOG1),
       "a missing directory is created mode 0700, with a lock and a first segment", "%s",
       j == NULL ? err : "wrong mode or files");
    ts_journal_close(j);
    free(dir);
}

static void
test_round_trip(void)
{
    char *dir = fresh_dir("round"), err[512], why[8192], text[64];
    struct ts_journal_replay rep;
    struct model m = {0}, got = {0};
    struct ts_journal *j;
    uint64_t seq;
    int pass = 1;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL) {
        ok(0, "round trip", "open: %s", err);
        free(dir);
        return;
    }
    for (seq = 1; seq <= 1000; seq++) {
        snprintf(text, sizeof text, "[\"job\",%" PRIu64 "]", seq);
        if (do_out(j, &m, seq, seq % 3 == 0 ? 1700000000000000000u + seq : 0, text) < 0)
            pass = 0;
        /* Delete some old ones and some new ones, the way takes and expiries come. */
        if (seq % 4 == 0 && do_del(j, &m, seq / 2) < 0)
            pass = 0;
        if (seq % 50 == 0 && ts_journal_write(j) < 0)
            pass = 0;
    }
    if (do_out(j, &m, 1001, 0, "[\"empty\",\"\"]") < 0 || ts_journal_sync(j) < 0 ||
        ts_journal_close(j) < 0)
        pass = 0;
    ok(pass, "round trip: 1001 outs and 250 deletions written", "a call failed");

    j = ts_journal_open(dir, &opts_none, collect, &got, &rep, err, sizeof err);
    ok(j != NULL && model_same(&got, &m, why, sizeof why),
       "round trip: reopening gives the survivors, in order, with their deadlines", "%s",
       j == NULL ? err : why);
    ok(j != NULL && rep.hiseq == 1001 && rep.dropped == 0 && rep.tuples == m.n &&
           rep.note[0] == '\0',
       "round trip: replay reports the highest seq and nothing dropped",
       "hiseq %" PRIu64 " dropped %" PRIu64 " tuples %" PRIu64 " note '%s'", rep.hiseq, rep.dropped,
       rep.tuples, rep.note);
    if (j != NULL) {
        errno = 0;
        ok(ts_journal_out(j, 1001, 0, "[1]", 3) < 0 && errno == EINVAL &&
               do_out(j, &m, 1002, 0, "[\"after\"]") == 0 && ts_journal_close(j) == 0 &&
               reopen_same(dir, &m, NULL, why, sizeof why),
           "round trip: seqs continue above the highest, and appending after replay works",
           "errno %d: %s", errno, why);
    }
    model_free(&m);
    model_free(&got);
    free(dir);
}

/*
 * Write records one at a time, remembering the log's size and the model
 * after each, then cut a copy of the log at every offset inside the last
 * records.  Recovery must give the model as of the last whole record, say
 * how much it dropped, and leave a log that reopens cleanly.
 */
static void
test_torn(void)
{
    enum { N = 40, LAST = 10 };
    char *dir = fresh_dir("torn"), *cut = path(root, "torn-cut"), *from, *to, err[512],
         why[8192] = "", text[64], report[4096];
    struct ts_journal_replay rep;
    struct model m = {0}, at[N + 1];
    off_t size[N + 1], off;
    struct ts_journal *j;
    unsigned tried = 0, bad = 0;
    int k, b, rc;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL) {
        ok(0, "torn tail", "open: %s", err);
        return;
    }
    size[0] = file_size(dir, LOG1);
    model_copy(&at[0], &m);
    for (k = 1; k <= N; k++) {
        snprintf(text, sizeof text, "[\"torn\",%d,\"%.*s\"]", k, k % 9, "xxxxxxxxx");
        if (k % 5 == 0)
            do_del(j, &m, (uint64_t)k - 3);
        else
            do_out(j, &m, (uint64_t)k, k % 3 == 0 ? (uint64_t)k * 1000 : 0, text);
        ts_journal_write(j);
        size[k] = file_size(dir, LOG1);
        model_copy(&at[k], &m);
    }
    ts_journal_close(j);
    from = path(dir, LOG1);
    to = path(cut, LOG1);
    for (off = size[N - LAST]; off < size[N]; off++) {
        for (b = N; size[b] > off; b--)
            ;
        tried++;
        if (copy_dir(dir, cut) < 0 || copy_file(from, to, off) < 0) {
            snprintf(why, sizeof why, "cannot copy the log");
            bad++;
            break;
        }
        rc = ts_journal_check(cut, 0, report, sizeof report);
        if (rc != 0 || (off != size[b] && strstr(report, "torn tail") == NULL)) {
            if (bad++ == 0)
                snprintf(why, sizeof why, "cut at %jd: check gave %d:\n%s", (intmax_t)off, rc,
                         report);
            continue;
        }
        if (!reopen_same(cut, &at[b], &rep, err, sizeof err) ||
            rep.dropped != (uint64_t)(off - size[b])) {
            if (bad++ == 0)
                snprintf(why, sizeof why, "cut at %jd (record boundary %jd): %s; dropped %" PRIu64,
                         (intmax_t)off, (intmax_t)size[b], err, rep.dropped);
            continue;
        }
        if (!reopen_same(cut, &at[b], &rep, err, sizeof err) || rep.dropped != 0 ||
            file_size(cut, LOG1) != size[b]) {
            if (bad++ == 0)
                snprintf(why, sizeof why, "cut at %jd: second open: %s", (intmax_t)off, err);
        }
    }
    ok(bad == 0 && tried > 100,
       "torn tail: a log cut at every offset in its last 10 records gives a prefix",
       "%u of %u "
       "offsets failed; first: %s",
       bad, tried, why);
    for (k = 0; k <= N; k++)
        model_free(&at[k]);
    model_free(&m);
    free(from);
    free(to);
    free(cut);
    free(dir);
}

/* A crash just after a segment was created can leave part of its header. */
static void
test_torn_header(void)
{
    char *dir = fresh_dir("torn-header"), *cut = path(root, "torn-header-cut"), *from, *to,
         err[512], why[8192] = "";
    struct ts_journal_replay rep;
    struct model empty = {0};
    struct ts_journal *j;
    unsigned bad = 0;
    off_t off;

    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ts_journal_close(j);
    from = path(dir, LOG1);
    to = path(cut, LOG1);
    for (off = 0; off < file_size(dir, LOG1); off++) {
        copy_dir(dir, cut);
        copy_file(from, to, off);
        if (!reopen_same(cut, &empty, &rep, err, sizeof err) || rep.dropped != (uint64_t)off ||
            file_size(cut, LOG1) != file_size(dir, LOG1)) {
            if (bad++ == 0)
                snprintf(why, sizeof why, "cut at %jd: %s, dropped %" PRIu64, (intmax_t)off, err,
                         rep.dropped);
        }
    }
    ok(j != NULL && bad == 0, "torn tail: a segment header cut at every offset is rewritten", "%s",
       why);
    free(from);
    free(to);
    free(cut);
    free(dir);
}

/* A file system may show zeros where a crash cut the last write. */
static void
test_zero_tail(void)
{
    char *dir = fresh_dir("zero-tail"), err[512], why[8192] = "", zeros[300];
    struct ts_journal_replay rep;
    struct model m = {0};
    struct ts_journal *j;
    off_t size;
    int pass;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 1, 0, "[\"a\"]");
    do_out(j, &m, 2, 0, "[\"b\"]");
    ts_journal_close(j);
    size = file_size(dir, LOG1);
    memset(zeros, 0, sizeof zeros);
    patch_file(dir, LOG1, size, zeros, sizeof zeros);
    pass = reopen_same(dir, &m, &rep, why, sizeof why) && rep.dropped == sizeof zeros &&
           strstr(rep.note, LOG1) != NULL;
    ok(pass, "torn tail: zeros after the last record are cut off and reported", "%s; note '%s'",
       why, rep.note);
    model_free(&m);
    free(dir);
}

/* Write 10 records (outs, one deletion); size[k] is the log's size after k. */
static struct ts_journal *
ten_records(const char *dir, struct model *m, struct model *at, off_t *size)
{
    char err[512], text[32];
    struct ts_journal *j;
    int k;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL)
        return NULL;
    size[0] = file_size(dir, LOG1);
    model_copy(&at[0], m);
    for (k = 1; k <= 10; k++) {
        snprintf(text, sizeof text, "[\"rec\",%d]", k);
        if (k == 7)
            do_del(j, m, 2);
        else
            do_out(j, m, (uint64_t)k, 0, text);
        ts_journal_write(j);
        size[k] = file_size(dir, LOG1);
        model_copy(&at[k], m);
    }
    return j;
}

static void
test_corrupt(void)
{
    char *dir = fresh_dir("corrupt"), err[512], why[8192] = "", where[64], report[4096];
    struct model m = {0}, at[11];
    struct ts_journal *j;
    unsigned char byte;
    off_t size[11];
    int k, rc;

    j = ten_records(dir, &m, at, size);
    ts_journal_close(j);
    /* Flip a bit in the text of record 5 (of 10). */
    byte = 0;
    {
        size_t len;
        char *buf = read_file(dir, LOG1, &len);

        byte = (unsigned char)(buf[size[4] + 20] ^ 0x10);
        free(buf);
    }
    patch_file(dir, LOG1, size[4] + 20, &byte, 1);
    snprintf(where, sizeof where, "offset %jd", (intmax_t)size[4]);
    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, LOG1) != NULL && strstr(err, where) != NULL,
       "damage: a bad record in the middle makes open fail, naming the file and offset", "%s",
       j == NULL ? err : "open succeeded");
    ts_journal_close(j);

    rc = ts_journal_check(dir, 0, report, sizeof report);
    ok(rc == 1 && strstr(report, LOG1) != NULL && strstr(report, where) != NULL &&
           file_size(dir, LOG1) == size[10],
       "damage: check reports it, naming the file and offset, and changes nothing",
       "check gave %d:\n%s", rc, report);

    rc = ts_journal_check(dir, 1, report, sizeof report);
    ok(rc == 2 && file_size(dir, LOG1) == size[4] &&
           reopen_same(dir, &at[4], NULL, why, sizeof why),
       "damage: check --fix truncates the log at the bad record", "check gave %d, size %jd:\n%s%s",
       rc, (intmax_t)file_size(dir, LOG1), report, why);
    rc = ts_journal_check(dir, 0, report, sizeof report);
    ok(rc == 0, "damage: after the fix, check finds the directory sound", "check gave %d:\n%s", rc,
       report);
    for (k = 0; k <= 10; k++)
        model_free(&at[k]);
    model_free(&m);
    free(dir);
}

/* A length field corrupted to point past the end must not pass for a torn tail. */
static void
test_bad_length(void)
{
    char *dir = fresh_dir("bad-length"), err[512], where[64];
    unsigned char len[4] = {0x00, 0x10, 0x00, 0x00}; /* 4096: past the end of the file */
    struct model m = {0}, at[11];
    struct ts_journal *j;
    off_t size[11];
    int k;

    j = ten_records(dir, &m, at, size);
    ts_journal_close(j);
    patch_file(dir, LOG1, size[3] + 4, len, sizeof len);
    snprintf(where, sizeof where, "offset %jd", (intmax_t)size[3]);
    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, where) != NULL,
       "damage: a record whose length runs past the end, with records after it, is damage", "%s",
       j == NULL ? err : "open succeeded (dropped the records after it as a torn tail?)");
    ts_journal_close(j);
    for (k = 0; k <= 10; k++)
        model_free(&at[k]);
    model_free(&m);
    free(dir);
}

static void
test_unknown_del(void)
{
    char *dir = fresh_dir("unknown-del"), err[512], where[64];
    struct ts_journal *j;
    off_t size;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    ts_journal_out(j, 1, 0, "[1]", 3);
    ts_journal_write(j);
    size = file_size(dir, LOG1);
    ts_journal_del(j, 99, 3);
    ts_journal_out(j, 2, 0, "[2]", 3);
    ts_journal_close(j);
    snprintf(where, sizeof where, "offset %jd", (intmax_t)size);
    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, where) != NULL && strstr(err, "seq 99") != NULL,
       "damage: deleting a seq that is not stored is refused at replay", "%s",
       j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    free(dir);
}

static void
test_compact(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    char *dir = fresh_dir("compact"), err[512], why[8192] = "", msg[512], text[64];
    struct ts_journal_stats st;
    struct model m = {0};
    struct ts_journal *j;
    uint64_t seq;
    int rc;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL) {
        ok(0, "compaction", "open: %s", err);
        return;
    }
    for (seq = 1; seq <= 3000; seq++) {
        snprintf(text, sizeof text, "[\"c\",%" PRIu64 ",\"some text to make it longer\"]", seq);
        do_out(j, &m, seq, seq % 7 == 0 ? seq : 0, text);
        if (seq % 3 != 0)
            do_del(j, &m, seq);
    }
    ts_journal_sync(j);
    rc = ts_journal_compact(j, msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(rc == 0 && st.compacting && file_exists(dir, LOG2),
       "compaction: starts a thread and a new segment", "rc %d errno %s: %s", rc, strerror(errno),
       msg);
    errno = 0;
    ok(ts_journal_compact(j, msg, sizeof msg) < 0 && errno == EBUSY,
       "compaction: only one at a time", "errno %d", errno);
    /* While the thread writes, the daemon goes on: these go to segment 2. */
    for (seq = 3001; seq <= 3100; seq++) {
        snprintf(text, sizeof text, "[\"d\",%" PRIu64 "]", seq);
        do_out(j, &m, seq, 0, text);
    }
    do_del(j, &m, 3);    /* in the snapshot */
    do_del(j, &m, 3050); /* in segment 2 */
    ts_journal_sync(j);
    rc = finish_compaction(j, msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(rc == 0 && file_exists(dir, SNAP1) && !file_exists(dir, LOG1) && file_exists(dir, LOG2) &&
           st.compactions == 1 && st.snapshot == 1 && st.segment == 2 && !st.compacting,
       "compaction: its success removes the segments the snapshot covers",
       "rc %d: %s; compactions %" PRIu64, rc, msg, st.compactions);
    ok(ts_journal_close(j) == 0 && reopen_same(dir, &m, NULL, why, sizeof why),
       "compaction: reopening gives the same tuples in the same order", "%s", why);

    /* Again, over a snapshot: the older one goes. */
    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 4000, 0, "[\"e\"]");
    do_del(j, &m, 6);
    ts_journal_sync(j);
    rc = ts_journal_compact(j, msg, sizeof msg);
    if (rc == 0)
        rc = finish_compaction(j, msg, sizeof msg);
    ok(rc == 0 && file_exists(dir, SNAP2) && !file_exists(dir, SNAP1) && !file_exists(dir, LOG2) &&
           file_exists(dir, LOG3),
       "compaction: a second one replaces the first snapshot", "rc %d: %s", rc, msg);
    do_out(j, &m, 4001, 0, "[\"f\"]");
    ok(ts_journal_close(j) == 0 && reopen_same(dir, &m, NULL, why, sizeof why),
       "compaction: and reopening still gives the same tuples", "%s", why);
    model_free(&m);
    free(dir);
}

/*
 * Tuples bound to a process (type 5): laid out as documented, replayed
 * with their owner and deadline, kept so by a compaction, and counted by
 * the check.
 */
static void
test_owned(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    char *dir = fresh_dir("owned"), err[512], why[8192] = "", msg[512], report[4096];
    unsigned char rec[128];
    struct model m = {0};
    struct ts_journal *j;
    size_t len, body;
    char *buf;
    int rc;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL) {
        ok(0, "owned", "open: %s", err);
        free(dir);
        return;
    }
    do_out_owned(j, &m, 1, 0, 4242, 123456789, "[\"o\"]");
    ts_journal_close(j);
    /* u32 crc, u32 length, u8 type, u64 seq, u64 deadline, u64 start, u64 boot, u32 pid, text. */
    body = 9 + 8 + 8 + 8 + 4 + 5;
    le32(rec + 4, (uint32_t)body);
    rec[8] = 5;
    le64(rec + 9, 1);
    le64(rec + 17, 0);
    le64(rec + 25, 123456789);
    le64(rec + 33, 0xb007);
    le32(rec + 41, 4242);
    memcpy(rec + 45, "[\"o\"]", 5);
    le32(rec, ts_crc32c(0, rec + 4, body + 4));
    buf = read_file(dir, LOG1, &len);
    ok(buf != NULL && len == 36 + 8 + body && memcmp(buf + 36, rec, 8 + body) == 0,
       "owned: an out bound to a process is laid out as documented", "%zu bytes", len);
    free(buf);

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 2, 0, "[\"plain\"]");
    do_out_owned(j, &m, 3, 1800000000000000000u, 7, 99, "[\"both\"]");
    do_out(j, &m, 4, 1800000000000000001u, "[\"timed\"]");
    do_out_owned(j, &m, 5, 0, 8, 100, "[\"gone\"]");
    do_del(j, &m, 5);
    ts_journal_close(j);
    ok(reopen_same(dir, &m, NULL, why, sizeof why),
       "owned: replay hands back each tuple's owner and deadline", "%s", why);
    rc = ts_journal_check(dir, 0, report, sizeof report);
    ok(rc == 0 && strstr(report, "of them 2 with a deadline, 2 bound to a process") != NULL,
       "owned: the check counts the tuples with a deadline and with a process", "rc %d: %s", rc,
       report);

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    rc = ts_journal_compact(j, msg, sizeof msg);
    if (rc == 0)
        rc = finish_compaction(j, msg, sizeof msg);
    ok(rc == 0 && file_exists(dir, SNAP1) && ts_journal_close(j) == 0 &&
           reopen_same(dir, &m, NULL, why, sizeof why),
       "owned: a compaction's snapshot keeps owners and deadlines", "rc %d: %s %s", rc, msg, why);
    model_free(&m);
    free(dir);
}

/*
 * A crash after the thread renamed its snapshot, before the journal removed
 * what it covers, leaves both; so does one that came earlier still, with
 * a .tmp.  Copying the directory at that moment makes the crash.
 */
static void
test_crash_after_rename(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    char *dir = fresh_dir("crash"), *copy = path(root, "crash-copy"), *junk, err[512],
         why[8192] = "", msg[512], text[64];
    struct ts_journal_replay rep;
    struct model m = {0};
    struct ts_journal *j;
    uint64_t seq;
    int fd, rc;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    for (seq = 1; seq <= 200; seq++) {
        snprintf(text, sizeof text, "[\"k\",%" PRIu64 "]", seq);
        do_out(j, &m, seq, 0, text);
        if (seq % 2 == 0)
            do_del(j, &m, seq - 1);
    }
    ts_journal_sync(j);
    rc = ts_journal_compact(j, msg, sizeof msg);
    do_out(j, &m, 201, 0, "[\"after\"]");
    ts_journal_sync(j);
    /* Renamed, and not yet seen by tick, which alone removes the old files. */
    if (rc == 0)
        rc = wait_file(dir, SNAP1);
    copy_dir(dir, copy);
    junk = path(copy, "snap.0000000007.tmp");
    fd = open(junk, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) {
        if (write(fd, "half a snapshot", 15) < 0)
            rc = -1;
        close(fd);
    }
    ok(rc == 0 && file_exists(copy, SNAP1) && file_exists(copy, LOG1) && file_exists(copy, LOG2),
       "crash after rename: snapshot and the segments it covers are both there", "rc %d", rc);
    ok(reopen_same(copy, &m, &rep, why, sizeof why) &&
           strstr(rep.note, "removed 2 files left by an interrupted compaction") != NULL &&
           !file_exists(copy, LOG1) && !file_exists(copy, "snap.0000000007.tmp") &&
           file_exists(copy, SNAP1),
       "crash after rename: recovery uses the snapshot and removes the left-overs", "%s; note '%s'",
       why, rep.note);
    finish_compaction(j, msg, sizeof msg);
    ts_journal_close(j);
    model_free(&m);
    free(junk);
    free(copy);
    free(dir);
}

static void
test_auto_compact(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_BATCH, 10, 4096, 2, 1};
    char *dir = fresh_dir("auto"), err[512], why[8192] = "", msg[512], text[64];
    struct ts_journal_stats st;
    struct model m = {0};
    struct ts_journal *j;
    uint64_t seq, now;
    int rc, before;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    for (seq = 1; seq <= 100; seq++) {
        snprintf(text, sizeof text, "[\"auto\",%" PRIu64 "]", seq);
        do_out(j, &m, seq, 0, text);
    }
    ts_journal_write(j);
    ts_journal_stats(j, &st);
    before = ts_journal_next_sync(j) > 0 && !st.compacting;
    for (seq = 1; seq <= 90; seq++)
        do_del(j, &m, seq);
    ts_journal_write(j);
    now = ts_journal_next_sync(j);
    rc = ts_journal_tick(j, now, msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(before && now == 0 && rc == 1 && st.compacting,
       "compaction: due once the log is twice the live data, and started by tick",
       "before %d next %" PRIu64 " rc %d: %s", before, now, rc, msg);
    rc = finish_compaction(j, msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(rc == 0 && st.log_bytes < 4096 && ts_journal_next_sync(j) == UINT64_MAX,
       "compaction: afterwards the log is small and nothing is due",
       "rc %d, %" PRIu64 " bytes, next %" PRIu64 ": %s", rc, st.log_bytes, ts_journal_next_sync(j),
       msg);
    ts_journal_close(j);
    ok(reopen_same(dir, &m, NULL, why, sizeof why), "compaction: started by tick, and reopened",
       "%s", why);
    model_free(&m);
    free(dir);
}

static void
test_child_fails(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_ALWAYS, 0, 1024, 0, 1};
    char *dir = fresh_dir("child-fails"), err[512], why[8192] = "", msg[512], text[64];
    struct ts_journal_stats st;
    struct model m = {0};
    struct ts_journal *j;
    uint64_t seq, next;
    int rc;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    for (seq = 1; seq <= 100; seq++) {
        snprintf(text, sizeof text, "[\"fail\",%" PRIu64 "]", seq);
        do_out(j, &m, seq, 0, text);
        if (seq <= 90)
            do_del(j, &m, seq);
    }
    ts_journal_sync(j);
    ts_journal_fail_after(j, 100); /* the thread starts with it: its snapshot cannot be written */
    rc = ts_journal_compact(j, msg, sizeof msg);
    ts_journal_fail_after(j, -1);
    if (rc == 0)
        rc = finish_compaction(j, msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(rc == -1 && strstr(msg, strerror(ENOSPC)) != NULL && !file_exists(dir, SNAP1) &&
           !file_exists(dir, "snap.0000000001.tmp") && file_exists(dir, LOG1) &&
           st.compact_failures == 1 && st.compactions == 0,
       "compaction: one that fails keeps the old files and says why", "rc %d: %s", rc, msg);
    next = ts_journal_next_sync(j);
    rc = ts_journal_tick(j, mono_ns(), msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(next != UINT64_MAX && next > mono_ns() + 4000000000u && rc == 0 && !st.compacting,
       "compaction: after a failure, the retry waits a few seconds",
       "next in %" PRId64 " ns, tick %d", (int64_t)(next - mono_ns()), rc);
    do_out(j, &m, 101, 0, "[\"still\"]");
    ok(ts_journal_close(j) == 0 && reopen_same(dir, &m, NULL, why, sizeof why),
       "compaction: the journal goes on after a failed compaction", "%s", why);
    model_free(&m);
    free(dir);
}

/*
 * Close while the thread works: whether it got to the rename or not, no
 * .tmp is left and the journal is whole.
 */
static void
test_close_stops(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_NONE, 0, 0, 0, 0};
    char *dir = fresh_dir("close-stops"), err[512], why[8192] = "", msg[512], text[64];
    struct model m = {0};
    struct ts_journal *j;
    uint64_t seq;
    int rc;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    for (seq = 1; seq <= 50000; seq++) {
        snprintf(text, sizeof text, "[\"big\",%" PRIu64 ",\"a longer text than most\"]", seq);
        do_out(j, &m, seq, 0, text);
        if (seq % 2 == 0)
            do_del(j, &m, seq);
    }
    ts_journal_write(j);
    rc = ts_journal_compact(j, msg, sizeof msg);
    do_out(j, &m, 50001, 0, "[\"after\"]");
    rc = rc == 0 ? ts_journal_close(j) : -1;
    ok(rc == 0 && !file_exists(dir, "snap.0000000001.tmp") &&
           reopen_same(dir, &m, NULL, why, sizeof why),
       "compaction: close stops one in progress, and the journal is whole", "rc %d: %s", rc, why);
    model_free(&m);
    free(dir);
}

/*
 * Failed compactions leave several segments; one missing in the middle
 * means lost records, which open refuses and --fix cuts at.
 */
static void
test_gap(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    char *dir = fresh_dir("gap"), *p, err[512], why[8192] = "", msg[512], report[4096];
    struct model m = {0}, m1 = {0};
    struct ts_journal *j;
    int rc, i;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 1, 0, "[1]");
    model_copy(&m1, &m);
    for (i = 2; i <= 3; i++) {
        ts_journal_sync(j);
        ts_journal_fail_after(j, 0);
        if (ts_journal_compact(j, msg, sizeof msg) == 0)
            finish_compaction(j, msg, sizeof msg);
        ts_journal_fail_after(j, -1);
        do_out(j, &m, (uint64_t)i, 0, i == 2 ? "[2]" : "[3]");
    }
    ts_journal_close(j);
    p = path(dir, LOG2);
    unlink(p);
    free(p);
    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, LOG2) != NULL && strstr(err, "missing") != NULL,
       "damage: a missing segment between others is refused, naming it", "%s",
       j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    rc = ts_journal_check(dir, 1, report, sizeof report);
    ok(rc == 2 && !file_exists(dir, LOG3) && reopen_same(dir, &m1, NULL, why, sizeof why),
       "damage: check --fix drops the segments after the gap", "rc %d:\n%s%s", rc, report, why);
    model_free(&m);
    model_free(&m1);
    free(dir);
}

/* Only the last segment may have a torn tail. */
static void
test_torn_not_last(void)
{
    struct ts_journal_opts o = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    char *dir = fresh_dir("torn-not-last"), *p, err[512], msg[512];
    struct model m = {0};
    struct ts_journal *j;
    off_t size;

    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 1, 0, "[\"one\"]");
    do_out(j, &m, 2, 0, "[\"two\"]");
    ts_journal_sync(j);
    ts_journal_fail_after(j, 0);
    if (ts_journal_compact(j, msg, sizeof msg) == 0)
        finish_compaction(j, msg, sizeof msg);
    ts_journal_fail_after(j, -1);
    do_out(j, &m, 3, 0, "[\"three\"]");
    ts_journal_close(j);
    size = file_size(dir, LOG1);
    p = path(dir, LOG1);
    if (truncate(p, size - 3) < 0)
        size = -1;
    free(p);
    j = ts_journal_open(dir, &o, NULL, NULL, NULL, err, sizeof err);
    ok(size > 0 && j == NULL && strstr(err, LOG1) != NULL,
       "damage: a torn record in a segment that is not the last is refused", "%s",
       j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    model_free(&m);
    free(dir);
}

static void
test_lock(void)
{
    char *dir = fresh_dir("lock"), err[512], want[64];
    struct ts_journal *j, *j2;

    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    j2 = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    snprintf(want, sizeof want, "in use by tsd pid %ld", (long)getpid());
    ok(j != NULL && j2 == NULL && strstr(err, want) != NULL,
       "lock: a second open fails, naming the pid that holds it", "%s", err);
    ts_journal_close(j2);
    ts_journal_close(j);
    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j != NULL, "lock: released by close", "%s", err);
    ts_journal_close(j);
    free(dir);
}

/* tsd -d: the child of a fork keeps the lock after the parent lets go, and says so. */
static void
test_lock_fork(void)
{
    char *dir = fresh_dir("lock-fork"), err[512] = "", want[64], c;
    int ready[2], go[2], status, pass;
    struct ts_journal *j, *j2;
    pid_t pid;

    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL || pipe(ready) < 0 || pipe(go) < 0) {
        ok(0, "lock across fork", "%s", err);
        return;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        ts_journal_set_pid(j);
        free(dir);
        if (write(ready[1], "x", 1) < 0 || read(go[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    pass = pid > 0 && read(ready[0], &c, 1) == 1;
    ts_journal_close(j); /* the parent of tsd -d exits */
    j2 = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    snprintf(want, sizeof want, "in use by tsd pid %ld", (long)pid);
    ok(pass && j2 == NULL && strstr(err, want) != NULL,
       "lock: kept by a forked child after the parent closes, and naming the child", "%s", err);
    ts_journal_close(j2);
    close(go[1]);
    waitpid(pid, &status, 0);
    close(ready[0]);
    j2 = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j2 != NULL, "lock: free once the child is gone", "%s", err);
    ts_journal_close(j2);
    free(dir);
}

static void
test_dir_checks(void)
{
    char *dir = fresh_dir("real"), *link = fresh_dir("link"), *slash, *file, err[512];
    struct ts_journal *j;
    int fd;

    mkdir(dir, 0700);
    if (symlink(dir, link) < 0)
        fprintf(stderr, "journal-test: symlink: %s\n", strerror(errno));
    j = ts_journal_open(link, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "symbolic link") != NULL, "directory: a symbolic link is refused",
       "%s", j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    slash = path(link, "");
    j = ts_journal_open(slash, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "symbolic link") != NULL,
       "directory: a symbolic link is refused with a slash after it too", "%s",
       j == NULL ? err : "open succeeded");
    ts_journal_close(j);

    chmod(dir, 0770);
    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "writable by its group") != NULL,
       "directory: a group-writable one is refused", "%s", j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    chmod(dir, 0702);
    j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "writable by others") != NULL,
       "directory: an other-writable one is refused", "%s", j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    chmod(dir, 0700);

    if (geteuid() == 0) {
        /* As root, give it away; as anyone else, "/" belongs to someone else. */
        if (chown(dir, 1, 1) < 0)
            fprintf(stderr, "journal-test: chown: %s\n", strerror(errno));
        j = ts_journal_open(dir, NULL, NULL, NULL, NULL, err, sizeof err);
        if (chown(dir, 0, 0) < 0)
            fprintf(stderr, "journal-test: chown: %s\n", strerror(errno));
    } else
        j = ts_journal_open("/", NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "owned by uid") != NULL,
       "directory: one owned by another user is refused", "%s", j == NULL ? err : "open succeeded");
    ts_journal_close(j);

    file = path(root, "plain-file");
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
    j = ts_journal_open(file, NULL, NULL, NULL, NULL, err, sizeof err);
    ok(j == NULL && strstr(err, "not a directory") != NULL, "directory: a plain file is refused",
       "%s", j == NULL ? err : "open succeeded");
    ts_journal_close(j);
    free(file);
    free(slash);
    free(link);
    free(dir);
}

static void
test_fault(void)
{
    char *dir = fresh_dir("fault"), err[512], why[8192] = "", big[200], *before, *after;
    size_t blen = 0, alen = 0;
    struct model m = {0};
    struct ts_journal *j;
    int rc, e, e2, rc2;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 1, 0, "[\"before\"]");
    do_del(j, &m, 1);
    do_out(j, &m, 2, 0, "[\"kept\"]");
    ts_journal_write(j);
    before = read_file(dir, LOG1, &blen);

    memset(big, 'x', sizeof big);
    big[0] = '[';
    big[1] = '"';
    memcpy(big + sizeof big - 2, "\"]", 2);
    ts_journal_fail_after(j, 30); /* part of the record gets written */
    ts_journal_out(j, 3, 0, big, sizeof big);
    ts_journal_del(j, 2, 8);
    rc = ts_journal_write(j);
    e = errno;
    after = read_file(dir, LOG1, &alen);
    ok(rc == -1 && e == ENOSPC && alen == blen && memcmp(before, after, blen) == 0,
       "write fault: a short write fails with ENOSPC and leaves the file as it was",
       "rc %d errno %s; size %zu, was %zu", rc, strerror(e), alen, blen);
    free(after);

    ts_journal_out(j, 3, 0, "[\"again\"]", 9);
    rc2 = ts_journal_write(j);
    e2 = errno;
    after = read_file(dir, LOG1, &alen);
    ok(rc2 == -1 && e2 == ENOSPC && alen == blen && memcmp(before, after, blen) == 0,
       "write fault: while the disk stays full, writes keep failing cleanly",
       "rc %d errno %s; size %zu", rc2, strerror(e2), alen);
    free(after);

    ts_journal_fail_after(j, -1);
    /* The failed records were dropped, so seq 3 is free again. */
    rc = do_out(j, &m, 3, 0, "[\"after\"]");
    if (rc == 0)
        rc = ts_journal_write(j);
    ok(rc == 0 && ts_journal_close(j) == 0 && reopen_same(dir, &m, NULL, why, sizeof why),
       "write fault: once space is back, writes succeed and replay has no trace of the failure",
       "rc %d: %s", rc, why);
    free(before);
    model_free(&m);
    free(dir);
}

static void
test_fault_env(void)
{
    char *dir = fresh_dir("fault-env"), err[512], text[120];
    struct ts_journal *j;
    int rc1, rc2, e;

    memset(text, 'y', sizeof text);
    setenv("TS_JOURNAL_FAIL_AFTER", "200", 1);
    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    unsetenv("TS_JOURNAL_FAIL_AFTER");
    if (j == NULL) {
        ok(0, "write fault from the environment", "%s", err);
        free(dir);
        return;
    }
    ts_journal_out(j, 1, 0, text, sizeof text);
    rc1 = ts_journal_write(j);
    ts_journal_out(j, 2, 0, text, sizeof text);
    rc2 = ts_journal_write(j);
    e = errno;
    ok(rc1 == 0 && rc2 == -1 && e == ENOSPC && file_size(dir, LOG1) == 36 + 137,
       "write fault: TS_JOURNAL_FAIL_AFTER sets the limit at open", "rc %d %d errno %d size %jd",
       rc1, rc2, e, (intmax_t)file_size(dir, LOG1));
    ts_journal_close(j);
    free(dir);
}

static void
test_sync(void)
{
    struct ts_journal_opts ob = {TS_JOURNAL_BATCH, 50, 0, 0, 0};
    struct ts_journal_opts oa = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    char *dir = fresh_dir("sync"), err[512], msg[256];
    struct ts_journal_stats st;
    struct ts_journal *j;
    uint64_t next;
    int rc1, rc2, dirty1, dirty2;

    j = ts_journal_open(dir, &ob, NULL, NULL, NULL, err, sizeof err);
    ts_journal_out(j, 1, 0, "[1]", 3);
    ts_journal_write(j);
    dirty1 = ts_journal_dirty(j);
    next = ts_journal_next_sync(j);
    rc1 = ts_journal_tick(j, next - 1, msg, sizeof msg);
    dirty2 = ts_journal_dirty(j);
    rc2 = ts_journal_tick(j, next, msg, sizeof msg);
    ts_journal_stats(j, &st);
    ok(dirty1 && next != UINT64_MAX && rc1 == 0 && dirty2 && rc2 == 0 && !ts_journal_dirty(j) &&
           st.syncs == 1 && st.last_sync.tv_sec > 0 && ts_journal_next_sync(j) == UINT64_MAX,
       "sync: batch syncs when the interval is up, not before",
       "dirty %d %d rc %d %d syncs %" PRIu64, dirty1, dirty2, rc1, rc2, st.syncs);
    ts_journal_close(j);

    j = ts_journal_open(dir, &oa, NULL, NULL, NULL, err, sizeof err);
    ts_journal_out(j, 2, 0, "[2]", 3);
    ts_journal_out(j, 3, 0, "[3]", 3);
    ts_journal_write(j);
    ts_journal_out(j, 4, 0, "[4]", 3);
    dirty1 = ts_journal_dirty(j);
    rc1 = ts_journal_sync(j);
    ts_journal_stats(j, &st);
    ok(dirty1 && rc1 == 0 && !ts_journal_dirty(j) && st.syncs == 1 && st.buffered == 0 &&
           ts_journal_next_sync(j) == UINT64_MAX,
       "sync: always: one sync covers the iteration's writes", "rc %d syncs %" PRIu64, rc1,
       st.syncs);
    ts_journal_close(j);

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    ts_journal_out(j, 5, 0, "[5]", 3);
    ts_journal_write(j);
    ts_journal_stats(j, &st);
    ok(ts_journal_next_sync(j) == UINT64_MAX && st.syncs == 0 && st.dirty,
       "sync: none never asks for a sync", "syncs %" PRIu64, st.syncs);
    ts_journal_close(j);
    free(dir);
}

static void
test_check_sound(void)
{
    char *dir = fresh_dir("check"), *missing = path(root, "no-such-dir"), err[512], report[4096];
    struct model m = {0};
    struct ts_journal *j;
    int rc;

    j = ts_journal_open(dir, &opts_none, NULL, NULL, NULL, err, sizeof err);
    do_out(j, &m, 1, 0, "[\"a\"]");
    do_out(j, &m, 2, 0, "[\"b\"]");
    do_del(j, &m, 1);
    ts_journal_write(j);
    rc = ts_journal_check(dir, 0, report, sizeof report);
    ok(rc == 0 && strstr(report, "in use by tsd pid") != NULL &&
           strstr(report, "1 live tuples") != NULL,
       "check: a sound directory in use is described, and its user named", "rc %d:\n%s", rc,
       report);
    ts_journal_close(j);
    rc = ts_journal_check(dir, 0, report, sizeof report);
    ok(rc == 0 && strstr(report, "3 records") != NULL && strstr(report, LOG1) != NULL,
       "check: a sound directory gives 0 and counts its records", "rc %d:\n%s", rc, report);
    rc = ts_journal_check(missing, 0, report, sizeof report);
    ok(rc == -1 && strstr(report, "no-such-dir") != NULL && !file_exists(root, "no-such-dir"),
       "check: a missing directory cannot be checked, and is not created", "rc %d:\n%s", rc,
       report);
    model_free(&m);
    free(missing);
    free(dir);
}

int
main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[4096];

    /* DIR, the case tables of the other unit tests: there are none for this one. */
    if (argc != 2) {
        fprintf(stderr, "usage: journal-test DIR\n");
        return 1;
    }
    (void)argv;
    /* Our own compaction children are reaped by hand; nothing else is expected. */
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpl, sizeof tmpl, "%s/journal-test.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    root = mkdtemp(tmpl);
    if (root == NULL) {
        fprintf(stderr, "journal-test: cannot make a directory in %s: %s\n", tmpl, strerror(errno));
        return 1;
    }

    test_crc();
    test_format();
    test_create();
    test_round_trip();
    test_torn();
    test_torn_header();
    test_zero_tail();
    test_corrupt();
    test_bad_length();
    test_unknown_del();
    test_compact();
    test_owned();
    test_crash_after_rename();
    test_auto_compact();
    test_child_fails();
    test_close_stops();
    test_gap();
    test_torn_not_last();
    test_lock();
    test_lock_fork();
    test_dir_checks();
    test_fault();
    test_fault_env();
    test_sync();
    test_check_sound();

    printf("1..%u\n", test_no);
    printf("# %u of %u tests failed\n", failed, test_no);
    if (failed == 0)
        rm_rf(root);
    else
        printf("# files left in %s\n", root);
    return failed == 0 ? 0 : 1;
}
