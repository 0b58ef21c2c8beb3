/*
 * query.c: in and rd from the client's side: tuples as they come, and the
 * confirmation that makes a take final (see ts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "wire.h"

static json_t *request(const char *op, const json_t *tmpl, double timeout, long count, int all);
static int confirm(struct ts_conn *conn, int64_t id, ts_tuple_fn *fn, void *arg, char *err,
                   size_t errlen);
static int one(struct ts_conn *conn, const char *op, const json_t *tmpl, double timeout,
               json_t **tuple, uint64_t *id, char *err, size_t errlen);

const json_t *
ts_got_json(struct ts_got *got)
{
    if (got->json == NULL)
        got->json = json_loadb(got->text, got->len, 0, NULL);
    return got->json;
}

static json_t *
request(const char *op, const json_t *tmpl, double timeout, long count, int all)
{
    json_t *req = json_pack("{s:s, s:O}", "op", op, "tmpl", tmpl);

    if (req == NULL)
        return NULL;
    if (all) {
        json_object_set_new(req, "all", json_true());
        return req;
    }
    if (timeout >= 0)
        json_object_set_new(req, "timeout", json_real(timeout));
    if (count != 1)
        json_object_set_new(req, "count", json_integer(count));
    return req;
}

/* Let the caller make what it has seen durable, then confirm it. */
static int
confirm(struct ts_conn *conn, int64_t id, ts_tuple_fn *fn, void *arg, char *err, size_t errlen)
{
    if (fn(NULL, arg) != TS_EXIT_OK) {
        snprintf(err, errlen, "stopped before confirming a tuple");
        return TS_EXIT_FAIL;
    }
    return ts_confirm(conn, (uint64_t)id, err, errlen);
}

int
ts_query(struct ts_conn *conn, const struct ts_query *q, ts_tuple_fn *fn, void *arg, char *err,
         size_t errlen)
{
    json_t *req = request(q->op, q->tmpl, q->timeout, q->count, q->all), *reply;
    struct ts_buf text = TS_BUF_INIT;
    uint32_t *off = NULL;
    size_t offcap = 0;
    int64_t unacked = -1, id;
    int rc, final = 0;
    char cerr[200];

    if (req == NULL)
        return ts_conn_nomem(err, errlen);
    rc = ts_conn_send(conn, req, err, errlen);
    json_decref(req);
    while (rc == TS_EXIT_OK) {
        struct ts_got got;
        char *line;
        size_t len;
        int kind;

        rc = ts_conn_line(conn, &line, &len, err, errlen);
        if (rc != TS_EXIT_OK)
            break;
        kind = ts_wire_read_tuple(line, len, &text, &off, &offcap, &got.arity, &id);
        if (kind <= 0) {
            rc = ts_conn_parse(line, len, &reply, err, errlen);
            ts_buf_consume(&conn->in, len + 1);
            if (rc == TS_EXIT_OK) {
                rc = ts_conn_status(reply, err, errlen);
                final = 1;
            }
            json_decref(reply);
            break;
        }
        got.text = ts_buf_head(&text);
        got.len = ts_buf_len(&text);
        got.off = off;
        got.json = NULL;
        ts_buf_consume(&conn->in, len + 1);
        rc = fn(&got, arg);
        json_decref(got.json);
        if (rc != TS_EXIT_OK) {
            snprintf(err, errlen, "stopped before confirming a tuple");
            break;
        }
        if (id >= 0)
            unacked = id;
        /* Confirm cumulatively, once nothing more is already waiting to be read. */
        if (unacked >= 0 && !ts_conn_ready(conn)) {
            rc = confirm(conn, unacked, fn, arg, err, errlen);
            unacked = -1;
        }
    }
    /*
     * What fn took was dealt with, even when the request ended with an
     * error after it (a "costly" one, see ts-protocol(7)): confirm it, and
     * report the request's error rather than the confirmation's.
     */
    if (final && unacked >= 0 && rc != TS_EXIT_OK)
        confirm(conn, unacked, fn, arg, cerr, sizeof cerr);
    else if (rc == TS_EXIT_OK && unacked >= 0)
        rc = confirm(conn, unacked, fn, arg, err, errlen);
    ts_buf_free(&text);
    free(off);
    return rc;
}

/* One in or rd of one tuple, left unconfirmed. */
static int
one(struct ts_conn *conn, const char *op, const json_t *tmpl, double timeout, json_t **tuple,
    uint64_t *id, char *err, size_t errlen)
{
    json_t *req = request(op, tmpl, timeout, 1, 0), *reply, *t;
    int rc;

    *tuple = NULL;
    if (req == NULL)
        return ts_conn_nomem(err, errlen);
    rc = ts_conn_send(conn, req, err, errlen);
    json_decref(req);
    if (rc == TS_EXIT_OK)
        rc = ts_conn_recv(conn, &reply, err, errlen);
    if (rc != TS_EXIT_OK)
        return rc;
    if ((t = json_object_get(reply, "tuple")) == NULL) {
        rc = ts_conn_status(reply, err, errlen);
        json_decref(reply);
        return rc == TS_EXIT_OK ? TS_EXIT_CONN : rc;
    }
    *tuple = json_incref(t);
    if (id != NULL)
        *id = (uint64_t)json_integer_value(json_object_get(reply, "id"));
    json_decref(reply);
    /* Then the final line. */
    rc = ts_conn_recv(conn, &reply, err, errlen);
    if (rc == TS_EXIT_OK)
        rc = ts_conn_status(reply, err, errlen);
    json_decref(reply);
    if (rc != TS_EXIT_OK) {
        json_decref(*tuple);
        *tuple = NULL;
    }
    return rc;
}

int
ts_take(struct ts_conn *conn, const json_t *tmpl, double timeout, json_t **tuple, uint64_t *id,
        char *err, size_t errlen)
{
    return one(conn, "in", tmpl, timeout, tuple, id, err, errlen);
}

int
ts_read(struct ts_conn *conn, const json_t *tmpl, double timeout, json_t **tuple, char *err,
        size_t errlen)
{
    return one(conn, "rd", tmpl, timeout, tuple, NULL, err, errlen);
}
