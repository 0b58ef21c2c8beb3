/*
 * follow.c: a client that follows the event stream (see follow.h).
 */
#include <stdlib.h>

#include "follow.h"
#include "mem.h"

struct ts_follow {
    struct ts_client *c;
    struct ts_events *events;
    struct ts_subscriber *sub;
    uint64_t dropped; /* events not sent since the last "dropped" line */
};

static void sink(void *arg, const char *line, size_t len);

struct ts_follow *
ts_follow_start(struct ts_client *c, struct ts_events *events, struct ts_tmpl *tm)
{
    struct ts_follow *f = ts_xcalloc(1, sizeof *f);

    f->c = c;
    f->events = events;
    f->sub = ts_events_subscribe(events, tm, sink, f);
    return f;
}

void
ts_follow_stop(struct ts_follow *f)
{
    ts_events_unsubscribe(f->events, f->sub);
    free(f);
}

void
ts_follow_drained(struct ts_follow *f)
{
    struct ts_buf *out = &f->c->out;

    if (f->dropped == 0 || ts_buf_len(out) > TS_OUT_LOW)
        return;
    ts_buf_add(out, "{\"dropped\":", 11);
    ts_buf_add_u64(out, f->dropped);
    ts_buf_add(out, "}\n", 2);
    f->dropped = 0;
    ts_client_touch(f->c, 0);
}

/* An event: queued, unless the backlog is full or events are being dropped. */
static void
sink(void *arg, const char *line, size_t len)
{
    struct ts_follow *f = arg;
    size_t queued;

    if (f->dropped > 0)
        ts_follow_drained(f);
    queued = ts_buf_len(&f->c->out);
    if (f->dropped > 0 || (queued > 0 && queued + len > TS_FOLLOW_MAX)) {
        f->dropped++;
        return;
    }
    ts_buf_add(&f->c->out, line, len);
    ts_client_touch(f->c, 0);
}
