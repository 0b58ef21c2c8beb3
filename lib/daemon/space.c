/*
 * space.c: delivery, blocking and lending.
 *
 * How a tuple moves
 * -----------------
 * A client's "out" adds the tuple to the store at the tail of the order and
 * offers it to the waiters, in the order the seed library documented:
 *
 *   1. every waiting rd whose template matches gets a copy;
 *   2. then the in whose template matches and that has waited longest takes it;
 *   3. if no in took it, it stays in the store, visible to later requests.
 *
 * A request (in or rd) first looks at the store: the oldest visible match is
 * served first.  If it wants more (a count, or nothing matched) and may wait,
 * it is filed as a waiter; from then on only new or returned tuples are
 * offered to it, by step 1 or 2 above.  Because every tuple that becomes
 * visible is offered at once, a waiting in never coexists with a visible
 * tuple it matches.
 *
 * Confirm before taken
 * --------------------
 * A tuple handed to an in is not removed: it is lent.  It keeps its place in
 * every list of the store, and matching skips it.  The client confirms once
 * it has written the tuple out (the wire's "ack"), and only then is the
 * tuple deleted.  If the client goes away first (killed, ^C, a broken pipe),
 * the tuple is returned: visible again in its old place in the order, and
 * offered to the waiters exactly as a new tuple would be.  Nothing handed to
 * a client that died is lost; a client that dies after writing a tuple out
 * but before its ack reaches us causes a second delivery.  That is the
 * at-least-once rule, and the only way a tuple is seen twice.
 *
 * A waiter that goes away (timeout, disconnect) is removed from the index
 * before anything else happens, so no tuple is ever handed to it.
 *
 * Too costly to tell
 * ------------------
 * Whether a template with regular expressions matches a tuple is worked
 * out only within a budget (template.h).  When a request's template cannot
 * tell a tuple it is offered, or its walk of the store passes the budget,
 * the request ends with an error through the costly callback: never a
 * silent "no match", and never a stall of the daemon.  A waiting in that
 * fails so does not take the tuple, which goes on to the next in.
 */
#include <stdlib.h>

#include "space.h"

static void offer(struct ts_space *sp, struct ts_tuple *t);

void
ts_space_init(struct ts_space *sp, ts_deliver_fn *deliver, ts_costly_fn *costly, void *arg)
{
    sp->store = ts_store_new();
    ts_waiters_init(&sp->waiters);
    sp->deliver = deliver;
    sp->costly = costly;
    sp->arg = arg;
    sp->rds = NULL;
    sp->rdcap = 0;
}

void
ts_space_free(struct ts_space *sp)
{
    ts_store_free(sp->store);
    ts_waiters_free(&sp->waiters);
    free(sp->rds);
}

void
ts_space_out(struct ts_space *sp, const char *text, size_t len, const uint32_t *off, uint32_t arity)
{
    offer(sp, ts_store_add(sp->store, text, len, off, arity));
}

static void
offer(struct ts_space *sp, struct ts_tuple *t)
{
    struct ts_waiter *taker;
    size_t nrd = 0, i;

    taker = ts_waiters_match(&sp->waiters, t, &sp->rds, &nrd, &sp->rdcap);
    /* rd waiters were collected before any delivery can remove one. */
    for (i = 0; i < nrd; i++) {
        struct ts_waiter *w = sp->rds[i];

        if (w->costly) {
            char why[300];

            ts_waiters_del(&sp->waiters, w);
            ts_tmpl_costly(w->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, why,
                           sizeof why);
            sp->costly(w, why, sp->arg);
        } else if (sp->deliver(w, t, sp->arg)) {
            ts_waiters_del(&sp->waiters, w);
        }
    }
    if (taker != NULL) {
        ts_store_lend(sp->store, t);
        if (sp->deliver(taker, t, sp->arg))
            ts_waiters_del(&sp->waiters, taker);
    }
}

int
ts_space_request(struct ts_space *sp, struct ts_waiter *w, int now_only, uint64_t after)
{
    struct ts_iter it;
    struct ts_tuple *t;

    ts_store_iter(sp->store, w->tm, &it);
    while ((t = ts_iter_next(&it)) != NULL) {
        if (t->seq <= after)
            continue;
        if (w->take)
            ts_store_lend(sp->store, t);
        if (sp->deliver(w, t, sp->arg))
            return 1;
    }
    if (it.costly != NULL) {
        char why[300];

        t = it.costly;
        ts_tmpl_costly(w->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, why, sizeof why);
        sp->costly(w, why, sp->arg);
        return 1;
    }
    if (!now_only)
        ts_waiters_add(&sp->waiters, w);
    return 0;
}

void
ts_space_cancel(struct ts_space *sp, struct ts_waiter *w)
{
    ts_waiters_del(&sp->waiters, w);
}

void
ts_space_confirm(struct ts_space *sp, struct ts_tuple *t)
{
    ts_store_del(sp->store, t);
}

void
ts_space_return(struct ts_space *sp, struct ts_tuple *t)
{
    ts_store_unlend(sp->store, t);
    offer(sp, t);
}
