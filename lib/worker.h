/*
 * worker.h: processes the daemon starts for eval, and supervises.
 */
#ifndef TS_WORKER_H
#define TS_WORKER_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

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

#endif
