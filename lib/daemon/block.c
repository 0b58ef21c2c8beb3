/*
 * block.c: waiting requests, lending and confirmation (see block.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block.h"
#include "follow.h"
#include "journal.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "tuple.h"
#include "worker.h"

static void finish(struct ts_block *b, const char *why);
static void on_timeout(struct ts_loop *loop, void *arg);
static void on_hold(struct ts_loop *loop, void *arg);
static void unhold(struct ts_hold *h);
static void tell(struct ts_block *b, enum ts_event_kind kind, const char *why);

struct ts_block *
ts_block_new(struct ts_client *c, struct ts_blocking *ctx)
{
    struct ts_block *b = ts_xcalloc(1, sizeof *b);

    b->client = c;
    b->ctx = ctx;
    b->w.owner = b;
    b->timeout = -1;
    ts_timer_init(&b->timer, on_timeout, b);
    b->worker = ts_workers_find(ctx->workers, c->pid);
    return b;
}

void
ts_block_lost(struct ts_block *b)
{
    size_t i;

    /* First: it must never be handed another tuple, nor the end of a wait. */
    if (b->why == TS_WAIT_TUPLES) {
        if (b->waiting)
            tell(b, TS_EV_WAIT_END, "lost");
        if (!b->paused)
            ts_space_cancel(b->ctx->space, &b->w);
    }
    if ((b->why == TS_WAIT_WORKERS || b->why == TS_WAIT_DONE) && b->ctx->workers != NULL)
        ts_workers_forget(b->ctx->workers, b);
    if (b->follow != NULL)
        ts_follow_stop(b->follow);
    ts_timer_cancel(b->ctx->loop, &b->timer);
    /* Then everything it held goes back, in the order it was handed out. */
    for (i = b->lent0; i < b->nlent; i++)
        ts_space_return(b->ctx->space, b->lent[i].t, b->client->pid);
    ts_tmpl_free(b->w.tm);
    free(b->tmpl_text);
    free(b->lent);
    free(b);
}

void
ts_block_template(struct ts_block *b, struct ts_tmpl *tm, const char *text, size_t len)
{
    ts_tmpl_free(b->w.tm);
    b->w.tm = tm;
    free(b->tmpl_text);
    b->tmpl_text = text != NULL ? ts_xstrndup(text, len) : NULL;
    b->tmpl_len = len;
}

int
ts_block_same_text(const struct ts_block *b, const char *text, size_t len)
{
    return b->tmpl_text != NULL && b->tmpl_len == len && memcmp(b->tmpl_text, text, len) == 0;
}

void
ts_block_ask(struct ts_block *b, const struct ts_ask *a)
{
    int now = a->all || a->timeout == 0;

    b->w.take = a->take;
    b->want = a->all ? -1 : a->want;
    b->got = 0;
    b->timeout = a->timeout;
    b->since = ts_wall_clock();
    b->now = now;
    b->paused = 0;
    b->waiting = 0;
    b->after = 0;
    ts_block_wait(b, TS_WAIT_TUPLES);
    if (ts_space_request(b->ctx->space, &b->w, now, 0)) {
        if (b->why != TS_WAIT_TUPLES)
            return; /* satisfied from the store; the delivery finished it */
    } else if (now) {
        finish(b, NULL);
        return;
    }
    /* Filed as a waiter, or paused before it could be. */
    tell(b, TS_EV_WAIT_START, NULL);
    if (a->timeout > 0)
        ts_timer_set(b->ctx->loop, &b->timer, ts_now() + (uint64_t)llround(a->timeout * 1e9));
}

/* A waiter event: its op and template, and how it started or ended. */
static void
tell(struct ts_block *b, enum ts_event_kind kind, const char *why)
{
    struct ts_event e = {kind, b->client->pid, NULL, 0, NULL, 0, b->w.tm, NULL, 0};
    struct ts_buf more = TS_BUF_INIT;
    size_t n;
    char *p;

    b->waiting = kind == TS_EV_WAIT_START;
    if (!ts_events_on(b->ctx->space->events))
        return;
    ts_buf_printf(&more, "\"op\":\"%s\",\"tmpl\":", b->w.take ? "in" : "rd");
    n = json_dumpb(b->w.tm->wire, NULL, 0, JSON_COMPACT);
    if ((p = ts_buf_space(&more, n)) != NULL) {
        json_dumpb(b->w.tm->wire, p, n, JSON_COMPACT);
        ts_buf_commit(&more, n);
    }
    if (kind == TS_EV_WAIT_START) {
        ts_buf_addstr(&more, ",\"timeout\":");
        if (b->timeout >= 0) {
            json_t *t = json_real(b->timeout);

            ts_canon(t, &more);
            json_decref(t);
        } else {
            ts_buf_addstr(&more, "null");
        }
    } else {
        ts_buf_printf(&more, ",\"why\":\"%s\",\"n\":%ld", why, b->got);
    }
    e.more = ts_buf_head(&more);
    e.morelen = ts_buf_len(&more);
    ts_events_emit(b->ctx->space->events, &e);
    ts_buf_free(&more);
}

/* The in or rd is over: the final line, and the client may go on. */
static void
finish(struct ts_block *b, const char *why)
{
    if (b->waiting)
        tell(b, TS_EV_WAIT_END, why);
    if (b->got > 0)
        ts_wire_ok_n(&b->client->out, (uint64_t)b->got);
    else
        ts_wire_error(&b->client->out, "nomatch", "no matching tuple");
    ts_block_end(b);
}

static void
on_timeout(struct ts_loop *loop, void *arg)
{
    struct ts_block *b = arg;

    (void)loop;
    if (!b->paused)
        ts_space_cancel(b->ctx->space, &b->w);
    b->paused = 0;
    finish(b, "timeout");
}

/*
 * When a tuple was lent, for ts-dump -w: the coarse clock is to a few
 * milliseconds, and costs a tenth of the precise one on the path of every take.
 */
static double
coarse_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
ts_block_deliver(struct ts_waiter *w, struct ts_tuple *t, void *arg)
{
    struct ts_block *b = w->owner;
    uint64_t id = 0, seq = 0;

    (void)arg;
    if (w->take) {
        /*
         * Confirmed entries at the front are dead: when they are at least
         * half of the array, reuse their room rather than grow it (moving
         * the live half costs no more than the appends that filled it).
         */
        if (b->nlent == b->lentcap && b->lent0 >= b->nlent / 2 && b->lent0 > 0) {
            memmove(b->lent, b->lent + b->lent0, (b->nlent - b->lent0) * sizeof *b->lent);
            b->nlent -= b->lent0;
            b->lent0 = 0;
        }
        b->lent = ts_xgrow(b->lent, &b->lentcap, b->nlent + 1, sizeof *b->lent);
        b->lent[b->nlent].t = t;
        b->lent[b->nlent].id = id = ++b->next_id;
        b->lent[b->nlent].since = coarse_clock();
        b->nlent++;
        if (b->worker != NULL)
            seq = ts_worker_holds(b->worker, ts_tuple_text(t), t->len, t->failed + 1u);
    }
    /* A tuple whose out is not yet synced is not shown before it is (sync always). */
    if (t->seq > b->ctx->synced_seq)
        b->need = b->ctx->writes;
    if (b->job && w->take)
        ts_wire_job_tuple(&b->client->out, id, t->failed + 1u, seq, ts_tuple_text(t), t->len);
    else
        ts_wire_tuple(&b->client->out, id, ts_tuple_text(t), t->len);
    ts_client_touch(b->client, 0);
    if (!w->take)
        b->after = t->seq;
    b->got++;
    if (b->want > 0 && b->got >= b->want) {
        finish(b, "got");
        return 1;
    }
    if (!b->now && ts_buf_len(&b->client->out) > TS_OUT_HIGH) {
        b->paused = 1;
        return 1; /* the space stops offering it anything */
    }
    return 0;
}

void
ts_block_costly(struct ts_waiter *w, const char *why, void *arg)
{
    struct ts_block *b = w->owner;

    (void)arg;
    b->paused = 0;
    ts_wire_error(&b->client->out, "costly", why);
    ts_client_touch(b->client, 0);
    ts_block_end(b);
}

void
ts_block_drained(struct ts_block *b)
{
    if (b->follow != NULL)
        ts_follow_drained(b->follow);
    if (b->why != TS_WAIT_TUPLES || !b->paused)
        return;
    b->paused = 0;
    /* An in takes what is there now; an rd goes on after what it was sent. */
    ts_space_request(b->ctx->space, &b->w, 0, b->w.take ? 0 : b->after);
}

void
ts_block_confirm(struct ts_block *b, uint64_t upto)
{
    struct ts_journal *j = b->ctx->journal;
    size_t i, n, logged = 0;

    /* One whose lease ended while it was lent has its deletion logged already. */
    for (n = 0; b->lent0 + n < b->nlent && b->lent[b->lent0 + n].id <= upto; n++) {
        const struct ts_tuple *t = b->lent[b->lent0 + n].t;

        if (j != NULL && !ts_space_ended(t) && ts_journal_del(j, t->seq, t->len) == 0)
            logged++;
    }
    if (logged > 0 && ts_blocking_write(b->ctx) < 0)
        ts_log("%zu confirmed take%s not logged: %s; if tsd restarts before its next "
               "compaction, %s back",
               logged, logged == 1 ? "" : "s", strerror(errno),
               logged == 1 ? "it comes" : "they come");
    else if (logged > 0)
        b->need = b->ctx->writes; /* a job's reply says it is done: after the sync (always) */
    for (i = 0; i < n; i++)
        ts_space_confirm(b->ctx->space, b->lent[b->lent0++].t, b->client->pid);
    if (b->lent0 == b->nlent) {
        b->lent0 = b->nlent = 0;
        if (b->worker != NULL)
            ts_worker_holds(b->worker, NULL, 0, 0);
    }
    /* A long-lived window: give back what the confirmed front no longer needs. */
    if (b->lentcap > 64 && b->nlent - b->lent0 < b->lentcap / 4) {
        size_t live = b->nlent - b->lent0, cap = b->lentcap / 2;

        memmove(b->lent, b->lent + b->lent0, live * sizeof *b->lent);
        b->lent0 = 0;
        b->nlent = live;
        b->lent = ts_xrealloc(b->lent, cap * sizeof *b->lent);
        b->lentcap = cap;
    }
}

void
ts_block_wait(struct ts_block *b, enum ts_wait why)
{
    b->why = why;
    b->client->flags |= TS_CLIENT_BLOCKED;
}

void
ts_block_end(struct ts_block *b)
{
    if (b->why == TS_WAIT_NONE)
        return;
    b->why = TS_WAIT_NONE;
    ts_timer_cancel(b->ctx->loop, &b->timer);
    b->client->flags &= ~TS_CLIENT_BLOCKED;
    ts_client_touch(b->client, TS_CLIENT_RESUME);
}

int
ts_blocking_write(struct ts_blocking *bl)
{
    int e;

    if (ts_journal_write(bl->journal) == 0) {
        if (bl->failing)
            ts_log("the journal is written again: outs are stored");
        bl->failing = 0;
        bl->writes++;
        return 0;
    }
    e = errno;
    if (!bl->failing)
        ts_log("cannot write the journal: %s; refusing outs until it can", strerror(e));
    bl->failing = 1;
    errno = e;
    return -1;
}

int
ts_block_lends(const struct ts_block *b, uint64_t id)
{
    size_t i;

    for (i = b->lent0; i < b->nlent; i++)
        if (b->lent[i].id == id)
            return 1;
    return 0;
}

int
ts_block_retry(struct ts_block *b, uint64_t id, double delay)
{
    struct ts_blocking *ctx = b->ctx;
    struct ts_tuple *t;
    struct ts_hold *h;
    size_t i;

    for (i = b->lent0; i < b->nlent && b->lent[i].id != id; i++)
        ;
    if (i == b->nlent)
        return -1;
    t = b->lent[i].t;
    memmove(b->lent + i, b->lent + i + 1, (b->nlent - i - 1) * sizeof *b->lent);
    b->nlent--;
    if (b->lent0 == b->nlent) {
        b->lent0 = b->nlent = 0;
        if (b->worker != NULL)
            ts_worker_holds(b->worker, NULL, 0, 0);
    }
    if (t->failed < TS_FAILED_MAX)
        t->failed++;
    if (!(delay > 0)) {
        ts_space_return(ctx->space, t, b->client->pid);
        return 0;
    }
    h = ts_xcalloc(1, sizeof *h);
    h->t = t;
    h->ctx = ctx;
    h->due = ts_wall_clock() + delay;
    ts_timer_init(&h->timer, on_hold, h);
    ts_timer_set(ctx->loop, &h->timer, ts_now() + (uint64_t)llround(delay * 1e9));
    h->next = ctx->holds;
    if (ctx->holds != NULL)
        ctx->holds->prev = h;
    ctx->holds = h;
    ctx->nholds++;
    return 0;
}

static void
unhold(struct ts_hold *h)
{
    struct ts_blocking *ctx = h->ctx;

    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        ctx->holds = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    ctx->nholds--;
    ts_timer_cancel(ctx->loop, &h->timer);
    free(h);
}

/* The delay is over: the job is back in its old place, offered as a returned tuple is. */
static void
on_hold(struct ts_loop *loop, void *arg)
{
    struct ts_hold *h = arg;
    struct ts_space *space = h->ctx->space;
    struct ts_tuple *t = h->t;

    (void)loop;
    unhold(h);
    ts_space_return(space, t, 0);
}

void
ts_blocking_dump(struct ts_blocking *ctx, struct ts_buf *out)
{
    struct ts_hold *h;

    for (h = ctx->holds; h != NULL; h = h->next) {
        ts_buf_addstr(out, "{\"retry\":{\"attempt\":");
        ts_buf_add_u64(out, h->t->failed + 1u);
        ts_buf_printf(out, ",\"due\":%.3f,\"tuple\":", h->due);
        ts_buf_add(out, ts_tuple_text(h->t), h->t->len);
        ts_buf_add(out, "}}\n", 3);
    }
}

void
ts_blocking_free(struct ts_blocking *ctx)
{
    while (ctx->holds != NULL)
        unhold(ctx->holds);
}
