/*
 * events.h: the event stream: what happens to tuples, waiters and workers,
 * told as it happens to whoever follows it (ts-dump -f).
 *
 * A leaf.  The modules where things happen call ts_events_emit: the space
 * (out, take, return, expire, gone), the blocking code (a waiter starts and
 * ends), the server for the workers' hooks and for shutdown.  The serving
 * layer subscribes followers (follow.h).  It calls nothing of the daemon
 * but the subscribers' sinks, and a sink must not call back into it.
 *
 * An event is one line of JSON, made once and handed to every subscriber
 * whose filter it passes:
 *
 *   {"event":KIND,"time":SECONDS,"pid":PID,"tuple":T,MORE...}
 *
 * "pid" is the process the event concerns (the client that put or took,
 * the waiter, the worker, the process a tuple lived with), null when there
 * is none (a lease that expired); "tuple" is there when the event is about
 * one.  Emitters assemble MORE only when ts_events_on says someone listens,
 * so a daemon nobody follows pays one test per event.
 *
 * A subscriber's filter is a template.  A tuple event passes when its tuple
 * matches; a waiter event when its template may match the same tuples
 * (ts_tmpl_overlap); any other event (a worker starting or exiting) only
 * when there is no filter, except shutdown, which every subscriber gets.
 */
#ifndef TS_EVENTS_H
#define TS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "template.h"

enum ts_event_kind {
    TS_EV_OUT,          /* a tuple was put */
    TS_EV_TAKE,         /* a taker confirmed a tuple: it is gone */
    TS_EV_RETURN,       /* a tuple lent to a client came back unconfirmed */
    TS_EV_EXPIRE,       /* a lease reached its deadline */
    TS_EV_GONE,         /* the process a tuple lived with ended */
    TS_EV_WAIT_START,   /* a request started waiting */
    TS_EV_WAIT_END,     /* ... and stopped */
    TS_EV_WORKER_START, /* ts-eval started a worker */
    TS_EV_WORKER_EXIT,  /* a worker ended */
    TS_EV_WORKER_ERROR, /* a worker's command failed */
    TS_EV_SHUTDOWN,     /* the daemon stops */
};

struct ts_event {
    enum ts_event_kind kind;
    long pid;                 /* the process it concerns; 0: none */
    const char *text;         /* the tuple's canonical text, or NULL */
    size_t len;               /* its length */
    const uint32_t *off;      /* its field offsets (for the filters) */
    uint32_t arity;           /* its fields */
    const struct ts_tmpl *tm; /* a waiter's template, or NULL */
    const char *more;         /* more members as JSON text ("\"op\":\"in\",..."), or NULL */
    size_t morelen;
};

/* Take one event line (newline included).  It must not call the events module. */
typedef void ts_event_sink(void *arg, const char *line, size_t len);

struct ts_subscriber;

struct ts_events {
    struct ts_subscriber *subs; /* in the order they subscribed */
    size_t n;                   /* how many */
    struct ts_buf line;         /* the event being told */
};

void ts_events_init(struct ts_events *ev);
/* Frees every subscriber still there. */
void ts_events_free(struct ts_events *ev);

/* Does anybody listen? */
static inline int
ts_events_on(const struct ts_events *ev)
{
    return ev != NULL && ev->n > 0;
}

/* Add a subscriber with filter tm (NULL: every event); takes tm. */
struct ts_subscriber *ts_events_subscribe(struct ts_events *ev, struct ts_tmpl *tm,
                                          ts_event_sink *sink, void *arg);
void ts_events_unsubscribe(struct ts_events *ev, struct ts_subscriber *s);

/* Tell every subscriber whose filter e passes. */
void ts_events_emit(struct ts_events *ev, const struct ts_event *e);

/*
 * May a and b match the same tuple?  Same arity, and at each position two
 * literals that are equal, or a literal of a type a typed formal accepts;
 * anything else is taken as possible.
 */
int ts_tmpl_overlap(const struct ts_tmpl *a, const struct ts_tmpl *b);

#endif
