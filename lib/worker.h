/*
 * worker.h: processes the daemon starts for eval, and supervises.
 */
#ifndef TS_WORKER_H
#define TS_WORKER_H

#include <jansson.h>
#include <stddef.h>

#include <sys/types.h>

#include "buf.h"
#include "store.h"

struct ts_server;
struct ts_client;
struct ts_workers;

struct ts_workers *ts_workers_new(struct ts_server *srv);
/* Stop every worker (TERM, then KILL after the grace period) and wait for them. */
void ts_workers_free(struct ts_workers *ws);
/* Serve an "eval" request: start workers, or stop a named group. */
void ts_workers_eval(struct ts_workers *ws, struct ts_client *c, json_t *req);
/* Collect exited children (on SIGCHLD). */
void ts_workers_reap(struct ts_workers *ws);
/* Append one {"worker":...} line per worker to out. */
void ts_workers_dump(struct ts_workers *ws, struct ts_buf *out);
size_t ts_workers_count(const struct ts_workers *ws);
/* The worker with this pid (a client connecting from it), or NULL. */
void *ts_workers_find(struct ts_workers *ws, pid_t pid);
/* What a worker holds now: a tuple lent to it, or NULL once confirmed. */
void ts_workers_note(void *worker, const struct ts_tuple *t);
/* A client waiting for workers to stop has gone away. */
void ts_workers_forget(struct ts_workers *ws, struct ts_client *c);

#endif
