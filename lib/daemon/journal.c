/*
 * journal.c: the durable space's log, snapshots and recovery (see journal.h).
 *
 * Recovery keeps one array of entries, sorted by seq because the snapshot is
 * written in seq order and every later out has a higher seq than anything
 * before it; a deletion finds its entry by binary search and marks it dead,
 * and dead entries are squeezed out when they are half the array.  Entries
 * point into the files, which are mapped read-only until the callback has
 * seen every survivor, so replay copies no tuple text.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crc32c.h"
#include "journal.h"
#include "mem.h"

#define MAGIC "TSJOURNL"
#define VERSION 1
#define KIND_LOG 1
#define KIND_SNAP 2
#define HDR_SIZE 36

#define REC_HEAD 8    /* crc and length */
#define BODY_MIN 9    /* type and seq */
#define OWNER_SIZE 20 /* start, boot and pid of a process (REC_OUTP) */
#define BODY_MAX (BODY_MIN + 8 + OWNER_SIZE + TS_JOURNAL_MAX_TEXT)
#define REC_OUT 1
#define REC_OUTD 2
#define REC_DEL 3
#define REC_END 4
#define REC_OUTP 5 /* an out with a deadline (maybe 0) and the process it lives with */
#define REC_LAST REC_OUTP

#define SEQ_LIMIT ((uint64_t)1 << 63)
#define NS_PER_MS 1000000u
#define NS_PER_S 1000000000u

#define DEFAULT_BATCH_MS 100
#define DEFAULT_COMPACT_MIN ((uint64_t)1 << 20)
#define DEFAULT_RATIO 2
#define BACKOFF_MIN ((uint64_t)5 * NS_PER_S)
#define BACKOFF_MAX ((uint64_t)300 * NS_PER_S)
/* How often tick looks whether the compaction thread is done. */
#define JOB_POLL ((uint64_t)50 * NS_PER_MS)

/*
 * How much checksumming the search for a well-formed record after a bad one
 * may do.  A torn tail is short, so the search ends quickly; garbage long
 * enough to exhaust this is called damage, which is the safe mistake.
 */
#define RESYNC_BUDGET ((uint64_t)64 << 20)
/* The compaction thread writes the snapshot in pieces of about this size. */
#define SNAP_CHUNK ((size_t)1 << 20)
/* A write buffer that grew past this is freed after use. */
#define OUT_KEEP ((size_t)4 << 20)

#define NAME_MAX_LEN 48

enum { BAD_NONE, BAD_TORN, BAD_DAMAGE };

struct job;

struct ts_journal {
    char *dir;                 /* as given, for messages */
    int dfd;                   /* the directory */
    int lockfd;                /* DIR/lock, held with flock */
    int fd;                    /* the segment being appended to */
    int prev_fd;               /* the one before it, until synced, or -1 */
    uint64_t seg;              /* its number */
    uint64_t off;              /* its length: the end of its last good record */
    uint64_t first;            /* the oldest segment recovery needs */
    uint64_t snap;             /* the newest snapshot, 0 when there is none */
    uint64_t older;            /* bytes of that snapshot and of the segments before seg */
    struct ts_journal_opts o;  /* with the defaults filled in */
    struct ts_buf out;         /* records appended and not yet written */
    uint64_t hiseq;            /* highest seq appended ... */
    uint64_t hiseq_written;    /* ... and the same as of the last good write */
    uint64_t live;             /* estimated snapshot size, as appended ... */
    uint64_t live_written;     /* ... and as of the last good write */
    int dirty;                 /* written since the last sync */
    uint64_t dirty_since;      /* CLOCK_MONOTONIC ns of the first such write */
    int dir_dirty;             /* a segment was created since the directory was synced */
    int broken;                /* errno of a failure that left the log untrustworthy */
    int64_t budget;            /* fault hook: bytes writes may still write, -1 for no limit */
    char *fail_while;          /* fault hook: writes fail while this file exists, or NULL */
    struct job *job;           /* the compaction in progress, or NULL */
    uint64_t job_poll;         /* when tick next looks whether it is done */
    uint64_t retry_at;         /* no compaction before this (CLOCK_MONOTONIC ns) */
    uint64_t backoff;          /* pause after the next failure */
    uint64_t compactions;      /* finished since open */
    uint64_t failures;         /* compactions that failed since open */
    uint64_t syncs;            /* fdatasyncs since open */
    struct timespec last_sync; /* CLOCK_REALTIME of the last one */
};

/* One file during recovery or a check. */
struct rfile {
    char name[NAME_MAX_LEN];
    uint64_t num;
    int snap; /* a snapshot, not a log segment */
    int fd;
    const unsigned char *map; /* its contents, or NULL when empty or not read */
    size_t size;
    size_t good;         /* end of its last good record */
    uint64_t hseq;       /* its header's seq */
    uint64_t outs, dels; /* records read */
    int read;            /* scanned (wholly or up to a problem) */
};

/* A tuple read from an out record. */
struct entry {
    uint64_t seq;
    uint64_t deadline;
    const char *text;
    uint32_t len;
    uint32_t dead : 1;
    uint32_t owned : 1; /* from a REC_OUTP: the owner's fields come just before text */
};

struct replay {
    const char *dir;
    int dfd;
    struct rfile *f; /* the snapshot, if any, then the segments after it */
    size_t nf;
    uint64_t snapnum; /* the snapshot used, 0 for none */
    uint64_t *logs;   /* every segment number present, sorted */
    size_t nlogs;
    uint64_t *snaps; /* every snapshot number present, sorted */
    size_t nsnaps;
    char **others; /* names of .tmp and unknown files */
    size_t nothers;
    struct entry *e; /* sorted by seq */
    size_t ne, ecap, ndead;
    uint64_t hiseq;
    uint64_t records;
    /* The first problem met; scanning stops there. */
    int bad;
    int fixable; /* --fix can truncate there */
    size_t bfile;
    uint64_t boff;
    char why[160];
};

/*
 * A compaction in progress: what its thread works from, copied so that it
 * shares nothing with the journal but the two flags and, once done is set,
 * the result.
 */
struct job {
    pthread_t thread;
    int dfd;           /* the directory, its own descriptor */
    int oldfd;         /* segment num, its own descriptor */
    int newfd;         /* segment num + 1, its own descriptor */
    char *dir;         /* for messages */
    char *fail_while;  /* the fault hook's switch, or NULL */
    uint64_t snap;     /* the snapshot it starts from, 0 for none */
    uint64_t first;    /* the first segment after that snapshot */
    uint64_t num;      /* the last segment it covers: it writes snap.num */
    uint64_t hiseq;    /* the highest seq given out when it started */
    int64_t budget;    /* the fault hook's allowance when it started */
    atomic_int cancel; /* set by ts_journal_close: stop and clean up */
    atomic_int done;   /* set by the thread as its last act */
    int ok;            /* snap.num is in place */
    char msg[300];     /* what happened, for the log */
};

/* A report being written into a caller's buffer. */
struct rep {
    char *p;
    size_t len, cap;
};

static void put32(unsigned char *p, uint32_t v);
static void put64(unsigned char *p, uint64_t v);
static uint32_t get32(const unsigned char *p);
static uint64_t get64(const unsigned char *p);
static uint64_t mono_now(void);
static void file_name(char *buf, const char *prefix, uint64_t n, const char *suffix);
static int parse_name(const char *s, const char *prefix, const char *suffix, uint64_t *num);
static void make_header(unsigned char *h, uint32_t kind, uint64_t num, uint64_t seq);
static int header_ok(const unsigned char *p, uint32_t kind, uint64_t num, uint64_t *seq,
                     const char **why);
static int header_prefix(const unsigned char *p, size_t n, uint32_t kind, uint64_t num);
static int all_zero(const unsigned char *p, size_t n);
static size_t record_ok(const unsigned char *p, size_t n, const char **why);
static int valid_after(const unsigned char *p, size_t from, size_t size);
static int write_all(int fd, const void *p, size_t n, uint64_t off, int64_t *budget);
static int disk_full(const char *fail_while);
static size_t extra_of(int type);
static int append_out(struct ts_journal *j, int type, uint64_t seq, uint64_t deadline,
                      const struct ts_journal_owner *owner, const char *text, size_t len);
static size_t add_record(struct ts_buf *b, int type, uint64_t seq, uint64_t deadline,
                         const struct ts_journal_owner *owner, const char *text, size_t len);
static void owner_of(const struct entry *e, struct ts_journal_owner *o);
static int open_dir(const char *dir, int create, int strict, char *err, size_t errlen);
static int take_lock(int dfd, const char *dir, char *err, size_t errlen);
static int lock_holder(int fd, const char *dir, char *err, size_t errlen);
static int write_pid(int fd);
static int create_segment(int dfd, uint64_t num, uint64_t seq);
static void replay_init(struct replay *r, const char *dir, int dfd);
static void replay_free(struct replay *r);
static int cmp_u64(const void *a, const void *b);
static int list_dir(struct replay *r, char *err, size_t errlen);
static void scan(struct replay *r);
static void scan_file(struct replay *r, size_t i, int last);
static void set_bad(struct replay *r, int bad, size_t file, uint64_t off, int fixable,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int apply(struct replay *r, struct rfile *f, const unsigned char *p, size_t n, int *ended,
                 const char **why, char *buf, size_t buflen);
static struct entry *find_entry(struct replay *r, uint64_t seq);
static void squeeze(struct replay *r);
static int repair_tail(struct replay *r, size_t i, uint64_t good, char *err, size_t errlen);
static unsigned remove_leftovers(struct replay *r);
static uint64_t record_cost(size_t len);
static int compact_due(const struct ts_journal *j);
static void schedule_retry(struct ts_journal *j);
static int finish_job(struct ts_journal *j, char *msg, size_t msglen);
static void free_job(struct job *c);
static void *compact_main(void *arg);
static int write_snapshot(struct job *c, struct replay *r, const char *tmp, uint64_t *bytes);
static void rep_printf(struct rep *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void describe(struct replay *r, struct rep *out);

/* ---- little helpers */

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

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void
file_name(char *buf, const char *prefix, uint64_t n, const char *suffix)
{
    snprintf(buf, NAME_MAX_LEN, "%s.%010" PRIu64 "%s", prefix, n, suffix);
}

/*
 * Parse PREFIX.NUMBER.SUFFIX.  Only the spelling file_name gives counts, so
 * that "log.1" and "log.0000000001" can never both stand for segment 1.
 */
static int
parse_name(const char *s, const char *prefix, const char *suffix, uint64_t *num)
{
    char canon[NAME_MAX_LEN];
    size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(s), i;
    uint64_t v = 0;

    if (n <= pl + 1 + sl || n >= NAME_MAX_LEN || strncmp(s, prefix, pl) != 0 || s[pl] != '.' ||
        strcmp(s + n - sl, suffix) != 0)
        return 0;
    for (i = pl + 1; i < n - sl; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    file_name(canon, prefix, v, suffix);
    if (v == 0 || strcmp(canon, s) != 0)
        return 0;
    *num = v;
    return 1;
}

static void
make_header(unsigned char *h, uint32_t kind, uint64_t num, uint64_t seq)
{
    memcpy(h, MAGIC, 8);
    put32(h + 8, VERSION);
    put32(h + 12, kind);
    put64(h + 16, num);
    put64(h + 24, seq);
    put32(h + 32, ts_crc32c(0, h, 32));
}

static int
header_ok(const unsigned char *p, uint32_t kind, uint64_t num, uint64_t *seq, const char **why)
{
    if (memcmp(p, MAGIC, 8) != 0)
        *why = "not a journal file (bad magic)";
    else if (get32(p + 32) != ts_crc32c(0, p, 32))
        *why = "header checksum mismatch";
    else if (get32(p + 8) != VERSION)
        *why = get32(p + 8) > VERSION ? "written by a newer version of tsd" : "unknown version";
    else if (get32(p + 12) != kind)
        *why = kind == KIND_LOG ? "a snapshot named as a log segment"
                                : "a log segment named as a snapshot";
    else if (get64(p + 16) != num)
        *why = "header names another file number";
    else if (get64(p + 24) >= SEQ_LIMIT)
        *why = "header seq out of range";
    else {
        *seq = get64(p + 24);
        return 1;
    }
    return 0;
}

/* Could these n < HDR_SIZE bytes be the start of the header we expect? */
static int
header_prefix(const unsigned char *p, size_t n, uint32_t kind, uint64_t num)
{
    unsigned char h[HDR_SIZE];

    make_header(h, kind, num, 0);
    /* The seq and the CRC cannot be predicted; the 24 bytes before them can. */
    return memcmp(p, h, n < 24 ? n : 24) == 0;
}

static int
all_zero(const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/*
 * The size of the well-formed record at p, with n bytes available, or 0
 * with *why saying what is wrong.  Well-formed means complete, of a known
 * type with a length that fits it, and with a matching CRC.
 */
static size_t
record_ok(const unsigned char *p, size_t n, const char **why)
{
    uint32_t len;
    int type;

    if (n < REC_HEAD) {
        *why = "record header cut short";
        return 0;
    }
    len = get32(p + 4);
    if (len < BODY_MIN || len > BODY_MAX) {
        *why = "bad record length";
        return 0;
    }
    if (len > n - REC_HEAD) {
        *why = "record cut short";
        return 0;
    }
    type = p[8];
    if (type < REC_OUT || type > REC_LAST) {
        *why = "unknown record type";
        return 0;
    }
    if (((type == REC_OUTD || type == REC_OUTP) && len < BODY_MIN + extra_of(type)) ||
        ((type == REC_DEL || type == REC_END) && len != BODY_MIN)) {
        *why = "record length wrong for its type";
        return 0;
    }
    if (get32(p) != ts_crc32c(0, p + 4, (size_t)len + 4)) {
        *why = "record checksum mismatch";
        return 0;
    }
    return REC_HEAD + len;
}

/*
 * Does a well-formed record start anywhere in p[from, size)?  If not, what
 * lies there is the remains of a write cut short.  Running out of budget
 * counts as finding one.
 */
static int
valid_after(const unsigned char *p, size_t from, size_t size)
{
    uint64_t spent = 0;
    const char *why;
    uint32_t len;
    size_t at;

    for (at = from; at + REC_HEAD + BODY_MIN <= size; at++) {
        len = get32(p + at + 4);
        if (len < BODY_MIN || len > size - at - REC_HEAD || p[at + 8] < REC_OUT ||
            p[at + 8] > REC_LAST)
            continue;
        spent += len;
        if (spent > RESYNC_BUDGET)
            return 1;
        if (record_ok(p + at, size - at, &why) > 0)
            return 1;
    }
    return 0;
}

/*
 * pwrite all n bytes at off, going on after short writes.  budget is the
 * fault hook's allowance (NULL or negative: none); it runs out as a short
 * write followed by ENOSPC, as a full disk would.
 */
static int
write_all(int fd, const void *buf, size_t n, uint64_t off, int64_t *budget)
{
    const char *p = buf;
    size_t want;
    ssize_t w;

    while (n > 0) {
        want = n;
        if (budget != NULL && *budget >= 0 && (uint64_t)*budget < want) {
            if (*budget == 0) {
                errno = ENOSPC;
                return -1;
            }
            want = (size_t)*budget;
        }
        w = pwrite(fd, p, want, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        if (budget != NULL && *budget >= 0)
            *budget -= w;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* The fault hook's switch: is the "disk" full now? */
static int
disk_full(const char *fail_while)
{
    if (fail_while == NULL || access(fail_while, F_OK) < 0)
        return 0;
    errno = ENOSPC;
    return 1;
}

/* The bytes a record of this type has between its seq and its text. */
static size_t
extra_of(int type)
{
    return type == REC_OUTD ? 8 : type == REC_OUTP ? 8 + OWNER_SIZE : 0;
}

/* Encode one record at the end of b (owner only for REC_OUTP); returns its size. */
static size_t
add_record(struct ts_buf *b, int type, uint64_t seq, uint64_t deadline,
           const struct ts_journal_owner *owner, const char *text, size_t len)
{
    size_t body = BODY_MIN + extra_of(type) + len;
    unsigned char *p = (unsigned char *)ts_buf_space(b, REC_HEAD + body);

    put32(p + 4, (uint32_t)body);
    p[8] = (unsigned char)type;
    put64(p + 9, seq);
    if (type == REC_OUTD || type == REC_OUTP)
        put64(p + 17, deadline);
    if (type == REC_OUTP) {
        put64(p + 25, owner->start);
        put64(p + 33, owner->boot);
        put32(p + 41, owner->pid);
    }
    if (len > 0)
        memcpy(p + REC_HEAD + body - len, text, len);
    put32(p, ts_crc32c(0, p + 4, body + 4));
    ts_buf_commit(b, REC_HEAD + body);
    return REC_HEAD + body;
}

/* The process an owned entry lives with, read back from its record. */
static void
owner_of(const struct entry *e, struct ts_journal_owner *o)
{
    const unsigned char *p = (const unsigned char *)e->text - OWNER_SIZE;

    o->start = get64(p);
    o->boot = get64(p + 8);
    o->pid = get32(p + 16);
}

/* What a tuple of this length adds to a snapshot (its lease aside). */
static uint64_t
record_cost(size_t len)
{
    return REC_HEAD + BODY_MIN + (uint64_t)len;
}

/* ---- the directory and its lock */

/*
 * Open DIR as a directory that is not a symbolic link.  With strict, it
 * must also be ours and writable by nobody else, because whoever can write
 * in it can change what the daemon recovers.
 */
static int
open_dir(const char *dir, int create, int strict, char *err, size_t errlen)
{
    char *path = ts_xstrdup(dir);
    size_t n = strlen(path);
    struct stat st;
    int fd;

    /* "link/" would follow the link, so the checks see the name without the slash. */
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "empty directory name");
        free(path);
        return -1;
    }
    if (create && mkdir(path, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        free(path);
        return -1;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            snprintf(err, errlen, "%s is a symbolic link; give the directory itself", dir);
        else if (e == ENOTDIR)
            snprintf(err, errlen, "%s is not a directory", dir);
        else
            snprintf(err, errlen, "cannot open %s: %s", dir, strerror(e));
        free(path);
        return -1;
    }
    free(path);
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat %s: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    if (strict && st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s is owned by uid %ld, not by this user (uid %ld)", dir,
                 (long)st.st_uid, (long)geteuid());
        close(fd);
        return -1;
    }
    if (strict && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, errlen, "%s is writable by %s (mode %04o); chmod go-w it", dir,
                 (st.st_mode & S_IWOTH) != 0 ? "others" : "its group",
                 (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * flock(2), not fcntl(2): an flock lock belongs to the open file, so the
 * child of tsd -d inherits it and keeps it after the parent exits, where an
 * fcntl lock would die with the process that took it.
 */
static int
take_lock(int dfd, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    int fd;

    fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s/lock: %s", dir, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s/lock is not a regular file", dir);
        close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            lock_holder(fd, dir, err, errlen);
        else
            snprintf(err, errlen, "cannot lock %s/lock: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    if (write_pid(fd) < 0) {
        snprintf(err, errlen, "cannot write %s/lock: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Say who holds the lock, from the pid its holder wrote. */
static int
lock_holder(int fd, const char *dir, char *err, size_t errlen)
{
    char buf[32], *end;
    ssize_t n;
    long pid;

    n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    errno = 0;
    pid = strtol(buf, &end, 10);
    if (n > 0 && end != buf && errno == 0 && pid > 0 && (*end == '\n' || *end == '\0'))
        snprintf(err, errlen, "%s is in use by tsd pid %ld", dir, pid);
    else
        snprintf(err, errlen, "%s is in use by another tsd", dir);
    return -1;
}

static int
write_pid(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) < 0 || write_all(fd, buf, (size_t)n, 0, NULL) < 0)
        return -1;
    return 0;
}

/* Create segment num, write its header, and return it open for writing. */
static int
create_segment(int dfd, uint64_t num, uint64_t seq)
{
    unsigned char h[HDR_SIZE];
    char name[NAME_MAX_LEN];
    int fd, e;

    file_name(name, "log", num, "");
    fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    make_header(h, KIND_LOG, num, seq);
    if (write_all(fd, h, sizeof h, 0, NULL) < 0) {
        e = errno;
        close(fd);
        unlinkat(dfd, name, 0);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- reading the directory */

static void
replay_init(struct replay *r, const char *dir, int dfd)
{
    memset(r, 0, sizeof *r);
    r->dir = dir;
    r->dfd = dfd;
}

static void
replay_free(struct replay *r)
{
    size_t i;

    for (i = 0; i < r->nf; i++) {
        if (r->f[i].map != NULL)
            munmap((void *)r->f[i].map, r->f[i].size);
        if (r->f[i].fd >= 0)
            close(r->f[i].fd);
    }
    for (i = 0; i < r->nothers; i++)
        free(r->others[i]);
    free(r->others);
    free(r->f);
    free(r->logs);
    free(r->snaps);
    free(r->e);
    memset(r, 0, sizeof *r);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int
list_dir(struct replay *r, char *err, size_t errlen)
{
    size_t lcap = 0, scap = 0, ocap = 0;
    struct dirent *d;
    uint64_t num;
    DIR *dp;
    int fd;

    fd = dup(r->dfd);
    if (fd < 0 || (dp = fdopendir(fd)) == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", r->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(dp);
    errno = 0;
    while ((d = readdir(dp)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
            strcmp(d->d_name, "lock") == 0)
            continue;
        if (parse_name(d->d_name, "log", "", &num)) {
            r->logs = ts_xgrow(r->logs, &lcap, r->nlogs + 1, sizeof *r->logs);
            r->logs[r->nlogs++] = num;
        } else if (parse_name(d->d_name, "snap", "", &num)) {
            r->snaps = ts_xgrow(r->snaps, &scap, r->nsnaps + 1, sizeof *r->snaps);
            r->snaps[r->nsnaps++] = num;
        } else {
            r->others = ts_xgrow(r->others, &ocap, r->nothers + 1, sizeof *r->others);
            r->others[r->nothers++] = ts_xstrdup(d->d_name);
        }
        errno = 0;
    }
    if (errno != 0) {
        snprintf(err, errlen, "cannot read %s: %s", r->dir, strerror(errno));
        closedir(dp);
        return -1;
    }
    closedir(dp);
    if (r->nlogs > 0)
        qsort(r->logs, r->nlogs, sizeof *r->logs, cmp_u64);
    if (r->nsnaps > 0)
        qsort(r->snaps, r->nsnaps, sizeof *r->snaps, cmp_u64);
    return 0;
}

static void
set_bad(struct replay *r, int bad, size_t file, uint64_t off, int fixable, const char *fmt, ...)
{
    va_list ap;

    r->bad = bad;
    r->bfile = file;
    r->boff = off;
    r->fixable = fixable;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

/*
 * Read the newest snapshot and the segments after it, stopping at the
 * first problem, which is left in r->bad.
 */
static void
scan(struct replay *r)
{
    struct rfile *f;
    struct stat st;
    size_t i, k;

    r->snapnum = r->nsnaps > 0 ? r->snaps[r->nsnaps - 1] : 0;
    r->f = ts_xcalloc(r->nlogs + 1, sizeof *r->f);
    if (r->snapnum > 0) {
        f = &r->f[r->nf++];
        f->snap = 1;
        f->num = r->snapnum;
        file_name(f->name, "snap", f->num, "");
    }
    for (k = 0; k < r->nlogs; k++)
        if (r->logs[k] > r->snapnum) {
            f = &r->f[r->nf++];
            f->num = r->logs[k];
            file_name(f->name, "log", f->num, "");
        }
    for (i = 0; i < r->nf; i++)
        r->f[i].fd = -1;
    for (i = 0; i < r->nf; i++) {
        f = &r->f[i];
        if (!f->snap) {
            uint64_t want = i == 0 || r->f[i - 1].snap ? r->snapnum + 1 : r->f[i - 1].num + 1;

            if (f->num != want) {
                char missing[NAME_MAX_LEN];

                file_name(missing, "log", want, "");
                set_bad(r, BAD_DAMAGE, i, 0, 1,
                        "%s is missing, so the records after it cannot be applied", missing);
                return;
            }
        }
        f->fd = openat(r->dfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (f->fd < 0 || fstat(f->fd, &st) < 0) {
            set_bad(r, BAD_DAMAGE, i, 0, 0, "cannot read: %s", strerror(errno));
            return;
        }
        if (!S_ISREG(st.st_mode)) {
            set_bad(r, BAD_DAMAGE, i, 0, 0, "not a regular file");
            return;
        }
        f->size = (size_t)st.st_size;
        if (f->size > 0) {
            void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);

            if (m == MAP_FAILED) {
                set_bad(r, BAD_DAMAGE, i, 0, 0, "cannot map: %s", strerror(errno));
                return;
            }
            f->map = m;
        }
        scan_file(r, i, i == r->nf - 1);
        if (r->bad != BAD_NONE)
            return;
    }
}

static void
scan_file(struct replay *r, size_t i, int last)
{
    struct rfile *f = &r->f[i];
    const unsigned char *p = f->map;
    uint32_t kind = f->snap ? KIND_SNAP : KIND_LOG;
    const char *why = NULL;
    char buf[128];
    size_t off, n;
    int ended = 0;

    f->read = 1;
    f->good = 0;
    /* A torn header can only be the last segment's, just created when the crash came. */
    if (f->size < HDR_SIZE) {
        if (!f->snap && last &&
            (f->size == 0 || header_prefix(p, f->size, kind, f->num) || all_zero(p, f->size)))
            set_bad(r, BAD_TORN, i, 0, 1, "header cut short");
        else
            set_bad(r, BAD_DAMAGE, i, 0, !f->snap, "header cut short");
        return;
    }
    if (!header_ok(p, kind, f->num, &f->hseq, &why)) {
        if (!f->snap && last && all_zero(p, f->size))
            set_bad(r, BAD_TORN, i, 0, 1, "a file of zeros");
        else
            set_bad(r, BAD_DAMAGE, i, 0,
                    !f->snap && !(memcmp(p, MAGIC, 8) == 0 && get32(p + 8) > VERSION), "%s", why);
        return;
    }
    if (f->snap || f->hseq > r->hiseq)
        r->hiseq = f->hseq;
    off = f->good = HDR_SIZE;
    while (off < f->size) {
        if (ended) {
            set_bad(r, BAD_DAMAGE, i, off, 0, "data after the snapshot's end record");
            return;
        }
        n = record_ok(p + off, f->size - off, &why);
        if (n == 0) {
            if (valid_after(p, off + 1, f->size))
                set_bad(r, BAD_DAMAGE, i, off, !f->snap, "%s, and more records follow", why);
            else if (!f->snap && last)
                set_bad(r, BAD_TORN, i, off, 1, "%s", why);
            else
                set_bad(r, BAD_DAMAGE, i, off, !f->snap, "%s at the end of %s", why,
                        f->snap ? "a snapshot" : "a segment that is not the last");
            return;
        }
        if (apply(r, f, p + off, n, &ended, &why, buf, sizeof buf) < 0) {
            set_bad(r, BAD_DAMAGE, i, off, !f->snap, "%s", why);
            return;
        }
        r->records++;
        off += n;
        f->good = off;
    }
    if (f->snap && !ended)
        set_bad(r, BAD_DAMAGE, i, off, 0, "snapshot has no end record");
}

/*
 * Apply one well-formed record.  Returns -1 with *why (perhaps formatted
 * into buf) when it contradicts what came before.
 */
static int
apply(struct replay *r, struct rfile *f, const unsigned char *p, size_t n, int *ended,
      const char **why, char *buf, size_t buflen)
{
    int type = p[8];
    uint64_t seq = get64(p + 9);
    size_t hl = REC_HEAD + BODY_MIN + extra_of(type);
    struct entry *e;

    switch (type) {
    case REC_OUT:
    case REC_OUTD:
    case REC_OUTP:
        if (seq == 0 || seq >= SEQ_LIMIT) {
            *why = "seq out of range";
            return -1;
        }
        if (f->snap ? seq > f->hseq : seq <= r->hiseq) {
            snprintf(buf, buflen, "seq %" PRIu64 " %s", seq,
                     f->snap ? "above the snapshot's highest" : "not above the seqs before it");
            *why = buf;
            return -1;
        }
        if (r->ne > 0 && seq <= r->e[r->ne - 1].seq) {
            snprintf(buf, buflen, "seq %" PRIu64 " out of order", seq);
            *why = buf;
            return -1;
        }
        if (r->ndead > 4096 && r->ndead > r->ne / 2)
            squeeze(r);
        r->e = ts_xgrow(r->e, &r->ecap, r->ne + 1, sizeof *r->e);
        e = &r->e[r->ne++];
        e->seq = seq;
        e->deadline = type == REC_OUTD || type == REC_OUTP ? get64(p + 17) : 0;
        e->text = (const char *)p + hl;
        e->len = (uint32_t)(n - hl);
        e->dead = 0;
        e->owned = type == REC_OUTP;
        if (!f->snap)
            r->hiseq = seq;
        f->outs++;
        return 0;
    case REC_DEL:
        if (f->snap) {
            *why = "a deletion in a snapshot";
            return -1;
        }
        e = find_entry(r, seq);
        if (e == NULL || e->dead) {
            snprintf(buf, buflen, "deletes seq %" PRIu64 ", which is not stored", seq);
            *why = buf;
            return -1;
        }
        e->dead = 1;
        r->ndead++;
        f->dels++;
        return 0;
    default: /* REC_END */
        if (!f->snap) {
            *why = "a snapshot's end record in a log segment";
            return -1;
        }
        if (seq != f->outs) {
            snprintf(buf, buflen, "end record counts %" PRIu64 " tuples, not %" PRIu64, seq,
                     f->outs);
            *why = buf;
            return -1;
        }
        *ended = 1;
        return 0;
    }
}

static struct entry *
find_entry(struct replay *r, uint64_t seq)
{
    size_t lo = 0, hi = r->ne, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (r->e[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->ne && r->e[lo].seq == seq ? &r->e[lo] : NULL;
}

/* Drop dead entries; the order stays. */
static void
squeeze(struct replay *r)
{
    size_t i, k = 0;

    for (i = 0; i < r->ne; i++)
        if (!r->e[i].dead)
            r->e[k++] = r->e[i];
    r->ne = k;
    r->ndead = 0;
}

/*
 * Cut file i back to good bytes and make it durable, rewriting the header
 * if that is what was cut (the seq is the highest before it).
 */
static int
repair_tail(struct replay *r, size_t i, uint64_t good, char *err, size_t errlen)
{
    struct rfile *f = &r->f[i];
    unsigned char h[HDR_SIZE];
    int fd;

    fd = openat(r->dfd, f->name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s/%s: %s", r->dir, f->name, strerror(errno));
        return -1;
    }
    if (good < HDR_SIZE) {
        make_header(h, KIND_LOG, f->num, r->hiseq);
        if (ftruncate(fd, 0) < 0 || write_all(fd, h, sizeof h, 0, NULL) < 0)
            goto fail;
    } else if (ftruncate(fd, (off_t)good) < 0)
        goto fail;
    if (fdatasync(fd) < 0)
        goto fail;
    close(fd);
    return 0;

fail:
    snprintf(err, errlen, "cannot truncate %s/%s: %s", r->dir, f->name, strerror(errno));
    close(fd);
    return -1;
}

/*
 * Remove what an interrupted compaction left: segments the snapshot covers,
 * older snapshots, and unfinished ones.  The directory is synced first, so
 * that the snapshot's name is on disk before anything it replaces is gone.
 */
static unsigned
remove_leftovers(struct replay *r)
{
    char name[NAME_MAX_LEN];
    unsigned removed = 0;
    uint64_t num;
    size_t k;

    if (r->snapnum > 0)
        fsync(r->dfd);
    for (k = 0; k < r->nlogs && r->logs[k] <= r->snapnum; k++) {
        file_name(name, "log", r->logs[k], "");
        removed += unlinkat(r->dfd, name, 0) == 0;
    }
    for (k = 0; k < r->nsnaps && r->snaps[k] < r->snapnum; k++) {
        file_name(name, "snap", r->snaps[k], "");
        removed += unlinkat(r->dfd, name, 0) == 0;
    }
    for (k = 0; k < r->nothers; k++)
        if (parse_name(r->others[k], "snap", ".tmp", &num))
            removed += unlinkat(r->dfd, r->others[k], 0) == 0;
    return removed;
}

/* ---- open and close */

struct ts_journal *
ts_journal_open(const char *dir, const struct ts_journal_opts *opts, ts_journal_tuple_fn *fn,
                void *arg, struct ts_journal_replay *rep, char *err, size_t errlen)
{
    struct ts_journal_replay dummy;
    struct ts_journal *j = NULL;
    struct replay r;
    struct rfile *last;
    const char *env;
    unsigned removed;
    size_t i, n;
    int dfd, lockfd;

    if (rep == NULL)
        rep = &dummy;
    memset(rep, 0, sizeof *rep);
    if ((dfd = open_dir(dir, 1, 1, err, errlen)) < 0)
        return NULL;
    if ((lockfd = take_lock(dfd, dir, err, errlen)) < 0) {
        close(dfd);
        return NULL;
    }
    replay_init(&r, dir, dfd);
    if (list_dir(&r, err, errlen) < 0)
        goto fail;
    scan(&r);
    if (r.bad == BAD_DAMAGE) {
        snprintf(err, errlen, "%s/%s: damaged at offset %" PRIu64 ": %s%s", dir, r.f[r.bfile].name,
                 r.boff, r.why, r.fixable ? " (tsd --check --fix truncates the log there)" : "");
        goto fail;
    }

    j = ts_xcalloc(1, sizeof *j);
    j->fd = -1;
    j->prev_fd = -1;
    for (i = 0; i < r.ne; i++) {
        struct entry *e = &r.e[i];

        if (e->dead)
            continue;
        struct ts_journal_owner owner;

        if (e->owned)
            owner_of(e, &owner);
        if (fn != NULL &&
            fn(arg, e->seq, e->deadline, e->owned ? &owner : NULL, e->text, e->len) != 0) {
            snprintf(err, errlen, "%s: tuple seq %" PRIu64 " could not be restored", dir, e->seq);
            goto fail;
        }
        rep->tuples++;
        j->live += record_cost(e->len);
    }
    rep->hiseq = r.hiseq;
    rep->records = r.records;
    rep->files = r.nf;

    /* From here on DIR changes: the torn tail goes, then the left-overs. */
    if (r.bad == BAD_TORN) {
        last = &r.f[r.bfile];
        rep->dropped = last->size - last->good;
        if (repair_tail(&r, r.bfile, last->good, err, errlen) < 0)
            goto fail;
        snprintf(rep->note, sizeof rep->note,
                 "%s/%s: cut off a torn tail of %" PRIu64 " bytes at offset %zu (%s)", dir,
                 last->name, rep->dropped, last->good, r.why);
        if (last->good < HDR_SIZE)
            last->good = HDR_SIZE;
    }
    if ((removed = remove_leftovers(&r)) > 0) {
        n = strlen(rep->note);
        snprintf(rep->note + n, sizeof rep->note - n,
                 "%sremoved %u files left by an interrupted compaction", n > 0 ? "; " : "",
                 removed);
    }

    j->dir = ts_xstrdup(dir);
    j->dfd = dfd;
    j->lockfd = lockfd;
    j->budget = -1;
    j->snap = r.snapnum;
    j->first = r.snapnum + 1;
    j->hiseq = j->hiseq_written = r.hiseq;
    j->live_written = j->live;
    j->o.sync = TS_JOURNAL_ALWAYS;
    if (opts != NULL)
        j->o = *opts;
    if (j->o.batch_ms == 0)
        j->o.batch_ms = DEFAULT_BATCH_MS;
    if (j->o.compact_min == 0)
        j->o.compact_min = DEFAULT_COMPACT_MIN;
    if (j->o.compact_ratio == 0)
        j->o.compact_ratio = DEFAULT_RATIO;
    for (i = 0; i < r.nf; i++)
        j->older += r.f[i].size;
    last = r.nf > 0 ? &r.f[r.nf - 1] : NULL;
    if (last != NULL && !last->snap) {
        char name[NAME_MAX_LEN];

        j->older -= last->size;
        j->seg = last->num;
        j->off = last->good;
        file_name(name, "log", j->seg, "");
        j->fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (j->fd < 0) {
            snprintf(err, errlen, "cannot open %s/%s: %s", dir, name, strerror(errno));
            goto fail;
        }
    } else {
        j->seg = r.snapnum + 1;
        j->off = HDR_SIZE;
        j->fd = create_segment(dfd, j->seg, j->hiseq);
        if (j->fd < 0 || fdatasync(j->fd) < 0 || fsync(dfd) < 0) {
            snprintf(err, errlen, "cannot create a log segment in %s: %s", dir, strerror(errno));
            goto fail;
        }
    }
    env = getenv("TS_JOURNAL_FAIL_AFTER");
    if (env != NULL && *env != '\0')
        j->budget = strtoll(env, NULL, 10);
    env = getenv("TS_JOURNAL_FAIL_WHILE");
    if (env != NULL && *env != '\0')
        j->fail_while = ts_xstrdup(env);
    replay_free(&r);
    return j;

fail:
    if (j != NULL) {
        if (j->fd >= 0)
            close(j->fd);
        free(j->dir);
        free(j);
    }
    replay_free(&r);
    close(lockfd);
    close(dfd);
    return NULL;
}

int
ts_journal_close(struct ts_journal *j)
{
    int rc = 0, e = 0;

    if (j == NULL)
        return 0;
    if (j->o.sync != TS_JOURNAL_NONE ? ts_journal_sync(j) < 0 : ts_journal_write(j) < 0) {
        rc = -1;
        e = errno;
    }
    if (j->job != NULL) {
        /* The thread stops at its next piece of work and removes its .tmp. */
        atomic_store(&j->job->cancel, 1);
        pthread_join(j->job->thread, NULL);
        free_job(j->job);
    }
    if (j->prev_fd >= 0)
        close(j->prev_fd);
    if (j->fd >= 0)
        close(j->fd);
    close(j->lockfd);
    close(j->dfd);
    ts_buf_free(&j->out);
    free(j->fail_while);
    free(j->dir);
    free(j);
    if (rc < 0)
        errno = e;
    return rc;
}

int
ts_journal_set_pid(struct ts_journal *j)
{
    return write_pid(j->lockfd);
}

/* ---- appending, writing, syncing */

/* An out of either kind: checked, buffered, counted. */
static int
append_out(struct ts_journal *j, int type, uint64_t seq, uint64_t deadline,
           const struct ts_journal_owner *owner, const char *text, size_t len)
{
    if (seq <= j->hiseq || seq >= SEQ_LIMIT) {
        errno = EINVAL;
        return -1;
    }
    if (len > TS_JOURNAL_MAX_TEXT) {
        errno = EMSGSIZE;
        return -1;
    }
    add_record(&j->out, type, seq, deadline, owner, text, len);
    j->hiseq = seq;
    j->live += record_cost(len);
    return 0;
}

int
ts_journal_out(struct ts_journal *j, uint64_t seq, uint64_t deadline, const char *text, size_t len)
{
    return append_out(j, deadline != 0 ? REC_OUTD : REC_OUT, seq, deadline, NULL, text, len);
}

int
ts_journal_out_owned(struct ts_journal *j, uint64_t seq, uint64_t deadline,
                     const struct ts_journal_owner *owner, const char *text, size_t len)
{
    if (owner == NULL || owner->pid == 0)
        return ts_journal_out(j, seq, deadline, text, len);
    return append_out(j, REC_OUTP, seq, deadline, owner, text, len);
}

int
ts_journal_del(struct ts_journal *j, uint64_t seq, size_t len)
{
    if (seq == 0 || seq >= SEQ_LIMIT) {
        errno = EINVAL;
        return -1;
    }
    add_record(&j->out, REC_DEL, seq, 0, NULL, NULL, 0);
    j->live -= j->live >= record_cost(len) ? record_cost(len) : j->live;
    return 0;
}

void
ts_journal_discard(struct ts_journal *j)
{
    ts_buf_reset(&j->out);
    j->hiseq = j->hiseq_written;
    j->live = j->live_written;
}

int
ts_journal_write(struct ts_journal *j)
{
    size_t n = ts_buf_len(&j->out);
    int e;

    if (j->broken != 0) {
        ts_buf_reset(&j->out);
        j->hiseq = j->hiseq_written;
        j->live = j->live_written;
        errno = j->broken;
        return -1;
    }
    if (n == 0)
        return 0;
    if (disk_full(j->fail_while) ||
        write_all(j->fd, ts_buf_head(&j->out), n, j->off, &j->budget) < 0) {
        e = errno;
        ts_buf_reset(&j->out);
        j->hiseq = j->hiseq_written;
        j->live = j->live_written;
        /* Part of it may be in the file: cut it back, or nothing after it can be trusted. */
        if (ftruncate(j->fd, (off_t)j->off) < 0)
            j->broken = errno;
        errno = e;
        return -1;
    }
    j->off += n;
    j->hiseq_written = j->hiseq;
    j->live_written = j->live;
    if (j->out.cap > OUT_KEEP)
        ts_buf_free(&j->out);
    else
        ts_buf_reset(&j->out);
    if (!j->dirty) {
        j->dirty = 1;
        j->dirty_since = mono_now();
    }
    return 0;
}

int
ts_journal_dirty(const struct ts_journal *j)
{
    return j->dirty || ts_buf_len(&j->out) > 0;
}

int
ts_journal_sync(struct ts_journal *j)
{
    if (ts_journal_write(j) < 0)
        return -1;
    if (!j->dirty && !j->dir_dirty)
        return 0;
    /* The segment before this one first: a power cut must not leave a hole. */
    if (j->prev_fd >= 0) {
        if (fdatasync(j->prev_fd) < 0) {
            j->broken = errno;
            return -1;
        }
        close(j->prev_fd);
        j->prev_fd = -1;
    }
    if (j->dirty && fdatasync(j->fd) < 0) {
        j->broken = errno;
        return -1;
    }
    /* A segment made by a compaction must be in the directory before its records count. */
    if (j->dir_dirty && fsync(j->dfd) < 0) {
        j->broken = errno;
        return -1;
    }
    j->dirty = 0;
    j->dir_dirty = 0;
    j->syncs++;
    clock_gettime(CLOCK_REALTIME, &j->last_sync);
    return 0;
}

/* ---- timing and compaction */

static int
compact_due(const struct ts_journal *j)
{
    uint64_t size = j->older + j->off;

    return j->o.autocompact && j->job == NULL && j->broken == 0 && size >= j->o.compact_min &&
           size / j->o.compact_ratio > j->live;
}

uint64_t
ts_journal_next_sync(const struct ts_journal *j)
{
    uint64_t when = UINT64_MAX;

    if (j->broken != 0)
        return when;
    if (j->o.sync == TS_JOURNAL_BATCH && j->dirty)
        when = j->dirty_since + (uint64_t)j->o.batch_ms * NS_PER_MS;
    if (compact_due(j) && j->retry_at < when)
        when = j->retry_at;
    if (j->job != NULL && j->job_poll < when)
        when = j->job_poll;
    return when;
}

int
ts_journal_tick(struct ts_journal *j, uint64_t now, char *msg, size_t msglen)
{
    if (msglen > 0)
        msg[0] = '\0';
    if (j->job != NULL && now >= j->job_poll && finish_job(j, msg, msglen))
        return 1;
    if (j->o.sync == TS_JOURNAL_BATCH && j->dirty &&
        now >= j->dirty_since + (uint64_t)j->o.batch_ms * NS_PER_MS) {
        if (ts_journal_sync(j) < 0) {
            snprintf(msg, msglen, "cannot sync %s/log.%010" PRIu64 ": %s", j->dir, j->seg,
                     strerror(errno));
            return -1;
        }
    }
    if (compact_due(j) && now >= j->retry_at && ts_buf_len(&j->out) == 0) {
        ts_journal_compact(j, msg, msglen);
        return j->broken != 0 ? -1 : 1;
    }
    return 0;
}

static void
schedule_retry(struct ts_journal *j)
{
    j->backoff = j->backoff == 0 ? BACKOFF_MIN : j->backoff * 2;
    if (j->backoff > BACKOFF_MAX)
        j->backoff = BACKOFF_MAX;
    j->retry_at = mono_now() + j->backoff;
}

int
ts_journal_compact(struct ts_journal *j, char *msg, size_t msglen)
{
    uint64_t num = j->seg, size = j->older + j->off;
    sigset_t all, old;
    struct job *c;
    int newfd, e;

    if (msglen > 0)
        msg[0] = '\0';
    if (j->job != NULL) {
        errno = EBUSY;
        return -1;
    }
    if (j->broken != 0) {
        errno = j->broken;
        return -1;
    }
    if (ts_buf_len(&j->out) > 0) {
        errno = EAGAIN;
        return -1;
    }
    if ((newfd = create_segment(j->dfd, num + 1, j->hiseq)) < 0)
        goto fail;
    c = ts_xcalloc(1, sizeof *c);
    c->dfd = fcntl(j->dfd, F_DUPFD_CLOEXEC, 0);
    c->oldfd = fcntl(j->fd, F_DUPFD_CLOEXEC, 0);
    c->newfd = fcntl(newfd, F_DUPFD_CLOEXEC, 0);
    if (c->dfd < 0 || c->oldfd < 0 || c->newfd < 0) {
        e = errno;
        free_job(c);
        errno = e;
        goto switched;
    }
    c->dir = ts_xstrdup(j->dir);
    c->fail_while = j->fail_while != NULL ? ts_xstrdup(j->fail_while) : NULL;
    c->snap = j->snap;
    c->first = j->first;
    c->num = num;
    c->hiseq = j->hiseq;
    c->budget = j->budget;
    atomic_init(&c->cancel, 0);
    atomic_init(&c->done, 0);
    /* The thread takes no signals: they are the daemon's business. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&c->thread, NULL, compact_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        free_job(c);
        errno = e;
        goto switched;
    }
    j->job = c;
    j->job_poll = mono_now() + JOB_POLL;
    e = 0;

switched:
    /*
     * Segment N is closed for good either way, and N + 1 is the one to
     * write.  What N holds must be on disk before anything in N + 1 is:
     * the next sync syncs it first (under none, nothing is promised).
     */
    if (j->prev_fd >= 0) {
        /* Two switches without a sync between (a long batch interval): the older first. */
        if (fdatasync(j->prev_fd) < 0 && j->broken == 0)
            j->broken = errno;
        close(j->prev_fd);
        j->prev_fd = -1;
    }
    if (j->dirty && j->o.sync != TS_JOURNAL_NONE)
        j->prev_fd = j->fd;
    else
        close(j->fd);
    j->fd = newfd;
    j->older += j->off;
    j->off = HDR_SIZE;
    j->seg = num + 1;
    j->dir_dirty = 1;
    if (e != 0)
        goto fail;
    snprintf(msg, msglen,
             "compacting %s: %" PRIu64 " bytes of log for about %" PRIu64
             " live; writing snap.%010" PRIu64 " in a thread",
             j->dir, size, j->live, num);
    return 0;

fail:
    e = errno;
    schedule_retry(j);
    snprintf(msg, msglen, "cannot start compacting %s: %s; retrying in %" PRIu64 " s", j->dir,
             strerror(e), j->backoff / NS_PER_S);
    errno = e;
    return -1;
}

static void
free_job(struct job *c)
{
    if (c->dfd >= 0)
        close(c->dfd);
    if (c->oldfd >= 0)
        close(c->oldfd);
    if (c->newfd >= 0)
        close(c->newfd);
    free(c->dir);
    free(c->fail_while);
    free(c);
}

/*
 * If the thread is done, take its result: on success the files the
 * snapshot covers go; on failure they stay and a retry is scheduled.
 * Returns 1 with msg set when it was done, 0 when it is still at work.
 */
static int
finish_job(struct ts_journal *j, char *msg, size_t msglen)
{
    struct job *c = j->job;
    char name[NAME_MAX_LEN];
    uint64_t k, removed = 0;
    struct stat st;

    if (!atomic_load(&c->done)) {
        j->job_poll = mono_now() + JOB_POLL;
        return 0;
    }
    pthread_join(c->thread, NULL);
    j->job = NULL;
    if (c->ok) {
        file_name(name, "snap", c->num, "");
        j->older = fstatat(j->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)st.st_size : 0;
        /* Segments first: an old snapshot without them is still a left-over, never a gap. */
        for (k = j->first; k <= c->num; k++) {
            file_name(name, "log", k, "");
            if (unlinkat(j->dfd, name, 0) == 0)
                removed++;
        }
        if (j->snap > 0) {
            file_name(name, "snap", j->snap, "");
            if (unlinkat(j->dfd, name, 0) == 0)
                removed++;
        }
        /* Whatever segments came after the covered ones were counted as older: still are. */
        for (k = c->num + 1; k < j->seg; k++) {
            file_name(name, "log", k, "");
            if (fstatat(j->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                j->older += (uint64_t)st.st_size;
        }
        j->first = c->num + 1;
        j->snap = c->num;
        j->compactions++;
        j->backoff = 0;
        j->retry_at = 0;
        snprintf(msg, msglen,
                 "compacted %s into snap.%010" PRIu64 " (%s); removed %" PRIu64 " older files",
                 j->dir, c->num, c->msg, removed);
    } else {
        j->failures++;
        schedule_retry(j);
        snprintf(msg, msglen,
                 "compaction of %s failed: %s; the log is kept, retrying in %" PRIu64 " s", j->dir,
                 c->msg, j->backoff / NS_PER_S);
    }
    free_job(c);
    return 1;
}

/*
 * The compaction thread.  Segments up to num are closed, so it reads them
 * as recovery would, from the files (with the snapshot they follow), and
 * writes what survives as snap.num: the daemon's memory is never looked
 * at, and nothing the loop does can change what the thread reads.
 */
static void *
compact_main(void *arg)
{
    struct job *c = arg;
    char tmp[NAME_MAX_LEN], final[NAME_MAX_LEN];
    struct replay r;
    uint64_t bytes = 0, k, tuples = 0;
    size_t i;

    file_name(tmp, "snap", c->num, ".tmp");
    file_name(final, "snap", c->num, "");
    replay_init(&r, c->dir, c->dfd);
    if (c->snap > 0) {
        r.snaps = ts_xmalloc(sizeof *r.snaps);
        r.snaps[r.nsnaps++] = c->snap;
    }
    r.logs = ts_xcalloc(c->num - c->first + 1, sizeof *r.logs);
    for (k = c->first; k <= c->num; k++)
        r.logs[r.nlogs++] = k;
    scan(&r);
    if (r.bad != BAD_NONE) {
        snprintf(c->msg, sizeof c->msg, "%s at offset %" PRIu64 " of %s", r.why, r.boff,
                 r.nf > 0 ? r.f[r.bfile].name : "?");
        goto out;
    }
    if (write_snapshot(c, &r, tmp, &bytes) < 0)
        goto out;
    /*
     * The snapshot is on disk; segment num, and segment num + 1's header
     * and name, must be too, before the rename makes the segments up to
     * num redundant (num's records before any of num + 1's: no holes).
     */
    if (fdatasync(c->oldfd) < 0 || fdatasync(c->newfd) < 0 || fsync(c->dfd) < 0) {
        snprintf(c->msg, sizeof c->msg, "syncing the segments: %s", strerror(errno));
        unlinkat(c->dfd, tmp, 0);
        goto out;
    }
    if (atomic_load(&c->cancel)) {
        snprintf(c->msg, sizeof c->msg, "stopped");
        unlinkat(c->dfd, tmp, 0);
        goto out;
    }
    if (renameat(c->dfd, tmp, c->dfd, final) < 0) {
        snprintf(c->msg, sizeof c->msg, "renaming %s: %s", tmp, strerror(errno));
        unlinkat(c->dfd, tmp, 0);
        goto out;
    }
    if (fsync(c->dfd) < 0) {
        snprintf(c->msg, sizeof c->msg, "syncing the directory: %s", strerror(errno));
        goto out;
    }
    for (i = 0; i < r.ne; i++)
        tuples += !r.e[i].dead;
    snprintf(c->msg, sizeof c->msg, "%" PRIu64 " tuples, %" PRIu64 " bytes", tuples, bytes);
    c->ok = 1;

out:
    replay_free(&r);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Write the live entries of r as snapshot tmp, synced.  -1 with c->msg. */
static int
write_snapshot(struct job *c, struct replay *r, const char *tmp, uint64_t *bytes)
{
    struct ts_buf b = TS_BUF_INIT;
    unsigned char h[HDR_SIZE];
    uint64_t off = 0, n = 0;
    size_t i;
    int fd;

    fd = openat(c->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(c->msg, sizeof c->msg, "creating %s: %s", tmp, strerror(errno));
        return -1;
    }
    make_header(h, KIND_SNAP, c->num, r->hiseq > c->hiseq ? r->hiseq : c->hiseq);
    ts_buf_add(&b, h, sizeof h);
    for (i = 0; i <= r->ne; i++) {
        if (i < r->ne && r->e[i].dead)
            continue;
        if (i < r->ne) {
            struct ts_journal_owner owner;
            int type = r->e[i].deadline != 0 ? REC_OUTD : REC_OUT;

            if (r->e[i].owned) {
                owner_of(&r->e[i], &owner);
                type = REC_OUTP;
            }
            add_record(&b, type, r->e[i].seq, r->e[i].deadline, &owner, r->e[i].text, r->e[i].len);
            n++;
        } else {
            add_record(&b, REC_END, n, 0, NULL, NULL, 0);
        }
        if (ts_buf_len(&b) < SNAP_CHUNK && i < r->ne)
            continue;
        if (atomic_load(&c->cancel)) {
            snprintf(c->msg, sizeof c->msg, "stopped");
            goto fail;
        }
        if (disk_full(c->fail_while) ||
            write_all(fd, ts_buf_head(&b), ts_buf_len(&b), off, &c->budget) < 0) {
            snprintf(c->msg, sizeof c->msg, "writing %s: %s", tmp, strerror(errno));
            goto fail;
        }
        off += ts_buf_len(&b);
        ts_buf_reset(&b);
    }
    if (fsync(fd) < 0) {
        snprintf(c->msg, sizeof c->msg, "syncing %s: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    ts_buf_free(&b);
    *bytes = off;
    return 0;

fail:
    close(fd);
    ts_buf_free(&b);
    unlinkat(c->dfd, tmp, 0);
    return -1;
}

/* ---- statistics and the fault hook */

void
ts_journal_stats(const struct ts_journal *j, struct ts_journal_stats *s)
{
    memset(s, 0, sizeof *s);
    s->sync = j->o.sync;
    s->log_bytes = j->older + j->off;
    s->live_bytes = j->live_written;
    s->buffered = ts_buf_len(&j->out);
    s->segment = j->seg;
    s->snapshot = j->snap;
    s->compactions = j->compactions;
    s->compact_failures = j->failures;
    s->syncs = j->syncs;
    s->last_sync = j->last_sync;
    s->compacting = j->job != NULL;
    s->dirty = ts_journal_dirty(j);
    s->broken = j->broken;
}

size_t
ts_journal_fds(const struct ts_journal *j, int *fds)
{
    int all[TS_JOURNAL_FDS] = {j->dfd, j->lockfd, j->fd, j->prev_fd};
    size_t i, n = 0;

    for (i = 0; i < TS_JOURNAL_FDS; i++)
        if (all[i] >= 0)
            fds[n++] = all[i];
    return n;
}

void
ts_journal_fail_after(struct ts_journal *j, int64_t bytes)
{
    j->budget = bytes < 0 ? -1 : bytes;
}

/* ---- tsd --check */

static void
rep_printf(struct rep *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->cap == 0 || r->len >= r->cap - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(r->p + r->len, r->cap - r->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    r->len += (size_t)n < r->cap - r->len ? (size_t)n : r->cap - r->len - 1;
}

static void
describe(struct replay *r, struct rep *out)
{
    uint64_t tuples = 0, text = 0, timed = 0, owned = 0, num;
    struct rfile *f;
    size_t i, k;

    if (r->nf == 0)
        rep_printf(out, "%s: empty (no snapshot, no log)\n", r->dir);
    for (i = 0; i < r->nf; i++) {
        f = &r->f[i];
        if (!f->read) {
            rep_printf(out, "%s: not read (after the damage)\n", f->name);
            continue;
        }
        if (f->snap)
            rep_printf(out, "%s: snapshot, %zu bytes, %" PRIu64 " tuples, seqs up to %" PRIu64 "\n",
                       f->name, f->size, f->outs, f->hseq);
        else
            rep_printf(out, "%s: log segment, %zu bytes, %" PRIu64 " outs, %" PRIu64 " deletions\n",
                       f->name, f->size, f->outs, f->dels);
    }
    for (k = 0; k < r->nlogs && r->logs[k] <= r->snapnum; k++)
        rep_printf(out, "log.%010" PRIu64 ": covered by the snapshot; removed at the next start\n",
                   r->logs[k]);
    for (k = 0; k < r->nsnaps && r->snaps[k] < r->snapnum; k++)
        rep_printf(out, "snap.%010" PRIu64 ": an older snapshot; removed at the next start\n",
                   r->snaps[k]);
    for (k = 0; k < r->nothers; k++)
        if (parse_name(r->others[k], "snap", ".tmp", &num))
            rep_printf(out, "%s: an unfinished snapshot; removed at the next start\n",
                       r->others[k]);
        else
            rep_printf(out, "%s: not a journal file; ignored\n", r->others[k]);
    for (i = 0; i < r->ne; i++)
        if (!r->e[i].dead) {
            tuples++;
            text += r->e[i].len;
            timed += r->e[i].deadline != 0;
            owned += r->e[i].owned;
        }
    rep_printf(out,
               "%" PRIu64 " records, %" PRIu64 " live tuples (%" PRIu64
               " bytes of text), highest seq %" PRIu64 "%s\n",
               r->records, tuples, text, r->hiseq,
               r->bad == BAD_DAMAGE ? " before the damage" : "");
    if (timed + owned > 0)
        rep_printf(out, "of them %" PRIu64 " with a deadline, %" PRIu64 " bound to a process\n",
                   timed, owned);
    if (r->bad == BAD_TORN)
        rep_printf(out,
                   "torn tail: %s/%s: %zu bytes from offset %" PRIu64
                   " (%s): a write cut short by a crash, cut off at the next start\n",
                   r->dir, r->f[r->bfile].name, r->f[r->bfile].size - (size_t)r->boff, r->boff,
                   r->why);
    else if (r->bad == BAD_DAMAGE)
        rep_printf(out, "damaged: %s/%s at offset %" PRIu64 ": %s\n", r->dir, r->f[r->bfile].name,
                   r->boff, r->why);
}

int
ts_journal_check(const char *dir, int fix, char *report, size_t reportlen)
{
    struct rep out = {report, 0, reportlen};
    char err[256];
    struct replay r;
    size_t i;
    int dfd, lockfd = -1, rc, live = 0;

    if (reportlen > 0)
        report[0] = '\0';
    if ((dfd = open_dir(dir, 0, fix, err, sizeof err)) < 0) {
        rep_printf(&out, "%s\n", err);
        return -1;
    }
    if (fix) {
        if ((lockfd = take_lock(dfd, dir, err, sizeof err)) < 0) {
            rep_printf(&out, "%s\n", err);
            close(dfd);
            return -1;
        }
    } else {
        /* Only look: a shared lock we cannot have means a daemon has DIR. */
        lockfd = openat(dfd, "lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (lockfd >= 0 && flock(lockfd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
            live = 1;
            lock_holder(lockfd, dir, err, sizeof err);
            rep_printf(&out, "%s: what follows is a moment of a live journal\n", err);
        } else if (lockfd >= 0)
            flock(lockfd, LOCK_UN); /* holding it would stop a daemon from starting */
    }
    replay_init(&r, dir, dfd);
    if (list_dir(&r, err, sizeof err) < 0) {
        rep_printf(&out, "%s\n", err);
        rc = -1;
        goto done;
    }
    scan(&r);
    describe(&r, &out);
    rc = r.bad == BAD_DAMAGE ? 1 : 0;
    if (rc == 1 && live)
        rep_printf(&out, "(the daemon may have changed the files while they were read: if a "
                         "file is missing or cut, check again)\n");
    if (!fix || r.bad == BAD_NONE)
        goto done;
    if (r.bad == BAD_DAMAGE && !r.fixable) {
        rep_printf(&out, "cannot repair %s/%s: only log segments can be truncated\n", dir,
                   r.f[r.bfile].name);
        goto done;
    }
    /* Truncate at the first bad record, and drop every segment after it. */
    if (r.f[r.bfile].read && repair_tail(&r, r.bfile, r.boff, err, sizeof err) < 0) {
        rep_printf(&out, "%s\n", err);
        rc = -1;
        goto done;
    }
    if (r.f[r.bfile].read)
        rep_printf(&out, "fixed: truncated %s/%s to %" PRIu64 " bytes\n", dir, r.f[r.bfile].name,
                   r.boff < HDR_SIZE ? (uint64_t)HDR_SIZE : r.boff);
    for (i = r.f[r.bfile].read ? r.bfile + 1 : r.bfile; i < r.nf; i++) {
        if (unlinkat(dfd, r.f[i].name, 0) < 0) {
            rep_printf(&out, "cannot remove %s/%s: %s\n", dir, r.f[i].name, strerror(errno));
            rc = -1;
            goto done;
        }
        rep_printf(&out, "fixed: removed %s/%s (%zu bytes), which came after it\n", dir,
                   r.f[i].name, r.f[i].size);
    }
    fsync(dfd);
    /* Check again what a restart will find. */
    replay_free(&r);
    replay_init(&r, dir, dfd);
    if (list_dir(&r, err, sizeof err) < 0) {
        rep_printf(&out, "%s\n", err);
        rc = -1;
        goto done;
    }
    scan(&r);
    if (r.bad == BAD_DAMAGE) {
        rep_printf(&out, "still damaged after the fix: %s/%s at offset %" PRIu64 ": %s\n", dir,
                   r.f[r.bfile].name, r.boff, r.why);
        rc = 1;
    } else
        rc = rc == 1 ? 2 : 0;

done:
    replay_free(&r);
    if (lockfd >= 0)
        close(lockfd);
    close(dfd);
    return rc;
}
