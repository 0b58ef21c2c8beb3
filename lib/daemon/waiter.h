/*
 * waiter.h: blocked requests, indexed so that a new tuple finds the waiters
 * it can satisfy without looking at the others.
 *
 * A waiter is filed under one key: one of its template's literal fields,
 * or its arity when it has no literal, and whether it takes or reads.  A
 * tuple of arity n can only satisfy the waiters filed under (n, i, value of
 * its field i) for some i, or under n alone, so ts_waiters_match looks at
 * 2(n + 1) lists and never at a waiter whose filed literal differs from the
 * tuple.  Of the literals, the one whose list is shortest when the waiter
 * arrives is chosen (the rightmost on a tie: a leading tag such as "job" is
 * shared by many templates, a later field less often), so 10,000 waiters on
 * ["w", 1, ?] ... ["w", 10000, ?] sit in 10,000 lists, not one.  Takers and
 * readers are kept apart so that a take stops at its list's first match.
 */
#ifndef TS_WAITER_H
#define TS_WAITER_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "store.h"
#include "template.h"

#define TS_WAIT_TAKE 0x80000000u /* or-ed into an index position: takers' lists */

struct ts_waiter {
    uint64_t seq;             /* arrival order: smaller has waited longer */
    int take;                 /* 1 for in (takes), 0 for rd (copies) */
    struct ts_tmpl *tm;       /* the template; owned by whoever owns the waiter */
    struct ts_bucket *bucket; /* where it is filed, NULL when not waiting */
    struct ts_waiter *prev;   /* neighbours in the bucket's list */
    struct ts_waiter *next;
    void *owner; /* the client that waits */
    int costly;  /* set by ts_waiters_match: its template cannot tell the tuple in budget */
};

struct ts_waiters {
    struct ts_index ix; /* key positions carry TS_WAIT_TAKE for takers */
    uint64_t seq;
    size_t count;
};

void ts_waiters_init(struct ts_waiters *ws);
void ts_waiters_free(struct ts_waiters *ws);
void ts_waiters_add(struct ts_waiters *ws, struct ts_waiter *w);
void ts_waiters_del(struct ts_waiters *ws, struct ts_waiter *w);

/*
 * Find the waiters a visible tuple satisfies: every matching rd waiter is
 * appended to *rds (a growable array of *cap entries, *nrd used), and the
 * matching in waiter that has waited longest is returned (NULL if none).
 * A waiter, in or rd, whose template would pass its regular expression
 * budget on the tuple (template.h) is appended to *rds too, with costly
 * set: it must be failed, not served.  An in is looked at only up to the
 * one that takes the tuple.
 */
struct ts_waiter *ts_waiters_match(struct ts_waiters *ws, const struct ts_tuple *t,
                                   struct ts_waiter ***rds, size_t *nrd, size_t *cap);

/* Call fn for every waiter, in no particular order. */
void ts_waiters_each(struct ts_waiters *ws, void (*fn)(struct ts_waiter *, void *), void *arg);

#endif
