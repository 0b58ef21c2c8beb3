/*
 * ops.h: the requests of the wire protocol and how the daemon serves them.
 * Dispatch is by the request's "op" through a table; see ts-protocol(7).
 *
 * The server plugs ts_ops_serve and ts_ops_serve_ack into the session
 * (session.h); each client's c->ctx is its struct ts_block (block.h).
 */
#ifndef TS_OPS_H
#define TS_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "session.h"
#include "worker.h"

struct ts_ops {
    struct ts_clients *clients;
    struct ts_blocking blocking; /* the space and the loop */
    struct ts_workers *workers;
    uint64_t count; /* requests served */
    double started; /* wall clock at start, for uptime */
    /* A client asked the daemon to stop. */
    void (*shutdown)(void *arg);
    void *arg;
};

/* Serve one request line (NUL-terminated, newline removed). */
void ts_ops_serve(struct ts_client *c, const char *line, size_t len);

/* If line is an ack, serve it and return 1; otherwise return 0. */
int ts_ops_serve_ack(struct ts_client *c, const char *line, size_t len);

#endif
