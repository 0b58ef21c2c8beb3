/*
 * conn.c: the client end of the wire protocol (see conn.h, ts-protocol(7)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "scan.h"
#include "sockpath.h"
#include "tuple.h"
#include "xmalloc.h"

static int send_all(struct ts_conn *conn, const char *p, size_t n, char *err, size_t errlen);
static int last_word(struct ts_conn *conn, char *err, size_t errlen);

struct ts_conn *
ts_conn_open(const char *path, char *err, size_t errlen)
{
    struct ts_conn *conn;
    int fd = ts_sock_connect(path);

    if (fd < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            snprintf(err, errlen, "no daemon at %s (start one with: eval \"$(tsd -d)\")", path);
        else
            snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
        return NULL;
    }
    /*
     * Whoever made the socket could be another user who got to a shared
     * directory first: talk only to a daemon running as ourselves.
     */
    {
        struct ucred cred = {0, (uid_t)-1, (gid_t)-1};
        socklen_t len = sizeof cred;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
            snprintf(err, errlen, "the daemon at %s runs as uid %ld, not as us: refusing to use it",
                     path, (long)cred.uid);
            close(fd);
            return NULL;
        }
    }
    conn = xcalloc(1, sizeof *conn);
    conn->fd = fd;
    return conn;
}

void
ts_conn_close(struct ts_conn *conn)
{
    if (conn == NULL)
        return;
    close(conn->fd);
    ts_buf_free(&conn->in);
    free(conn);
}

static int
send_all(struct ts_conn *conn, const char *p, size_t n, char *err, size_t errlen)
{
    while (n > 0) {
        ssize_t w = send(conn->fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "connection to the daemon lost: %s", strerror(errno));
            return last_word(conn, err, errlen);
        }
        p += w;
        n -= (size_t)w;
    }
    return TS_EXIT_OK;
}

/*
 * The daemon may close a connection it refuses (another uid, a line too
 * long) while we are still sending: its reason is then waiting to be read,
 * and says more than "broken pipe".
 */
static int
last_word(struct ts_conn *conn, char *err, size_t errlen)
{
    char why[300];
    json_t *reply;
    int rc = TS_EXIT_CONN;

    if (ts_conn_recv(conn, &reply, why, sizeof why) == TS_EXIT_OK &&
        json_object_get(reply, "tuple") == NULL &&
        !json_is_true(json_object_get(reply, "ok")))
        rc = ts_conn_status(reply, err, errlen);
    json_decref(reply);
    return rc;
}

int
ts_conn_send(struct ts_conn *conn, const json_t *req, char *err, size_t errlen)
{
    size_t n = json_dumpb(req, NULL, 0, JSON_COMPACT);
    char *line = xmalloc(n + 1);
    int rc;

    json_dumpb(req, line, n, JSON_COMPACT);
    line[n] = '\n';
    rc = send_all(conn, line, n + 1, err, errlen);
    free(line);
    return rc;
}

int
ts_conn_send_text(struct ts_conn *conn, const char *text, size_t n, char *err, size_t errlen)
{
    return send_all(conn, text, n, err, errlen);
}

int
ts_conn_ready(struct ts_conn *conn)
{
    return ts_buf_has_line(&conn->in);
}

/* The next reply line, without its newline; consume len + 1 after use. */
static int
recv_line(struct ts_conn *conn, char **line, long *len, char *err, size_t errlen)
{
    while ((*len = ts_buf_line(&conn->in, line)) < 0) {
        ssize_t n = read(conn->fd, ts_buf_space(&conn->in, 65536), 65536);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "connection to the daemon lost%s%s", n < 0 ? ": " : "",
                     n < 0 ? strerror(errno) : "");
            return TS_EXIT_CONN;
        }
        ts_buf_commit(&conn->in, (size_t)n);
    }
    return TS_EXIT_OK;
}

static int
parse_reply(const char *line, long len, json_t **reply, char *err, size_t errlen)
{
    json_error_t e;

    *reply = json_loadb(line, (size_t)len, 0, &e);
    if (!json_is_object(*reply)) {
        json_decref(*reply);
        *reply = NULL;
        snprintf(err, errlen, "unreadable reply from the daemon: %s", e.text);
        return TS_EXIT_CONN;
    }
    return TS_EXIT_OK;
}

int
ts_conn_recv(struct ts_conn *conn, json_t **reply, char *err, size_t errlen)
{
    char *line;
    long len;
    int rc = recv_line(conn, &line, &len, err, errlen);

    *reply = NULL;
    if (rc != TS_EXIT_OK)
        return rc;
    rc = parse_reply(line, len, reply, err, errlen);
    ts_buf_consume(&conn->in, (size_t)len + 1);
    return rc;
}

int
ts_conn_status(const json_t *reply, char *err, size_t errlen)
{
    const char *code, *msg;

    if (json_is_true(json_object_get(reply, "ok")))
        return TS_EXIT_OK;
    code = json_string_value(json_object_get(reply, "code"));
    msg = json_string_value(json_object_get(reply, "error"));
    snprintf(err, errlen, "%s", msg != NULL ? msg : "request failed");
    if (code == NULL)
        return TS_EXIT_FAIL;
    if (strcmp(code, "nomatch") == 0)
        return TS_EXIT_NOMATCH;
    if (strcmp(code, "bad") == 0 || strcmp(code, "version") == 0)
        return TS_EXIT_USAGE;
    return TS_EXIT_FAIL;
}

int
ts_conn_call(struct ts_conn *conn, const json_t *req, json_t **reply, char *err, size_t errlen)
{
    int rc = ts_conn_send(conn, req, err, errlen);

    *reply = NULL;
    if (rc != TS_EXIT_OK)
        return rc;
    rc = ts_conn_recv(conn, reply, err, errlen);
    if (rc != TS_EXIT_OK)
        return rc;
    return ts_conn_status(*reply, err, errlen);
}

int
ts_out(struct ts_conn *conn, const json_t *tuple, char *err, size_t errlen)
{
    json_t *req = json_pack("{s:s, s:O}", "op", "out", "tuple", tuple), *reply;
    int rc = ts_conn_call(conn, req, &reply, err, errlen);

    json_decref(req);
    json_decref(reply);
    return rc;
}

static int
send_ack(struct ts_conn *conn, json_int_t id, char *err, size_t errlen)
{
    char line[64];
    int n = snprintf(line, sizeof line, "{\"op\":\"ack\",\"id\":%" JSON_INTEGER_FORMAT "}\n", id);

    return send_all(conn, line, (size_t)n, err, errlen);
}

const json_t *
ts_got_json(struct ts_got *got)
{
    if (got->json == NULL)
        got->json = json_loadb(got->text, got->len, 0, NULL);
    return got->json;
}

/*
 * A tuple line, {"id":N,"tuple":T} or {"tuple":T}, read into got.  The
 * daemon writes T in canonical text, so most can be taken as they are
 * (scan.h); others are parsed and written again.  Returns 0 when the line
 * is not a tuple line (it is the final one), -1 when it is unreadable.
 */
static int
read_tuple(const char *line, long len, struct ts_got *got, struct ts_buf *text, uint32_t **off,
           size_t *offcap, json_int_t *id)
{
    static const char idk[] = "{\"id\":", tk[] = "\"tuple\":";
    const char *p = line, *end = line + len;
    size_t noff = 0;
    json_t *reply, *t;

    *id = -1;
    ts_buf_reset(text);
    if (len > 1 && line[len - 1] == '}') {
        if (strncmp(p, idk, sizeof idk - 1) == 0) {
            const char *digits = p += sizeof idk - 1;

            for (*id = 0; p < end && *p >= '0' && *p <= '9' && p - digits < 18; p++)
                *id = *id * 10 + (*p - '0');
            p = p < end && *p == ',' ? p + 1 : end; /* else the long way */
        } else {
            p++;
        }
        if (end - p > (long)sizeof tk && strncmp(p, tk, sizeof tk - 1) == 0 &&
            ts_scan_tuple(p + sizeof tk - 1, end - 1, text, off, &noff, offcap) == end - 1)
            goto done;
    }
    /* The long way. */
    reply = json_loadb(line, (size_t)len, 0, NULL);
    t = json_object_get(reply, "tuple");
    if (t == NULL) {
        json_decref(reply);
        return reply != NULL ? 0 : -1;
    }
    ts_buf_reset(text);
    *off = xgrow(*off, offcap, json_array_size(t) + 1, sizeof **off);
    if (ts_canon_tuple(t, text, *off, NULL, 0) < 0) {
        json_decref(reply);
        return -1;
    }
    noff = json_array_size(t);
    *id = json_is_integer(json_object_get(reply, "id"))
              ? json_integer_value(json_object_get(reply, "id"))
              : -1;
    json_decref(reply);
done:
    got->text = ts_buf_head(text);
    got->len = ts_buf_len(text);
    got->off = *off;
    got->arity = (uint32_t)noff;
    got->json = NULL;
    return 1;
}

/* Let the caller make what it has seen durable, then confirm it. */
static int
confirm(struct ts_conn *conn, json_int_t id, ts_tuple_fn *fn, void *arg, char *err,
        size_t errlen)
{
    if (fn(NULL, arg) != TS_EXIT_OK) {
        snprintf(err, errlen, "stopped before confirming a tuple");
        return TS_EXIT_FAIL;
    }
    return send_ack(conn, id, err, errlen);
}

int
ts_query(struct ts_conn *conn, const struct ts_query *q, ts_tuple_fn *fn, void *arg, char *err,
         size_t errlen)
{
    json_t *req = json_pack("{s:s, s:O}", "op", q->op, "tmpl", q->tmpl), *reply;
    struct ts_buf text = TS_BUF_INIT;
    uint32_t *off = NULL;
    size_t offcap = 0;
    json_int_t unacked = -1, id;
    int rc;

    if (q->all)
        json_object_set_new(req, "all", json_true());
    else {
        if (q->timeout >= 0)
            json_object_set_new(req, "timeout", json_real(q->timeout));
        if (q->count != 1)
            json_object_set_new(req, "count", json_integer(q->count));
    }
    rc = ts_conn_send(conn, req, err, errlen);
    json_decref(req);
    while (rc == TS_EXIT_OK) {
        struct ts_got got;
        char *line;
        long len;
        int kind;

        rc = recv_line(conn, &line, &len, err, errlen);
        if (rc != TS_EXIT_OK)
            break;
        kind = read_tuple(line, len, &got, &text, &off, &offcap, &id);
        if (kind <= 0) {
            rc = parse_reply(line, len, &reply, err, errlen);
            ts_buf_consume(&conn->in, (size_t)len + 1);
            if (rc == TS_EXIT_OK)
                rc = ts_conn_status(reply, err, errlen);
            json_decref(reply);
            break;
        }
        ts_buf_consume(&conn->in, (size_t)len + 1);
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
    if (rc == TS_EXIT_OK && unacked >= 0)
        rc = confirm(conn, unacked, fn, arg, err, errlen);
    ts_buf_free(&text);
    free(off);
    return rc;
}
