/*
 * space.h: the tuple space: the store, the waiters, and the rules that tie
 * them together (delivery order on out, lending and confirmation, tuples
 * that end by themselves).  It knows nothing of sockets: it hands tuples
 * to waiters through a callback, and tells what happens to the event
 * stream (events.h).
 */
#ifndef TS_SPACE_H
#define TS_SPACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "events.h"
#include "lease.h"
#include "loop.h"
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

/*
 * A tuple's lease ended (its deadline came, its process ended): it is gone
 * for good from this moment, even while it is lent and its holder has not
 * let go of it yet.  Called once per tuple, before anything else is done
 * with it; a durable space logs the deletion here, and logs nothing when
 * such a tuple is later confirmed.
 */
typedef void ts_ended_fn(const struct ts_tuple *t, void *arg);

struct ts_space {
    struct ts_store *store;
    struct ts_waiters waiters;
    struct ts_leases *leases; /* deadlines and owners of the tuples that have them */
    struct ts_events *events; /* told what happens; may be NULL */
    ts_deliver_fn *deliver;
    ts_costly_fn *costly;
    ts_ended_fn *ended; /* NULL unless set after ts_space_init */
    void *arg;
    struct ts_waiter **rds; /* scratch for ts_waiters_match */
    size_t rdcap;
};

/* How a tuple is put, beyond its text. */
struct ts_put {
    int64_t deadline; /* wall-clock ns since the Epoch at which it ends; 0: never */
    pid_t owner;      /* it ends when this process ends; 0: it does not */
    pid_t by;         /* the client that puts it, for the events; 0: the daemon */
};

/* The loop keeps the leases' time and watches their processes. */
void ts_space_init(struct ts_space *sp, struct ts_loop *loop, struct ts_events *events,
                   ts_deliver_fn *deliver, ts_costly_fn *costly, void *arg);
void ts_space_free(struct ts_space *sp);

/* Put a tuple (canonical text and offsets) into the space and offer it. */
void ts_space_out(struct ts_space *sp, const char *text, size_t len, const uint32_t *off,
                  uint32_t arity);
/*
 * The same with a deadline, an owner and the client that puts it (p may be
 * NULL).  Returns 1 if it was stored, 0 if it had ended already (a past
 * deadline, an owner that cannot be watched), when nothing is stored.
 * Check the owner first with ts_space_watch.
 */
int ts_space_put(struct ts_space *sp, const char *text, size_t len, const uint32_t *off,
                 uint32_t arity, const struct ts_put *p);
/* Can tuples live with process pid?  0, or -1 with errno (ESRCH: no such process). */
int ts_space_watch(struct ts_space *sp, pid_t pid);
/* The watch was for nothing: no tuple was put. */
void ts_space_unwatch(struct ts_space *sp, pid_t pid);

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

/*
 * The oldest stored tuple matching tm, lent ones included (put-if-absent):
 * 1 with it in *t, 0 when there is none, TS_MATCH_COSTLY with *t the tuple
 * tm could not tell within the regular expression budget.
 */
int ts_space_find(struct ts_space *sp, const struct ts_tmpl *tm, const struct ts_tuple **t);

/* Is t still there to be seen: not ended, not past its deadline? */
int ts_space_alive(struct ts_space *sp, const struct ts_tuple *t);

/* Has t's lease ended (it is lent, and goes when its holder lets go)? */
int ts_space_ended(const struct ts_tuple *t);

/* The taker (client by) confirmed a lent tuple: it is gone for good. */
void ts_space_confirm(struct ts_space *sp, struct ts_tuple *t, pid_t by);

/*
 * The taker (client by) went away unconfirmed: t is visible again, in its
 * old place, and offered; unless it ended while it was lent, when it goes.
 */
void ts_space_return(struct ts_space *sp, struct ts_tuple *t, pid_t by);

#endif
