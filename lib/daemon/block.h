/*
 * block.h: what a client waits for and what it holds.
 *
 * Blocking
 * --------
 * A client has at most one request in progress.  Most are answered at
 * once; two kinds wait, and enum ts_wait says which:
 *
 *   TS_WAIT_TUPLES   an in or rd that wants more than the store holds now.
 *                    It is filed as a waiter in the space (space.h) and
 *                    gets tuples as they arrive, until it has its count,
 *                    its timeout fires, or the client goes away.
 *   TS_WAIT_WORKERS  ts-eval -k: the reply comes when the workers it stops
 *                    are gone (worker.h reports that through the server).
 *   TS_WAIT_DONE     ts-eval --wait: the reply comes when the jobs of a
 *                    worker name are all done (worker.h decides, and
 *                    reports through the server).
 *   TS_WAIT_EVENTS   a follow: the client gets the event stream (follow.h)
 *                    for as long as it stays connected.
 *
 * While a client waits, the session serves only its acks (session.h).
 * Every wait ends through ts_block_end, which writes nothing itself but
 * lets the client's next requests be served: the one unblock path.
 *
 * Confirm before taken
 * --------------------
 * A tuple delivered to an in is lent, not removed (space.h).  Each lent
 * tuple gets a delivery id, increasing on the connection, and goes on the
 * client's lent list in delivery order.  An ack of id N confirms every lent
 * tuple with an id up to N: they are removed for good.  The list is a
 * window over an array: confirmed entries at its front are dropped, and
 * the array is compacted as it fills, so its size follows what is lent
 * now, not what was ever lent.
 *
 * When the client goes away, its waiter is withdrawn first (so it is never
 * handed another tuple) and then every tuple still lent to it is returned
 * to the space, in the order it was delivered, to its old place.
 *
 * A client that does not read
 * ---------------------------
 * A waiting request keeps receiving tuples only while its client reads
 * them.  Once the replies queued for the client pass its output limit
 * (TS_OUT_HIGH, session.h), the request is paused: withdrawn from the
 * waiters, so it is offered nothing more, while it still counts as
 * waiting (its timeout runs, ts-dump -w lists it as paused).  A paused in
 * takes nothing, so other takers get the tuples; it may have lent a
 * little over the limit's worth.  When the client has read its queue down
 * to half the limit, the request resumes: an in takes what matches from
 * the store, as a new request would; an rd reads the stored matches newer
 * than the last one it was sent, and so misses the tuples that came and
 * were taken while it was paused.  So a client that stops reading costs
 * the daemon at most its output limit and one tuple, whatever it asked
 * for.  Requests that do not wait (a timeout of 0, or all) are one reply,
 * built at once, and are not paused.
 *
 * Jobs held for a retry
 * ---------------------
 * A worker whose command failed and may try again gives its job back with
 * a delay (the "job" request with outcome "retry", ops.c).  In one step the
 * tuple leaves the worker's lent list, its failed-attempt count goes up
 * (store.h keeps it in the tuple), and it is held, still lent to nobody
 * and so hidden, until its timer fires; then it is returned to its old
 * place in the space and offered like any returned tuple.  One step, so a
 * worker killed at any moment leaves the job either lent to it (and
 * returned when it dies, its count unchanged) or held: never lost, never
 * twice.  Holds belong to the space, not to a client: the worker may be
 * gone long before the job comes back.
 * A waiter's start and end are events (events.h): "wait-start" when it
 * starts waiting, "wait-end" when it stops, with why: "got" (what it asked
 * for), "timeout" or "lost" (the client went away).  Pausing neither ends
 * nor starts a wait.  A request served without waiting has neither.
 *
 * Too costly
 * ----------
 * An in or rd whose template cannot tell a tuple within the regular
 * expression budget (template.h) ends at once with a "costly" error line,
 * after whatever tuples it was sent; what it took stays lent until acked
 * or the client goes, as always.
 *
 * Timeouts
 * --------
 * A wait with a timeout has a timer in the loop's heap.  At the deadline
 * the waiter is withdrawn and the request finishes with what it got: "n"
 * tuples, or "nomatch" if none.  A timeout of 0 never waits at all.
 */
#ifndef TS_BLOCK_H
#define TS_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "space.h"
#include "wire.h"

struct ts_client;
struct ts_follow;
struct ts_journal;
struct ts_worker;
struct ts_workers;

enum ts_wait {
    TS_WAIT_NONE,    /* nothing in progress */
    TS_WAIT_TUPLES,  /* an in or rd */
    TS_WAIT_WORKERS, /* ts-eval -k, until its workers are gone */
    TS_WAIT_DONE,    /* ts-eval --wait, until a name's jobs are done */
    TS_WAIT_EVENTS,  /* a follow, until the client goes */
};

struct ts_lent {
    struct ts_tuple *t; /* the lent tuple */
    uint64_t id;        /* delivery id the client acks */
    double since;       /* wall clock when it was lent, to a few milliseconds */
};

/* A job given back for a retry, hidden until its timer fires. */
struct ts_hold {
    struct ts_tuple *t;
    struct ts_timer timer;
    double due; /* wall clock, for ts-dump */
    struct ts_blocking *ctx;
    struct ts_hold *prev, *next;
};

/* What the blocking code of every client shares. */
struct ts_blocking {
    struct ts_space *space;
    struct ts_loop *loop;
    struct ts_journal *journal; /* the durable space's log (tsd -D), or NULL */
    int failing;                /* its last write failed (logged once, not per request) */
    uint64_t writes;            /* successful writes to it, counted ... */
    uint64_t synced;            /* ... and how many of them are synced (sync always) */
    uint64_t synced_seq;        /* every tuple up to this seq is synced (sync always) */
    struct ts_workers *workers; /* to know a worker's connection, and to stop waiting for some */
    struct ts_hold *holds;      /* jobs held for a retry, newest first */
    size_t nholds;
};

struct ts_block {
    struct ts_client *client; /* whose this is */
    struct ts_blocking *ctx;
    enum ts_wait why; /* what the request in progress waits for */

    /* The in or rd being served, valid while why is TS_WAIT_TUPLES or delivering. */
    struct ts_waiter w; /* w.tm is the template, w.owner this block */
    char *tmpl_text;    /* the wire text w.tm was compiled from, if known */
    size_t tmpl_len;
    long want;             /* tuples asked for in all; -1 for no limit */
    long got;              /* tuples delivered for this request */
    struct ts_timer timer; /* its deadline, if it has one */
    double since;          /* wall-clock time it started waiting */
    double timeout;        /* its timeout in seconds, -1 for none */
    int now;               /* it does not wait: one reply, never paused */
    int paused;            /* over the output limit: not among the waiters */
    int waiting;           /* its wait-start was told (events.h), its wait-end not yet */
    uint64_t after;        /* rd: the last stored tuple it was sent */

    struct ts_lent *lent; /* tuples lent and not acked, by id */
    size_t lent0;         /* first live entry of lent */
    size_t nlent;         /* one past the last entry */
    size_t lentcap;
    uint64_t next_id;         /* last delivery id handed out */
    struct ts_worker *worker; /* the eval worker this client is, or NULL */
    uint64_t need;            /* its output waits until this many journal writes are synced */
    int job;                  /* the in being served is a worker's ("job":true) */
    struct ts_follow *follow; /* the event stream it follows, or NULL */
};

/* A new client's state; the client may be one of the eval workers. */
struct ts_block *ts_block_new(struct ts_client *c, struct ts_blocking *ctx);
/* The client is lost: withdraw its waiter, return what it holds, free b. */
void ts_block_lost(struct ts_block *b);

/*
 * The template the client asks with, and the wire text it was compiled
 * from (the bytes sent, or jansson's compact text of them).  A worker asks
 * with the same template every time: ts_block_same_text tells whether it
 * can be used again as it is.  Takes tm.
 */
void ts_block_template(struct ts_block *b, struct ts_tmpl *tm, const char *text, size_t len);
int ts_block_same_text(const struct ts_block *b, const char *text, size_t len);

/* Serve an in or rd with the current template: now, or by waiting. */
void ts_block_ask(struct ts_block *b, const struct ts_ask *a);

/* The space's delivery callback (space.h): queue t for the waiter's client. */
int ts_block_deliver(struct ts_waiter *w, struct ts_tuple *t, void *arg);
/* The space's costly callback (space.h): the request ends with a "costly" error. */
void ts_block_costly(struct ts_waiter *w, const char *why, void *arg);

/*
 * The client's queued output is down to half its limit: resume a paused
 * request; a follower that dropped events says how many (follow.h).
 */
void ts_block_drained(struct ts_block *b);

/*
 * An ack: confirm every lent tuple with an id up to upto.  In a durable
 * space the deletions are logged first, in one write; if that write fails
 * the tuples are deleted all the same, and logged as such: a restart before
 * the next compaction brings them back, which the at-least-once rule allows.
 */
void ts_block_confirm(struct ts_block *b, uint64_t upto);

/*
 * Write what was appended to the journal.  -1 with errno when it failed
 * (the records are dropped); the first failure of a run, and the first
 * success after it, go to the log.
 */
int ts_blocking_write(struct ts_blocking *bl);

/* Is id lent to this client and not yet confirmed? */
int ts_block_lends(const struct ts_block *b, uint64_t id);
/*
 * Give the tuple lent as id back for a retry: it counts one more failed
 * attempt and is hidden for delay seconds (see Jobs held for a retry).
 * -1 if id is not lent to this client.
 */
int ts_block_retry(struct ts_block *b, uint64_t id, double delay);
/* Append one {"retry":...} line per held job to out (ts-dump -w). */
void ts_blocking_dump(struct ts_blocking *ctx, struct ts_buf *out);
/* Forget every hold (at shutdown, before the space is freed). */
void ts_blocking_free(struct ts_blocking *ctx);

/* Wait for workers to stop, or for jobs to be done; ts_block_end ends it. */
void ts_block_wait(struct ts_block *b, enum ts_wait why);
/* The wait is over: the client's later requests may be served. */
void ts_block_end(struct ts_block *b);

#endif
