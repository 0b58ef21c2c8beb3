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

#include "conn.h"
#include "mem.h"
#include "scan.h"
#include "tuple.h"

/* A batch goes out when it holds this many tuples or bytes. */
#define BATCH_TUPLES 4096
#define BATCH_BYTES (256u << 10) /* well under the daemon's default line limit */

static const char head[] = "{\"op\":\"out\",\"tuples\":[";

struct ts_bulk {
    struct ts_conn *conn;
    struct ts_buf req;    /* the batch being gathered, a request without its end */
    size_t n;             /* tuples in it */
    struct ts_buf prefix; /* canonical text of the fields before each line, with commas */
    uint32_t *off;        /* scratch for ts_scan_tuple */
    size_t offcap;
    int inflight; /* batches sent and not answered */
};

static int receive(struct ts_bulk *b, char *err, size_t errlen);
static int send_batch(struct ts_bulk *b, char *err, size_t errlen);
static void next_tuple(struct ts_bulk *b);

struct ts_bulk *
ts_bulk_new(struct ts_conn *conn)
{
    struct ts_bulk *b = ts_xcalloc(1, sizeof *b);

    if (b == NULL)
        return NULL;
    b->conn = conn;
    ts_buf_add(&b->req, head, sizeof head - 1);
    return b;
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
        b->n--;
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

int
ts_bulk_line(struct ts_bulk *b, const char *line, size_t n, char *err, size_t errlen)
{
    size_t i;

    /* jansson knows UTF-8; ask it only when there is more than ASCII. */
    for (i = 0; i < n && (unsigned char)line[i] < 0x80; i++)
        ;
    if (i < n) {
        json_t *s = json_stringn(line, n);

        if (s == NULL) {
            snprintf(err, errlen, "not valid UTF-8");
            return TS_EXIT_USAGE;
        }
        json_decref(s);
    }
    next_tuple(b);
    ts_buf_add(&b->req, "[", 1);
    ts_buf_add(&b->req, ts_buf_head(&b->prefix), ts_buf_len(&b->prefix));
    ts_canon_string(line, n, &b->req);
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
    free(b->off);
    free(b);
    return rc;
}

static void
next_tuple(struct ts_bulk *b)
{
    if (b->n++ > 0)
        ts_buf_add(&b->req, ",", 1);
}

/* Keep at most one batch unanswered. */
static int
send_batch(struct ts_bulk *b, char *err, size_t errlen)
{
    int rc;

    ts_buf_add(&b->req, "]}\n", 3);
    if (b->req.failed)
        rc = ts_conn_nomem(err, errlen);
    else
        rc = ts_conn_write(b->conn, ts_buf_head(&b->req), ts_buf_len(&b->req), err, errlen);
    ts_buf_reset(&b->req);
    ts_buf_add(&b->req, head, sizeof head - 1);
    b->n = 0;
    if (rc != TS_EXIT_OK)
        return rc;
    b->inflight++;
    return b->inflight > 1 ? receive(b, err, errlen) : TS_EXIT_OK;
}

static int
receive(struct ts_bulk *b, char *err, size_t errlen)
{
    json_t *reply;
    int rc = ts_conn_recv(b->conn, &reply, err, errlen);

    b->inflight--;
    if (rc == TS_EXIT_OK)
        rc = ts_conn_status(reply, err, errlen);
    json_decref(reply);
    return rc;
}
