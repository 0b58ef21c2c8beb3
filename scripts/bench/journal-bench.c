/*
 * journal-bench.c: what the durable space costs, measured on the disk that
 * holds DIR.
 *
 * Usage: journal-bench DIR [N]
 *
 * DIR must not exist; it is created, used and removed.  N (default 2000000)
 * is the number of 100-byte tuples appended.  Printed:
 *
 *   fdatasync latency (mean, median, 99th percentile) of one small write,
 *   which is what policy always adds to every loop iteration that wrote;
 *   appends a second with sync none, writing every 1000 appends (a batch of
 *   outs) and writing after every append (one request at a time);
 *   replay speed: reopening the log of N outs;
 *   how long ts_journal_compact (a new segment and a thread) keeps the
 *   caller, and how long the thread takes to write the snapshot, with N
 *   tuples in memory as the daemon would hold them; and, for comparison,
 *   how long a fork(2) of that process would keep it (the way Redis
 *   rewrites its log, which the journal does not take).
 *
 * make bench builds it (build/bench/journal-bench) and runs it on the disk
 * that holds its temporary directory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define TEXT_LEN 100
#define SYNCS 1000

/* The tuples in memory, one allocation each, as the store has them. */
struct heap {
    char **text;
    size_t n;
};

static uint64_t now_ns(void);
static int cmp_u64(const void *a, const void *b);
static int count(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
                 const char *text, size_t len);
static void make_text(char *buf, uint64_t seq);
static void die(const char *what, const char *why) __attribute__((noreturn));
static void remove_dir(const char *dir);
static double resident_mb(void);

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int
count(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
      const char *text, size_t len)
{
    (void)seq;
    (void)deadline;
    (void)owner;
    (void)text;
    (void)len;
    ++*(uint64_t *)arg;
    return 0;
}

/* A 100-byte canonical tuple: ["job",SEQ,"xxx..."]. */
static void
make_text(char *buf, uint64_t seq)
{
    int n = snprintf(buf, TEXT_LEN + 1, "[\"job\",%" PRIu64 ",\"", seq);

    memset(buf + n, 'x', (size_t)(TEXT_LEN - n - 2));
    memcpy(buf + TEXT_LEN - 2, "\"]", 2);
}

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "journal-bench: %s: %s\n", what, why);
    exit(1);
}

static void
remove_dir(const char *dir)
{
    char cmd[4096];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "journal-bench: could not remove %s\n", dir);
}

static double
resident_mb(void)
{
    unsigned long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

int
main(int argc, char **argv)
{
    struct ts_journal_opts none = {TS_JOURNAL_NONE, 0, 0, 0, 0};
    struct ts_journal_opts always = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    struct ts_journal_replay rep;
    char err[512], msg[512], text[TEXT_LEN + 1];
    uint64_t n = 2000000, seq, t0, t1, lat[SYNCS], sum = 0, got = 0;
    struct ts_journal *j;
    struct heap h;
    const char *dir;
    int status, i;
    pid_t pid;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: journal-bench DIR [N]\n");
        return 2;
    }
    dir = argv[1];
    if (argc == 3)
        n = strtoull(argv[2], NULL, 10);
    if (access(dir, F_OK) == 0)
        die(dir, "exists; give a new name");

    /* First, on a quiet disk: writeback of the big log below would slow every sync. */
    j = ts_journal_open(dir, &always, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL)
        die("open", err);
    seq = 0;
    for (i = 0; i < SYNCS; i++) {
        make_text(text, ++seq);
        ts_journal_out(j, seq, 0, text, TEXT_LEN);
        ts_journal_write(j);
        t0 = now_ns();
        if (ts_journal_sync(j) < 0)
            die("sync", strerror(errno));
        lat[i] = now_ns() - t0;
        sum += lat[i];
    }
    qsort(lat, SYNCS, sizeof lat[0], cmp_u64);
    printf("fdatasync of one record: mean %.3f ms, median %.3f ms, 99th percentile %.3f ms\n",
           (double)sum / SYNCS / 1e6, (double)lat[SYNCS / 2] / 1e6,
           (double)lat[SYNCS * 99 / 100] / 1e6);
    ts_journal_close(j);
    remove_dir(dir);

    j = ts_journal_open(dir, &none, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL)
        die("open", err);
    /* One text for all: what is timed is the journal, not snprintf. */
    make_text(text, 1);
    seq = 0;
    t0 = now_ns();
    while (seq < n) {
        ts_journal_out(j, ++seq, 0, text, TEXT_LEN);
        if (seq % 1000 == 0 && ts_journal_write(j) < 0)
            die("write", strerror(errno));
    }
    if (ts_journal_write(j) < 0)
        die("write", strerror(errno));
    t1 = now_ns();
    printf("appends, sync none, a write every 1000: %.0f a second (%" PRIu64 " in %.2f s)\n",
           (double)n * 1e9 / (double)(t1 - t0), n, (double)(t1 - t0) / 1e9);
    t0 = now_ns();
    for (i = 0; i < 200000; i++) {
        ts_journal_out(j, ++seq, 0, text, TEXT_LEN);
        if (ts_journal_write(j) < 0)
            die("write", strerror(errno));
    }
    t1 = now_ns();
    printf("appends, sync none, a write after each: %.0f a second\n",
           200000 * 1e9 / (double)(t1 - t0));
    ts_journal_close(j);

    t0 = now_ns();
    j = ts_journal_open(dir, &none, count, &got, &rep, err, sizeof err);
    t1 = now_ns();
    if (j == NULL)
        die("reopen", err);
    printf("replay: %" PRIu64 " tuples in %.2f s (%.0f a second)\n", got, (double)(t1 - t0) / 1e9,
           (double)got * 1e9 / (double)(t1 - t0));
    ts_journal_close(j);
    remove_dir(dir);

    /* Compaction of n live tuples, each its own allocation as in the store. */
    h.n = (size_t)n;
    h.text = malloc(h.n * sizeof *h.text);
    if (h.text == NULL)
        die("malloc", strerror(errno));
    for (seq = 0; seq < n; seq++) {
        h.text[seq] = malloc(TEXT_LEN + 64);
        if (h.text[seq] == NULL)
            die("malloc", strerror(errno));
        make_text(h.text[seq], seq + 1);
    }
    j = ts_journal_open(dir, &none, NULL, NULL, NULL, err, sizeof err);
    if (j == NULL)
        die("open", err);
    for (seq = 1; seq <= n; seq++)
        ts_journal_out(j, seq, 0, h.text[seq - 1], TEXT_LEN);
    ts_journal_write(j);
    t0 = now_ns();
    pid = fork();
    if (pid == 0)
        _exit(0);
    t1 = now_ns();
    waitpid(pid, &status, 0);
    printf("fork with %" PRIu64 " tuples in memory (%.0f MB resident): %.2f ms\n", n, resident_mb(),
           (double)(t1 - t0) / 1e6);
    /* Every tuple deleted once and put back: twice the live data, and due. */
    for (seq = 1; seq <= n; seq++) {
        ts_journal_del(j, seq, TEXT_LEN);
        ts_journal_out(j, n + seq, 0, h.text[seq - 1], TEXT_LEN);
    }
    ts_journal_write(j);
    t0 = now_ns();
    if (ts_journal_compact(j, msg, sizeof msg) < 0)
        die("compact", msg);
    t1 = now_ns();
    for (;;) {
        struct ts_journal_stats st;

        if (ts_journal_tick(j, UINT64_MAX / 2, msg, sizeof msg) == 1) {
            ts_journal_stats(j, &st);
            if (!st.compacting) {
                if (st.compactions != 1)
                    die("compaction", msg);
                break;
            }
        }
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    printf("compaction of %" PRIu64 " tuples: the caller waits %.2f ms; the thread is done after "
           "%.2f s\n",
           n, (double)(t1 - t0) / 1e6, (double)(now_ns() - t0) / 1e9);
    ts_journal_close(j);
    remove_dir(dir);
    for (seq = 0; seq < n; seq++)
        free(h.text[seq]);
    free(h.text);
    return 0;
}
