/*
 * bulk.c: many tuples over one connection (see ts.h).
 *
 * Tuples are gathered into batches, {"op":"out","tuples":[...]}, each well
 * under the daemon's line limit.  A tuple of the simple subset (scan.h) is
 * written in canonical text, which the daemon reads without building JSON
 * values; others are checked with jansson and go as jansson writes them.
 * One batch is in flight while the next is gathered, so that this process
 * and the daemon work at the same time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctype.h>

#include "conn.h"
#include "mem.h"
#include "scan.h"
#include "tuple.h"

/* A batch goes out when it holds this many tuples or bytes. */
#define BATCH_TUPLES 4096
#define BATCH_BYTES (256u << 10) /* well under the daemon's default line limit */

static const char head[] = "{\"op\":\"out\",\"tuples\":[";

/* The input lines a batch's tuples came from, to name them in an error. */
struct lines {
    long *v;
    size_t n, cap;
};

struct ts_bulk {
    struct ts_conn *conn;
    struct ts_buf req;    /* the batch being gathered, a request without its end */
    size_t n;             /* tuples in it */
    struct ts_buf prefix; /* canonical text of the fields before each line, with commas */
    struct ts_buf tail;   /* what ends each request: "]}" and any options before the brace */
    uint32_t *off;        /* scratch for ts_scan_tuple */
    size_t offcap;
    int inflight;       /* batches sent and not answered */
    long line;          /* the input line of the next tuple (ts_bulk_at) */
    struct lines at[3]; /* lines of the batches in flight, oldest first, then of req */
};

static int receive(struct ts_bulk *b, char *err, size_t errlen);
static int send_batch(struct ts_bulk *b, char *err, size_t errlen);
static void next_tuple(struct ts_bulk *b);
static void drop_tuple(struct ts_bulk *b);

struct ts_bulk *
ts_bulk_new(struct ts_conn *conn)
{
    struct ts_bulk *b = ts_xcalloc(1, sizeof *b);

    if (b == NULL)
        return NULL;
    b->conn = conn;
    b->line = 1;
    ts_buf_add(&b->req, head, sizeof head - 1);
    ts_buf_add(&b->tail, "]}\n", 3);
    return b;
}

void
ts_bulk_at(struct ts_bulk *b, long line)
{
    b->line = line;
}

/*
 * Options go after the tuples, so a batch without them keeps the exact
 * form the daemon reads without jansson; one with them takes the long way.
 */
int
ts_bulk_with(struct ts_bulk *b, const struct ts_out_opts *o, char *err, size_t errlen)
{
    ts_buf_reset(&b->tail);
    ts_buf_add(&b->tail, "]", 1);
    if (o->ttl >= 0) {
        json_t *ttl = json_real(o->ttl);

        ts_buf_add(&b->tail, ",\"ttl\":", 7);
        ts_canon(ttl, &b->tail);
        json_decref(ttl);
    }
    if (o->pid != 0)
        ts_buf_printf(&b->tail, ",\"pid\":%ld", o->pid);
    ts_buf_add(&b->tail, "}\n", 2);
    if (o->unless != NULL) {
        snprintf(err, errlen, "unless cannot be used with a bulk run");
        return TS_EXIT_USAGE;
    }
    return b->tail.failed ? ts_conn_nomem(err, errlen) : TS_EXIT_OK;
}

int
ts_bulk_json(struct ts_bulk *b, const char *text, char *err, size_t errlen)
{
    size_t mark = ts_buf_len(&b->req), start, noff = 0;
    const char *end = text + strlen(text), *p;
    json_t *t;

    next_tuple(b);
    start = ts_buf_len(&b->req);
    p = ts_scan_tuple(text, end, &b->req, &b->off, &noff, &b->offcap);
    if (p != NULL && ts_scan_space(p, end) == end)
        return TS_EXIT_OK;
    b->req.end = b->req.start + start;
    t = ts_json_tuple(text, err, errlen);
    if (t == NULL) {
        b->req.end = b->req.start + mark;
        drop_tuple(b);
        return TS_EXIT_USAGE;
    }
    ts_canon(t, &b->req);
    json_decref(t);
    return b->req.failed ? ts_conn_nomem(err, errlen) : TS_EXIT_OK;
}

int
ts_bulk_prefix(struct ts_bulk *b, const json_t *fields, char *err, size_t errlen)
{
    size_t i;

    ts_buf_reset(&b->prefix);
    for (i = 0; i < json_array_size(fields); i++) {
        ts_canon(json_array_get(fields, i), &b->prefix);
        ts_buf_add(&b->prefix, ",", 1);
    }
    return b->prefix.failed ? ts_conn_nomem(err, errlen) : TS_EXIT_OK;
}

/* A line that a string can hold: UTF-8, and no NUL (which the daemon refuses). */
static int
string_ok(const char *line, size_t n, char *err, size_t errlen)
{
    size_t at;

    if (memchr(line, '\0', n) != NULL) {
        snprintf(err, errlen,
                 "holds a NUL byte, which a string cannot hold (for NUL-separated input use -0)");
        return 0;
    }
    if ((at = ts_utf8_check(line, n)) < n) {
        snprintf(err, errlen, "not valid UTF-8 (byte 0x%02x at offset %zu)",
                 (unsigned char)line[at], at);
        return 0;
    }
    return 1;
}

/* [prefix ..., value], the value's canonical text being added by the caller. */
static void
open_tuple(struct ts_bulk *b)
{
    next_tuple(b);
    ts_buf_add(&b->req, "[", 1);
    ts_buf_add(&b->req, ts_buf_head(&b->prefix), ts_buf_len(&b->prefix));
}

int
ts_bulk_line(struct ts_bulk *b, const char *line, size_t n, char *err, size_t errlen)
{
    if (!string_ok(line, n, err, errlen))
        return TS_EXIT_USAGE;
    open_tuple(b);
    ts_canon_string(line, n, &b->req);
    ts_buf_add(&b->req, "]", 1);
    return b->req.failed ? ts_conn_nomem(err, errlen) : TS_EXIT_OK;
}

int
ts_bulk_word(struct ts_bulk *b, const char *line, size_t n, int *respelled, char *err,
             size_t errlen)
{
    size_t mark0 = ts_buf_len(&b->req), mark;
    const char *end = line + n;
    char *copy;
    json_t *v;

    *respelled = 0;
    if (memchr(line, '\0', n) != NULL) {
        snprintf(err, errlen, "holds a NUL byte, which a field cannot hold");
        return TS_EXIT_USAGE;
    }
    open_tuple(b);
    /* Most lines (numbers, plain words) are read straight into canonical text. */
    mark = ts_buf_len(&b->req);
    if (n > 0 && !isspace((unsigned char)line[0]) && !isspace((unsigned char)end[-1]) &&
        ts_scan_value(line, end, &b->req) == end) {
        ts_buf_add(&b->req, "]", 1);
        return b->req.failed ? ts_conn_nomem(err, errlen) : TS_EXIT_OK;
    }
    b->req.end = b->req.start + mark;
    if ((copy = ts_xstrndup(line, n)) == NULL) {
        b->req.end = b->req.start + mark0;
        drop_tuple(b);
        return ts_conn_nomem(err, errlen);
    }
    v = ts_word_parse(copy, 0, err, errlen);
    *respelled = v != NULL && ts_word_respelled(copy);
    free(copy);
    if (v == NULL) {
        b->req.end = b->req.start + mark0;
        drop_tuple(b);
        return TS_EXIT_USAGE;
    }
    ts_canon(v, &b->req);
    json_decref(v);
    ts_buf_add(&b->req, "]", 1);
    return b->req.failed ? ts_conn_nomem(err, errlen) : TS_EXIT_OK;
}

int
ts_bulk_flush(struct ts_bulk *b, char *err, size_t errlen)
{
    if (b->n < BATCH_TUPLES && ts_buf_len(&b->req) < BATCH_BYTES)
        return TS_EXIT_OK;
    return send_batch(b, err, errlen);
}

int
ts_bulk_end(struct ts_bulk *b, char *err, size_t errlen)
{
    int rc = b->n > 0 ? send_batch(b, err, errlen) : TS_EXIT_OK;

    while (rc == TS_EXIT_OK && b->inflight > 0)
        rc = receive(b, err, errlen);
    ts_buf_free(&b->req);
    ts_buf_free(&b->prefix);
    ts_buf_free(&b->tail);
    free(b->off);
    free(b->at[0].v);
    free(b->at[1].v);
    free(b->at[2].v);
    free(b);
    return rc;
}

static void
next_tuple(struct ts_bulk *b)
{
    struct lines *l = &b->at[b->inflight];
    long *grown = ts_xgrow(l->v, &l->cap, l->n + 1, sizeof *l->v);

    if (b->n++ > 0)
        ts_buf_add(&b->req, ",", 1);
    /* Without memory for it, a line is not named: the tuple still goes. */
    if (grown != NULL) {
        l->v = grown;
        l->v[l->n++] = b->line;
    }
    b->line++;
}

/* Undo next_tuple for a tuple that was refused (its text is already cut). */
static void
drop_tuple(struct ts_bulk *b)
{
    struct lines *l = &b->at[b->inflight];

    b->n--;
    if (l->n > b->n)
        l->n = b->n;
}

/* Keep at most one batch unanswered. */
static int
send_batch(struct ts_bulk *b, char *err, size_t errlen)
{
    int rc;

    ts_buf_add(&b->req, ts_buf_head(&b->tail), ts_buf_len(&b->tail));
    if (b->req.failed)
        rc = ts_conn_nomem(err, errlen);
    else
        rc = ts_conn_write(b->conn, ts_buf_head(&b->req), ts_buf_len(&b->req), err, errlen);
    ts_buf_reset(&b->req);
    ts_buf_add(&b->req, head, sizeof head - 1);
    b->n = 0;
    if (rc != TS_EXIT_OK) {
        b->at[b->inflight].n = 0;
        return rc;
    }
    b->inflight++;
    b->at[b->inflight].n = 0;
    return b->inflight > 1 ? receive(b, err, errlen) : TS_EXIT_OK;
}

/*
 * The answer to the oldest batch in flight.  A refusal names the lines it
 * covers: the daemon counts the tuples of a batch from 1 ("tuple 3: ..."),
 * the user counts input lines.
 */
static int
receive(struct ts_bulk *b, char *err, size_t errlen)
{
    struct lines l = b->at[0];
    json_t *reply;
    char why[400], *end;
    long k;
    int rc = ts_conn_recv(b->conn, &reply, why, sizeof why);

    b->inflight--;
    b->at[0] = b->at[1];
    b->at[1] = b->at[2];
    b->at[2] = l;
    if (rc == TS_EXIT_OK)
        rc = ts_conn_status(reply, why, sizeof why);
    json_decref(reply);
    if (rc == TS_EXIT_OK)
        return rc;
    if (strncmp(why, "tuple ", 6) == 0 && (k = strtol(why + 6, &end, 10)) >= 1 &&
        (size_t)k <= l.n && strncmp(end, ": ", 2) == 0)
        snprintf(err, errlen, "line %ld: %s", l.v[k - 1], end + 2);
    else if (l.n == 1)
        snprintf(err, errlen, "line %ld: %s", l.v[0], why);
    else if (l.n > 1)
        snprintf(err, errlen, "lines %ld to %ld: %s", l.v[0], l.v[l.n - 1], why);
    else
        snprintf(err, errlen, "%s", why);
    return rc;
}
