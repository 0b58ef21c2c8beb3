/*
 * ops.h: the requests of the wire protocol and how the daemon serves them.
 * Dispatch is by the request's "op" through a table; see ts-protocol(7).
 */
#ifndef TS_OPS_H
#define TS_OPS_H

#include <stddef.h>

#include "session.h"
#include "space.h"

#define TS_PROTO_VERSION 1

/* Serve one request line (NUL-terminated, newline removed). */
void ts_ops_dispatch(struct ts_client *c, const char *line, size_t len);

/* If line is an ack, handle it and return 1; otherwise return 0. */
int ts_ops_try_ack(struct ts_client *c, const char *line, size_t len);

/* The space's delivery callback: queue t for w's client. */
int ts_ops_deliver(struct ts_waiter *w, struct ts_tuple *t, void *arg);

/* Withdraw the client's waiting request, if any, without replying. */
void ts_ops_cancel(struct ts_client *c);

#endif
