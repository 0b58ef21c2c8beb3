/*
 * wire.h: the protocol between clients and the daemon, in one place: its
 * version and limits, the requests and replies as they are written, and
 * the quick readers that take the common forms without jansson.
 *
 * Every message is one line of JSON.  A request is an object with an "op";
 * a reply to in or rd is zero or more tuple lines, {"id":N,"tuple":T} for a
 * take (the id is what the client acks) and {"tuple":T} for a read, then
 * one final line with "ok".  ts-protocol(7) is the reference.
 *
 * The quick readers take the exact forms clients send ({"op":"ack","id":N}
 * and friends, with tuples of the simple subset of scan.h) and return 0 for
 * anything else.  That is not an error: the caller then takes the long way
 * through jansson (the ts_wire_*_of functions), which accepts every valid
 * form and is where every error message comes from.  So the two ways agree
 * on what they accept; only their speed differs (fuzz-request checks it).
 */
#ifndef TS_WIRE_H
#define TS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

#define TS_PROTO_VERSION 1
#define TS_MAXLINE_DEFAULT (16u << 20) /* longest request line tsd accepts by default */
#define TS_TIMEOUT_MAX 1e9             /* seconds an in or rd may wait */
#define TS_COUNT_MAX 0x7fffffffL       /* larger counts are taken as this */
#define TS_EVAL_MAX 1024               /* workers one eval request may start */
#define TS_GRACE_DEFAULT 5.0           /* seconds from SIGTERM to SIGKILL when stopping workers */
#define TS_GRACE_MAX 3600.0            /* the longest grace period a stop request may ask for */
#define TS_TAIL_MAX 4096               /* bytes of a failed command's stderr kept for ts.error */

/* What an in or rd asks for. */
struct ts_ask {
    int take;       /* in: 1, rd: 0 */
    double timeout; /* seconds; negative: no limit */
    long want;      /* tuples wanted, 1 to TS_COUNT_MAX */
    int all;        /* every match now, without waiting */
};

/*
 * Tuples checked and in canonical text, to be stored together: a batch
 * goes in whole or not at all.
 */
struct ts_batch {
    struct ts_buf text; /* the tuples' texts, one after another */
    uint32_t *off;      /* field offsets, each from its own tuple's start */
    size_t noff, offcap;
    struct {
        size_t start; /* where the tuple's text starts in text */
        size_t first; /* where its field offsets start in off */
    } * at;
    size_t n, cap;
};

#define TS_BATCH_INIT                                                                              \
    {                                                                                              \
        TS_BUF_INIT, NULL, 0, 0, NULL, 0, 0                                                        \
    }

/* Tuple i of a batch: its text, length, offsets and arity (inline: once per tuple stored). */
static inline void
ts_batch_get(const struct ts_batch *b, size_t i, const char **text, size_t *len,
             const uint32_t **off, uint32_t *arity)
{
    size_t end = i + 1 < b->n ? b->at[i + 1].start : ts_buf_len(&b->text);
    size_t last = i + 1 < b->n ? b->at[i + 1].first : b->noff;

    *text = ts_buf_head(&b->text) + b->at[i].start;
    *len = end - b->at[i].start;
    *off = b->off + b->at[i].first;
    *arity = (uint32_t)(last - b->at[i].first);
}
void ts_batch_free(struct ts_batch *b);

/* Is the line blank (only spaces, tabs, a CR)?  Blank lines are no requests. */
int ts_wire_blank(const char *line, size_t len);

/* Quick readers: 1 when the line is of the fast form, 0 otherwise. */
int ts_wire_quick_ack(const char *line, size_t len, uint64_t *id);
int ts_wire_quick_out(const char *line, size_t len, struct ts_batch *b);
/* Sets *tmpl and *tmpllen to the template's text within the line. */
int ts_wire_quick_ask(const char *line, size_t len, struct ts_ask *a, const char **tmpl,
                      size_t *tmpllen);

/*
 * The long way, from a request object read by jansson.  Each returns 0, or
 * -1 with a message for the client in err.
 */
int ts_wire_version_of(const json_t *req, char *err, size_t errlen);
int ts_wire_ack_of(const json_t *req, uint64_t *id, char *err, size_t errlen);
int ts_wire_out_of(const json_t *req, struct ts_batch *b, char *err, size_t errlen);
/* Leaves the template (req's "tmpl") to the caller. */
int ts_wire_ask_of(const json_t *req, int take, struct ts_ask *a, char *err, size_t errlen);
/*
 * An out's "ttl" (seconds from 0 to TS_TIMEOUT_MAX; *ttl -1 when absent or
 * null) and "pid" (a process ID; *pid 0 when absent).  The quick reader
 * takes no out with these: they go this way.
 */
int ts_wire_put_of(const json_t *req, double *ttl, long *pid, char *err, size_t errlen);

/* Is this line an ack in any form (so a blocked client may send it)?  Sets *id. */
int ts_wire_is_ack(const char *line, size_t len, uint64_t *id);

/* Replies, each one whole line appended to out. */
void ts_wire_ok_n(struct ts_buf *out, uint64_t n);
void ts_wire_ok_pid(struct ts_buf *out, long pid);
/* A final error line; msg may be any bytes (it is made valid UTF-8). */
void ts_wire_error(struct ts_buf *out, const char *code, const char *msg);
/* A tuple line: with an id for a take, without (id 0) for a read (inline: once per delivery). */
static inline void
ts_wire_tuple(struct ts_buf *out, uint64_t id, const char *text, size_t len)
{
    if (id != 0) {
        ts_buf_add(out, "{\"id\":", 6);
        ts_buf_add_u64(out, id);
        ts_buf_add(out, ",\"tuple\":", 9);
    } else {
        ts_buf_add(out, "{\"tuple\":", 9);
    }
    ts_buf_add(out, text, len);
    ts_buf_add(out, "}\n", 2);
}
/*
 * A tuple line for a worker's take ("job":true): also the attempt this is
 * (1 for the first) and the job's number among those of the worker's name.
 */
void ts_wire_job_tuple(struct ts_buf *out, uint64_t id, unsigned attempt, uint64_t seq,
                       const char *text, size_t len);
/* Any JSON value as one compact line (the replies built with jansson). */
void ts_wire_json(struct ts_buf *out, const json_t *v);

/* Requests, as clients write them. */
void ts_wire_ack(struct ts_buf *out, uint64_t id);

/*
 * A tuple line as the daemon writes it, read into canonical text (text,
 * reset first) and field offsets (*off, a growable array of *offcap).
 * Returns 1 and sets *arity and *id (-1 for a read) for a tuple line, 0
 * for any other line (the final one), -1 when the line is unreadable.
 */
int ts_wire_read_tuple(const char *line, size_t len, struct ts_buf *text, uint32_t **off,
                       size_t *offcap, uint32_t *arity, int64_t *id);

#endif
