/*
 * events.c: the event stream (see events.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "mem.h"
#include "tuple.h"

struct ts_subscriber {
    struct ts_tmpl *tm; /* filter, or NULL */
    ts_event_sink *sink;
    void *arg;
    struct ts_subscriber *prev;
    struct ts_subscriber *next;
};

static const char *const kinds[] = {
    [TS_EV_OUT] = "out",
    [TS_EV_TAKE] = "take",
    [TS_EV_RETURN] = "return",
    [TS_EV_EXPIRE] = "expire",
    [TS_EV_GONE] = "gone",
    [TS_EV_WAIT_START] = "wait-start",
    [TS_EV_WAIT_END] = "wait-end",
    [TS_EV_WORKER_START] = "worker-start",
    [TS_EV_WORKER_EXIT] = "worker-exit",
    [TS_EV_WORKER_ERROR] = "worker-error",
    [TS_EV_SHUTDOWN] = "shutdown",
};

static int passes(const struct ts_subscriber *s, const struct ts_event *e);

void
ts_events_init(struct ts_events *ev)
{
    memset(ev, 0, sizeof *ev);
}

void
ts_events_free(struct ts_events *ev)
{
    while (ev->subs != NULL)
        ts_events_unsubscribe(ev, ev->subs);
    ts_buf_free(&ev->line);
}

struct ts_subscriber *
ts_events_subscribe(struct ts_events *ev, struct ts_tmpl *tm, ts_event_sink *sink, void *arg)
{
    struct ts_subscriber *s = ts_xcalloc(1, sizeof *s), **pp;

    s->tm = tm;
    s->sink = sink;
    s->arg = arg;
    for (pp = &ev->subs; *pp != NULL; pp = &(*pp)->next)
        s->prev = *pp;
    *pp = s;
    ev->n++;
    return s;
}

void
ts_events_unsubscribe(struct ts_events *ev, struct ts_subscriber *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        ev->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    ev->n--;
    ts_tmpl_free(s->tm);
    free(s);
}

static int
passes(const struct ts_subscriber *s, const struct ts_event *e)
{
    if (s->tm == NULL || e->kind == TS_EV_SHUTDOWN)
        return 1;
    if (e->text != NULL)
        /* One too costly to tell may match: the follower sees it. */
        return ts_tmpl_match(s->tm, e->text, e->len, e->off, e->arity, NULL) != 0;
    if (e->tm != NULL)
        return ts_tmpl_overlap(s->tm, e->tm);
    return 0;
}

void
ts_events_emit(struct ts_events *ev, const struct ts_event *e)
{
    struct ts_subscriber *s;
    struct timespec now;
    int made = 0;

    for (s = ev->subs; s != NULL; s = s->next) {
        if (!passes(s, e))
            continue;
        /* Made for the first subscriber that wants it, and only then. */
        if (!made) {
            struct ts_buf *b = &ev->line;

            clock_gettime(CLOCK_REALTIME, &now);
            ts_buf_reset(b);
            ts_buf_printf(b, "{\"event\":\"%s\",\"time\":%lld.%06ld,\"pid\":", kinds[e->kind],
                          (long long)now.tv_sec, now.tv_nsec / 1000);
            if (e->pid > 0)
                ts_buf_add_u64(b, (uint64_t)e->pid);
            else
                ts_buf_add(b, "null", 4);
            if (e->text != NULL) {
                ts_buf_add(b, ",\"tuple\":", 9);
                ts_buf_add(b, e->text, e->len);
            }
            if (e->more != NULL && e->morelen > 0) {
                ts_buf_add(b, ",", 1);
                ts_buf_add(b, e->more, e->morelen);
            }
            ts_buf_add(b, "}\n", 2);
            made = 1;
        }
        s->sink(s->arg, ts_buf_head(&ev->line), ts_buf_len(&ev->line));
    }
}

int
ts_tmpl_overlap(const struct ts_tmpl *a, const struct ts_tmpl *b)
{
    uint32_t i;

    if (a->arity != b->arity)
        return 0;
    for (i = 0; i < a->arity; i++) {
        const struct ts_tfield *x = &a->f[i], *y = &b->f[i];

        if (x->kind != TS_F_LIT) {
            const struct ts_tfield *t = x;

            x = y;
            y = t;
        }
        if (x->kind != TS_F_LIT)
            continue;
        if (y->kind == TS_F_LIT &&
            (x->litlen != y->litlen || memcmp(x->lit, y->lit, x->litlen) != 0))
            return 0;
        if (y->kind == TS_F_TYPE && (y->types & ts_field_type(x->lit, x->litlen)) == 0)
            return 0;
    }
    return 1;
}
