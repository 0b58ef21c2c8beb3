/*
 * worker.h: the processes the daemon starts for eval, and supervises.
 *
 * A leaf: it knows the event loop and the log, and nothing of clients or
 * of the space.  It reports back through the hooks it was given, as tmux's
 * job.c does: a tuple to put (ts.exit, ts.error), a stop request that is
 * complete, a worker that is gone.
 */
#ifndef TS_WORKER_H
#define TS_WORKER_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "loop.h"

struct ts_worker;
struct ts_workers;

struct ts_worker_hooks {
    /* Put a tuple into the space; takes tuple. */
    void (*put)(void *arg, json_t *tuple);
    /* The workers stopped for token (ts_workers_stop) are all gone: n of them. */
    void (*stopped)(void *arg, void *token, long n);
    /* w is about to be freed: drop every pointer to it. */
    void (*gone)(void *arg, struct ts_worker *w);
    void *arg;
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
/* Whoever waited with token is gone: do not report to it. */
void ts_workers_forget(struct ts_workers *ws, void *token);

/* Collect exited children (on SIGCHLD). */
void ts_workers_reap(struct ts_workers *ws);
/* Append one {"worker":...} line per worker to out. */
void ts_workers_dump(struct ts_workers *ws, struct ts_buf *out);
size_t ts_workers_count(const struct ts_workers *ws);
/* The worker with this pid (a client connecting from it), or NULL. */
struct ts_worker *ts_workers_find(struct ts_workers *ws, pid_t pid);
/* What a worker holds now: the canonical text of a tuple lent to it, or NULL. */
void ts_worker_holds(struct ts_worker *w, const char *text, size_t len);

#endif
