/*
 * dump.h: what the "dump" request sends: the tuples, and with "waiters" the
 * lent tuples with their holders, the waiting requests (with, on request,
 * why nothing matches them) and the workers.  One line each, one shape
 * per kind; ts-dump(1) documents them.
 */
#ifndef TS_DUMP_H
#define TS_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "template.h"

struct ts_blocking;
struct ts_clients;
struct ts_workers;

struct ts_dump_req {
    const struct ts_tmpl *tm; /* only what matches this (waiters: may match), or NULL */
    int tuples;               /* the visible tuples */
    int waiters;              /* the lent tuples, the waiters and the workers */
    int explain;              /* each waiter's near miss */
    size_t limit;             /* lent and waiter lines, at most, each */
};

/* How a dump went. */
struct ts_dump_res {
    uint64_t n;                    /* tuple lines sent */
    const struct ts_tuple *costly; /* the tuple tm could not tell within budget, or NULL */
};

/*
 * Append the lines to out, and say in *res how many tuple lines there
 * were.  The lent tuples are found on the lent lists of the clients'
 * blocks, the jobs held for a retry in blocking (block.h).  A walk of the
 * tuples that passes the regular expression budget stops there, with
 * res->costly set, and nothing else is appended.
 */
void ts_dump(struct ts_clients *clients, struct ts_blocking *blocking, struct ts_workers *workers,
             const struct ts_dump_req *r, struct ts_buf *out, struct ts_dump_res *res);

#endif
