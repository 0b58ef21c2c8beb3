/*
 * conn.h: talking to the daemon from a program (the commands use this; so
 * can any C program that wants to be a Linda worker).
 *
 * Every function returns one of the TS_EXIT_ statuses, the same table every
 * command uses as its exit status, and fills err with a one-line message
 * when the status is not TS_EXIT_OK.  Nothing here prints or exits.
 *
 * Ownership follows jansson: functions borrow the json_t they are given
 * unless their name ends in _new, and hand out new references.
 */
#ifndef TS_CONN_H
#define TS_CONN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define TS_EXIT_OK 0      /* done */
#define TS_EXIT_NOMATCH 1 /* no matching tuple within the timeout */
#define TS_EXIT_USAGE 2   /* usage error, bad tuple, template or request */
#define TS_EXIT_CONN 3    /* the daemon cannot be reached, or the connection broke */
#define TS_EXIT_FAIL 4    /* the daemon refused the request for another reason */

struct ts_conn {
    int fd;
    struct ts_buf in; /* bytes received, not yet returned as lines */
};

/* Connect to the daemon at path.  NULL with err (status TS_EXIT_CONN). */
struct ts_conn *ts_conn_open(const char *path, char *err, size_t errlen);
void ts_conn_close(struct ts_conn *conn);

/* Send one request. */
int ts_conn_send(struct ts_conn *conn, const json_t *req, char *err, size_t errlen);
/* Send one request already written as JSON text, its newline included. */
int ts_conn_send_text(struct ts_conn *conn, const char *text, size_t n, char *err,
                      size_t errlen);
/* Receive one reply line as a new reference in *reply. */
int ts_conn_recv(struct ts_conn *conn, json_t **reply, char *err, size_t errlen);
/* Is a complete reply line already buffered? */
int ts_conn_ready(struct ts_conn *conn);
/* The status a final reply line ({"ok":...}) stands for, with its message in err. */
int ts_conn_status(const json_t *reply, char *err, size_t errlen);
/* Send req and receive its final reply (for requests that produce no tuples). */
int ts_conn_call(struct ts_conn *conn, const json_t *req, json_t **reply, char *err,
                 size_t errlen);

/* Put one tuple. */
int ts_out(struct ts_conn *conn, const json_t *tuple, char *err, size_t errlen);

/*
 * A tuple an in or rd returned: its canonical text (tuple.h), with the
 * offset of each field's text in it.  ts_got_json parses it on demand and
 * keeps the result, a borrowed reference valid until the callback returns.
 */
struct ts_got {
    const char *text;
    size_t len;
    const uint32_t *off;
    uint32_t arity;
    json_t *json; /* NULL until ts_got_json */
};

const json_t *ts_got_json(struct ts_got *got);

/*
 * Called with each tuple an in or rd returns.  Return 0 to go on, or a
 * nonzero status to stop.  Before tuples are confirmed to the daemon (for
 * in, that takes them for good), it is called with NULL: make what was
 * seen durable then (flush output), or return nonzero to stop, and the
 * unconfirmed tuples go back to the space.
 */
typedef int ts_tuple_fn(struct ts_got *got, void *arg);

struct ts_query {
    const char *op;       /* "in" or "rd" */
    const json_t *tmpl;   /* wire template (see template.h) */
    double timeout;       /* seconds; negative waits for ever */
    long count;           /* tuples wanted, at least 1 */
    int all;              /* every match now, no waiting (count, timeout ignored) */
};

/* Run an in or rd; fn sees each tuple.  TS_EXIT_NOMATCH when none came. */
int ts_query(struct ts_conn *conn, const struct ts_query *q, ts_tuple_fn *fn, void *arg,
             char *err, size_t errlen);

#endif
