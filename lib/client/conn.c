/*
 * conn.c: connecting, and one request and its reply (see ts.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "mem.h"
#include "sockpath.h"
#include "wire.h"

static int last_word(struct ts_conn *conn, char *err, size_t errlen);

int
ts_conn_nomem(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return TS_EXIT_FAIL;
}

int
ts_socket_path(const char *given, char *out, char *err, size_t errlen)
{
    return ts_sock_path(given, out, err, errlen) < 0 ? TS_EXIT_USAGE : TS_EXIT_OK;
}

struct ts_conn *
ts_conn_open(const char *path, char *err, size_t errlen)
{
    struct ucred cred = {0, (uid_t)-1, (gid_t)-1};
    socklen_t len = sizeof cred;
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
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
        snprintf(err, errlen, "the daemon at %s runs as uid %ld, not as us: refusing to use it",
                 path, (long)cred.uid);
        close(fd);
        return NULL;
    }
    conn = ts_xcalloc(1, sizeof *conn);
    if (conn == NULL) {
        ts_conn_nomem(err, errlen);
        close(fd);
        return NULL;
    }
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
    ts_buf_free(&conn->text);
    free(conn);
}

int
ts_conn_fd(const struct ts_conn *conn)
{
    return conn->fd;
}

int
ts_conn_write(struct ts_conn *conn, const char *p, size_t n, char *err, size_t errlen)
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
        json_object_get(reply, "tuple") == NULL && !json_is_true(json_object_get(reply, "ok")))
        rc = ts_conn_status(reply, err, errlen);
    json_decref(reply);
    return rc;
}

int
ts_conn_send(struct ts_conn *conn, const json_t *req, char *err, size_t errlen)
{
    struct ts_buf line = TS_BUF_INIT;
    int rc;

    ts_wire_json(&line, req);
    if (line.failed || ts_buf_len(&line) == 0)
        rc = ts_conn_nomem(err, errlen);
    else
        rc = ts_conn_write(conn, ts_buf_head(&line), ts_buf_len(&line), err, errlen);
    ts_buf_free(&line);
    return rc;
}

int
ts_conn_send_text(struct ts_conn *conn, const char *text, size_t n, char *err, size_t errlen)
{
    return ts_conn_write(conn, text, n, err, errlen);
}

int
ts_conn_ready(const struct ts_conn *conn)
{
    return ts_buf_has_line(&conn->in);
}

int
ts_conn_line(struct ts_conn *conn, char **line, size_t *len, char *err, size_t errlen)
{
    long n;

    while ((n = ts_buf_line(&conn->in, line)) < 0) {
        char *to = ts_buf_space(&conn->in, 65536);
        ssize_t got;

        if (to == NULL)
            return ts_conn_nomem(err, errlen);
        got = read(conn->fd, to, 65536);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf(err, errlen, "connection to the daemon lost%s%s", got < 0 ? ": " : "",
                     got < 0 ? strerror(errno) : "");
            return TS_EXIT_CONN;
        }
        ts_buf_commit(&conn->in, (size_t)got);
    }
    *len = (size_t)n;
    return TS_EXIT_OK;
}

int
ts_conn_parse(const char *line, size_t len, json_t **reply, char *err, size_t errlen)
{
    json_error_t e;

    *reply = json_loadb(line, len, 0, &e);
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
    size_t len;
    int rc = ts_conn_line(conn, &line, &len, err, errlen);

    *reply = NULL;
    if (rc != TS_EXIT_OK)
        return rc;
    rc = ts_conn_parse(line, len, reply, err, errlen);
    ts_buf_consume(&conn->in, len + 1);
    return rc;
}

int
ts_conn_recv_text(struct ts_conn *conn, const char **line, size_t *len, char *err, size_t errlen)
{
    char *p;
    size_t n;
    int rc = ts_conn_line(conn, &p, &n, err, errlen);

    if (rc != TS_EXIT_OK)
        return rc;
    ts_buf_reset(&conn->text);
    ts_buf_add(&conn->text, p, n);
    ts_buf_add(&conn->text, "", 1);
    ts_buf_consume(&conn->in, n + 1);
    if (conn->text.failed)
        return ts_conn_nomem(err, errlen);
    *line = ts_buf_head(&conn->text);
    *len = n;
    return TS_EXIT_OK;
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
    if (strcmp(code, "nomatch") == 0 || strcmp(code, "exists") == 0)
        return TS_EXIT_NOMATCH;
    if (strcmp(code, "bad") == 0 || strcmp(code, "version") == 0)
        return TS_EXIT_USAGE;
    /* A daemon of another uid is one we cannot use: as good as unreachable. */
    if (strcmp(code, "denied") == 0)
        return TS_EXIT_CONN;
    /* "costly", "failed", and codes added later. */
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
    int rc;

    if (req == NULL)
        return ts_conn_nomem(err, errlen);
    rc = ts_conn_call(conn, req, &reply, err, errlen);
    json_decref(req);
    json_decref(reply);
    return rc;
}

int
ts_out_with(struct ts_conn *conn, const json_t *tuple, const struct ts_out_opts *o, char *err,
            size_t errlen)
{
    json_t *req = json_pack("{s:s, s:O}", "op", "out", "tuple", tuple), *reply;
    int rc;

    if (req == NULL)
        return ts_conn_nomem(err, errlen);
    if (o != NULL && o->ttl >= 0)
        json_object_set_new(req, "ttl", json_real(o->ttl));
    if (o != NULL && o->pid != 0)
        json_object_set_new(req, "pid", json_integer(o->pid));
    if (o != NULL && o->unless != NULL)
        json_object_set(req, "unless", (json_t *)o->unless);
    rc = ts_conn_call(conn, req, &reply, err, errlen);
    json_decref(req);
    json_decref(reply);
    return rc;
}

int
ts_confirm(struct ts_conn *conn, uint64_t id, char *err, size_t errlen)
{
    struct ts_buf line = TS_BUF_INIT;
    int rc;

    ts_wire_ack(&line, id);
    rc = line.failed ? ts_conn_nomem(err, errlen)
                     : ts_conn_write(conn, ts_buf_head(&line), ts_buf_len(&line), err, errlen);
    ts_buf_free(&line);
    return rc;
}
