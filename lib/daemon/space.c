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
 * Tuples that end
 * ---------------
 * A tuple may have a deadline, or live with a process (lease.h).  When its
 * lease ends it is deleted, unless it is lent: then it stays with its
 * holder, ended, and is deleted when the holder confirms it or lets go of
 * it; it is never given back.  The deadline is fixed: lending does not
 * stop the clock.
 *
 * The loop serves descriptors before timers, so a request may come after a
 * deadline and before its timer: every tuple with a deadline is checked
 * against the clock before it is handed out, offered or counted as there,
 * and one found past its deadline ends then.  An expired tuple is never
 * delivered.
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
#include <stdio.h>
#include <stdlib.h>

#include "space.h"

static void offer(struct ts_space *sp, struct ts_tuple *t);
static void lease_ended(void *arg, struct ts_lease *l, enum ts_lease_end why, pid_t owner);
static int expired(struct ts_space *sp, struct ts_tuple *t, uint64_t *now);
static void drop(struct ts_space *sp, struct ts_tuple *t);
static void tell(struct ts_space *sp, enum ts_event_kind kind, pid_t pid, const struct ts_tuple *t,
                 const struct ts_lease *l);

void
ts_space_init(struct ts_space *sp, struct ts_loop *loop, struct ts_events *events,
              ts_deliver_fn *deliver, ts_costly_fn *costly, void *arg)
{
    sp->store = ts_store_new();
    ts_waiters_init(&sp->waiters);
    sp->leases = ts_leases_new(loop, lease_ended, sp);
    sp->events = events;
    sp->deliver = deliver;
    sp->costly = costly;
    sp->ended = NULL;
    sp->arg = arg;
    sp->rds = NULL;
    sp->rdcap = 0;
}

void
ts_space_free(struct ts_space *sp)
{
    ts_leases_free(sp->leases);
    ts_store_free(sp->store);
    ts_waiters_free(&sp->waiters);
    free(sp->rds);
}

/* An event about a tuple, with its lease's deadline and owner if it has one. */
static void
tell(struct ts_space *sp, enum ts_event_kind kind, pid_t pid, const struct ts_tuple *t,
     const struct ts_lease *l)
{
    struct ts_event e = {kind, pid, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, NULL,
                         NULL, 0};
    char more[96];
    int n = 0;

    if (!ts_events_on(sp->events))
        return;
    if (l != NULL && l->deadline != 0 && (kind == TS_EV_OUT || kind == TS_EV_EXPIRE))
        n = snprintf(more, sizeof more, "\"deadline\":%lld.%06lld",
                     (long long)(l->deadline / 1000000000),
                     (long long)(l->deadline % 1000000000) / 1000);
    if (l != NULL && kind == TS_EV_OUT && ts_lease_owner(l) != 0)
        n += snprintf(more + n, sizeof more - (size_t)n, "%s\"owner\":%ld", n > 0 ? "," : "",
                      (long)ts_lease_owner(l));
    e.more = more;
    e.morelen = (size_t)n;
    ts_events_emit(sp->events, &e);
}

void
ts_space_out(struct ts_space *sp, const char *text, size_t len, const uint32_t *off, uint32_t arity)
{
    ts_space_put(sp, text, len, off, arity, NULL);
}

int
ts_space_put(struct ts_space *sp, const char *text, size_t len, const uint32_t *off, uint32_t arity,
             const struct ts_put *p)
{
    struct ts_tuple *t;
    struct ts_lease *l = NULL;

    if (p == NULL || (p->deadline == 0 && p->owner == 0)) {
        t = ts_store_add(sp->store, text, len, off, arity);
    } else {
        if (p->deadline != 0 && p->deadline <= ts_wall_ns())
            return 0;
        t = ts_store_add_bound(sp->store, text, len, off, arity);
        if ((l = ts_leases_add(sp->leases, t, p->deadline, p->owner)) == NULL) {
            ts_store_del(sp->store, t);
            return 0;
        }
    }
    tell(sp, TS_EV_OUT, p != NULL ? p->by : 0, t, l);
    offer(sp, t);
    return 1;
}

int
ts_space_watch(struct ts_space *sp, pid_t pid)
{
    return ts_leases_watch(sp->leases, pid);
}

void
ts_space_unwatch(struct ts_space *sp, pid_t pid)
{
    ts_leases_unwatch(sp->leases, pid);
}

/* Past its deadline and not yet ended by its timer: end it now.  Returns 1 if so. */
static int
expired(struct ts_space *sp, struct ts_tuple *t, uint64_t *now)
{
    struct ts_lease *l = ts_lease_of(t);

    if (l == NULL || l->deadline == 0 || l->ended)
        return 0;
    if (*now == 0)
        *now = ts_now();
    if (!ts_lease_due(l, *now))
        return 0;
    ts_leases_expire(sp->leases, l);
    return 1;
}

/* The lease's callback: the tuple goes, or, if lent, waits for its holder. */
static void
lease_ended(void *arg, struct ts_lease *l, enum ts_lease_end why, pid_t owner)
{
    struct ts_space *sp = arg;
    struct ts_tuple *t = l->t;

    tell(sp, why == TS_LEASE_EXPIRED ? TS_EV_EXPIRE : TS_EV_GONE, owner, t, l);
    if (sp->ended != NULL)
        sp->ended(t, sp->arg);
    if (!t->lent)
        drop(sp, t);
}

/* Delete a tuple and its lease. */
static void
drop(struct ts_space *sp, struct ts_tuple *t)
{
    struct ts_lease *l = ts_lease_of(t);

    if (l != NULL)
        ts_leases_del(sp->leases, l);
    ts_store_del(sp->store, t);
}

static void
offer(struct ts_space *sp, struct ts_tuple *t)
{
    struct ts_waiter *taker;
    size_t nrd = 0, i;
    uint64_t now = 0;

    if (t->bound && expired(sp, t, &now))
        return;
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
    uint64_t now = 0;

    ts_store_iter(sp->store, w->tm, &it);
    while ((t = ts_iter_next(&it)) != NULL) {
        if (t->seq <= after || (t->bound && expired(sp, t, &now)))
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

int
ts_space_find(struct ts_space *sp, const struct ts_tmpl *tm, const struct ts_tuple **found)
{
    struct ts_iter it;
    struct ts_tuple *t;
    uint64_t now = 0;

    ts_store_iter_all(sp->store, tm, &it);
    while ((t = ts_iter_next(&it)) != NULL) {
        const struct ts_lease *l = ts_lease_of(t);

        if (l != NULL && (l->ended || expired(sp, t, &now)))
            continue;
        *found = t;
        return 1;
    }
    *found = it.costly;
    return it.costly != NULL ? TS_MATCH_COSTLY : 0;
}

int
ts_space_alive(struct ts_space *sp, const struct ts_tuple *t)
{
    const struct ts_lease *l = ts_lease_of(t);

    (void)sp;
    return l == NULL || (!l->ended && !ts_lease_due(l, ts_now()));
}

int
ts_space_ended(const struct ts_tuple *t)
{
    const struct ts_lease *l = ts_lease_of(t);

    return l != NULL && l->ended;
}

void
ts_space_confirm(struct ts_space *sp, struct ts_tuple *t, pid_t by)
{
    const struct ts_lease *l = ts_lease_of(t);

    if (l == NULL || !l->ended)
        tell(sp, TS_EV_TAKE, by, t, NULL);
    drop(sp, t);
}

void
ts_space_return(struct ts_space *sp, struct ts_tuple *t, pid_t by)
{
    const struct ts_lease *l = ts_lease_of(t);

    if (l != NULL && l->ended) {
        drop(sp, t);
        return;
    }
    ts_store_unlend(sp->store, t);
    tell(sp, TS_EV_RETURN, by, t, NULL);
    offer(sp, t);
}
