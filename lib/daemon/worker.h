/*
 * worker.h: the processes the daemon starts for eval, and supervises.
 *
 * A leaf: it knows the event loop, the log and the tuple model, and
 * nothing of clients or of the space.  It reports back through the hooks
 * it was given, as tmux's job.c does: a tuple to put (ts.exit, ts.error,
 * a run-once worker's result), a stop request that is complete, a wait
 * that is over, a worker process that is gone; and it asks the space,
 * through a hook, how many tuples match a template.
 *
 * Workers are grouped by name.  A name remembers what its workers did
 * (jobs done, failed, retried), the last part of each worker's output
 * (ts-eval --log), and the newest start request, which --scale copies.
 */
#ifndef TS_WORKER_H
#define TS_WORKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "loop.h"
#include "template.h"

struct ts_worker;
struct ts_workers;

/* What a worker did, for the event stream. */
struct ts_worker_event {
    enum {
        TS_WORKER_STARTED,
        TS_WORKER_EXITED,
        TS_WORKER_FAILED, /* a job of it failed, or it did */
    } what;
    const char *name;
    int index;
    pid_t pid;
    int status;        /* EXITED, FAILED: exit status, 128+N for signal N; -1: not known */
    const char *tuple; /* FAILED: canonical text of the job it worked on, or NULL */
    size_t len;
};

/* What --wait reports when it is over. */
struct ts_waited {
    uint64_t done;   /* jobs that succeeded since the name's workers started */
    uint64_t failed; /* jobs that finally failed */
    size_t left;     /* jobs left when no worker is left to do them (then the wait failed) */
};

struct ts_worker_hooks {
    /* Put a tuple into the space; takes tuple. */
    void (*put)(void *arg, json_t *tuple);
    /* The workers stopped for token (ts_workers_stop) are all gone: n of them. */
    void (*stopped)(void *arg, void *token, long n);
    /* w's process is gone: drop every pointer to w from its connections. */
    void (*gone)(void *arg, struct ts_worker *w);
    /* The wait of token (ts_workers_wait) is over. */
    void (*waited)(void *arg, void *token, const struct ts_waited *r);
    /* How many stored tuples match tm, lent ones too if lent is set; at most limit. */
    size_t (*count)(void *arg, const struct ts_tmpl *tm, int lent, size_t limit);
    void *arg;
    /* A worker started, ended or failed (may be NULL). */
    void (*event)(void *arg, const struct ts_worker_event *e);
};

/* When a worker that ended on its own is started again. */
enum ts_restart {
    TS_RESTART_DEFAULT, /* always with a take template, never without */
    TS_RESTART_ALWAYS,
    TS_RESTART_ON_FAILURE,
    TS_RESTART_NEVER,
};

/* A start request, checked by the caller. */
struct ts_eval {
    const char *name; /* the workers' name */
    long n;           /* how many */
    json_t *argv;     /* COMMAND: strings, may hold placeholders */
    const char *cwd;  /* absolute */
    json_t *env;      /* the caller's environment: "NAME=value" strings */
    json_t *take;     /* wire template, or NULL */
    json_t *put;      /* --put words (strings), or NULL */
    enum ts_restart restart;
    long retries;       /* attempts after the first, per job */
    double backoff;     /* seconds before the first retry; doubles for each later one */
    double timeout;     /* seconds a run may take, 0 for no limit */
    double grace;       /* seconds between SIGTERM and SIGKILL at the timeout, -1: default */
    int stdin_null;     /* the command reads /dev/null, not the tuple */
    const char *joblog; /* absolute path of the job log, or NULL */
};

/*
 * socket is the daemon's, helper the ts-worker program each worker runs
 * (it takes the tuples and runs COMMAND: see ts-worker(1)).
 */
struct ts_workers *ts_workers_new(struct ts_loop *loop, const char *socket, const char *helper,
                                  const struct ts_worker_hooks *hooks);
/* Stop every worker (TERM, then KILL after the grace period) and wait for them. */
void ts_workers_free(struct ts_workers *ws);

/*
 * Start e->n workers; their pids are appended to the array pids.  -1 with
 * err if COMMAND cannot be run (*usage set) or a process cannot be made
 * (*usage clear); nothing half-started is left behind.
 */
int ts_workers_start(struct ts_workers *ws, const struct ts_eval *e, json_t *pids, int *usage,
                     char *err, size_t errlen);
/*
 * Stop the workers called name: TERM to each process group, KILL after
 * grace seconds.  Returns how many; when they are all gone, the stopped
 * hook gets token.  0 when there are none (the hook is never called).
 */
long ts_workers_stop(struct ts_workers *ws, const char *name, double grace, void *token);
/*
 * Make the workers called name n: start more like the newest ones (their
 * pids appended to pids), or ask the surplus to stop after their current
 * job.  -1 if there is no such name.
 */
int ts_workers_scale(struct ts_workers *ws, const char *name, long n, json_t *pids);
/*
 * Wait until no tuple matching a take template of name's workers is
 * stored (visible, lent or held for a retry) and no run-once worker of
 * that name is left; the waited hook gets token.  -1 if there is no such
 * name.  The answer comes from ts_workers_check, never from this call.
 */
int ts_workers_wait(struct ts_workers *ws, const char *name, void *token);
/* Answer the waits that are over (the server calls it before the loop sleeps). */
void ts_workers_check(struct ts_workers *ws);
/* Whoever waited with token is gone: do not report to it. */
void ts_workers_forget(struct ts_workers *ws, void *token);

/* Append what the workers called name wrote lately to out; -1 if there is no such name. */
int ts_workers_log(struct ts_workers *ws, const char *name, struct ts_buf *out);
/* Set names[NAME] to the counts of each name: workers, done, failed, retried, ... */
void ts_workers_tally(struct ts_workers *ws, json_t *names);

/* Collect exited children (on SIGCHLD). */
void ts_workers_reap(struct ts_workers *ws);
/* Append one {"worker":...} line per worker to out (with "age", jobs "done" and "failed"). */
void ts_workers_dump(struct ts_workers *ws, struct ts_buf *out);
size_t ts_workers_count(const struct ts_workers *ws);
/* The worker with this pid (a client connecting from it), or NULL. */
struct ts_worker *ts_workers_find(struct ts_workers *ws, pid_t pid);
/*
 * What a worker holds now: the canonical text of a tuple lent to it and
 * the attempt it is, or NULL.  Returns the job's number among those of the
 * worker's name (for the job log).
 */
uint64_t ts_worker_holds(struct ts_worker *w, const char *text, size_t len, unsigned attempt);
/* The worker finished a job: "done", "failed" or "retry", with status (-1: not known). */
void ts_worker_report(struct ts_worker *w, const char *outcome, int status);
/*
 * A worker without a take template hands in the tuples of its result:
 * they are kept and put when it ends, after its ts.error if it failed.
 * Returns 1 if w keeps them (takes tuples), 0 if they must be put now.
 */
int ts_worker_defer(struct ts_worker *w, json_t *tuples, int status);

#endif
