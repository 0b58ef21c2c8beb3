/*
 * space.h: the tuple space: the store, the waiters, and the rules that tie
 * them together (delivery order on out, lending and confirmation).  It knows
 * nothing of sockets: it hands tuples to waiters through a callback.
 */
#ifndef TS_SPACE_H
#define TS_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "waiter.h"

/*
 * Hand tuple t to waiter w.  For a take (w->take), t is already lent.
 * Return 1 when w wants no more tuples (the space then stops offering it
 * anything and removes it from the waiters), 0 when it wants more.
 */
typedef int ts_deliver_fn(struct ts_waiter *w, struct ts_tuple *t, void *arg);

/*
 * End w's request with an error: its template cannot tell whether a tuple
 * matches within the regular expression budget (template.h), and why says
 * so in one line.  w is no longer among the waiters, and is offered
 * nothing more.
 */
typedef void ts_costly_fn(struct ts_waiter *w, const char *why, void *arg);

struct ts_space {
    struct ts_store *store;
    struct ts_waiters waiters;
    ts_deliver_fn *deliver;
    ts_costly_fn *costly;
    void *arg;
    struct ts_waiter **rds; /* scratch for ts_waiters_match */
    size_t rdcap;
};

void ts_space_init(struct ts_space *sp, ts_deliver_fn *deliver, ts_costly_fn *costly, void *arg);
void ts_space_free(struct ts_space *sp);

/* Put a tuple (canonical text and offsets) into the space and offer it. */
void ts_space_out(struct ts_space *sp, const char *text, size_t len, const uint32_t *off,
                  uint32_t arity);

/*
 * Serve a request from what is stored now: offer w every visible match
 * that arrived after the tuple numbered after (0: all of them), oldest
 * first, until the callback says it wants no more.  Returns 1 if it said
 * so, or if the walk passed the regular expression budget (the costly
 * callback has then ended the request); otherwise, unless now_only is set,
 * w is filed as a waiter and 0 is returned.  With now_only, returns 0
 * without filing.
 */
int ts_space_request(struct ts_space *sp, struct ts_waiter *w, int now_only, uint64_t after);

/* Stop waiting (timeout, disconnect): w is removed from the waiters. */
void ts_space_cancel(struct ts_space *sp, struct ts_waiter *w);

/* The taker confirmed a lent tuple: it is gone for good. */
void ts_space_confirm(struct ts_space *sp, struct ts_tuple *t);

/* The taker went away unconfirmed: t is visible again, in its old place, and offered. */
void ts_space_return(struct ts_space *sp, struct ts_tuple *t);

#endif
