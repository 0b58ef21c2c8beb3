/*
 * session.c: reading requests, writing replies, losing clients.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "session.h"
#include "wire.h"

#define READ_CHUNK 65536
#define READ_BUDGET (1u << 20) /* bytes read per event, for fairness */
#define BUF_KEEP 16384         /* an empty buffer larger than this is freed */

static void on_io(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static void read_input(struct ts_client *c);
static int flush_output(struct ts_client *c);
static void update_events(struct ts_client *c);
static int too_long(const struct ts_client *c);

struct ts_client *
ts_client_new(struct ts_clients *all, int fd)
{
    struct ts_client *c;
    struct ucred cred;
    socklen_t len = sizeof cred;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        close(fd);
        return NULL;
    }
    if (cred.uid != getuid()) {
        /* Refused before reading anything; the line is a courtesy. */
        char msg[160];
        int n = snprintf(msg, sizeof msg,
                         "{\"ok\":false,\"code\":\"denied\",\"error\":\"permission denied: "
                         "uid %lu is not the daemon's uid\"}\n",
                         (unsigned long)cred.uid);

        if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            (void)0;
        ts_log("refused a client with uid %lu (pid %ld)", (unsigned long)cred.uid, (long)cred.pid);
        close(fd);
        return NULL;
    }
    c = ts_xcalloc(1, sizeof *c);
    c->fd = fd;
    c->pid = cred.pid;
    c->all = all;
    c->events = EPOLLIN | EPOLLRDHUP;
    if (ts_loop_add(all->loop, fd, c->events, on_io, c) < 0) {
        ts_log("cannot watch a client: %s", strerror(errno));
        close(fd);
        free(c);
        return NULL;
    }
    c->next = all->list;
    if (all->list != NULL)
        all->list->prev = c;
    all->list = c;
    all->count++;
    return c;
}

static void
client_free(struct ts_client *c)
{
    ts_buf_free(&c->in);
    ts_buf_free(&c->out);
    free(c);
}

void
ts_client_send(struct ts_client *c, const char *p, size_t n)
{
    if (c->flags & TS_CLIENT_DEAD)
        return;
    ts_buf_add(&c->out, p, n);
    ts_client_touch(c, 0);
}

void
ts_client_error(struct ts_client *c, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (c->flags & TS_CLIENT_DEAD)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ts_wire_error(&c->out, code, msg);
    ts_client_touch(c, 0);
}

void
ts_client_touch(struct ts_client *c, unsigned flags)
{
    c->flags |= flags;
    if (c->flags & (TS_CLIENT_PENDING | TS_CLIENT_DEAD))
        return;
    c->flags |= TS_CLIENT_PENDING;
    c->pnext = c->all->pending;
    c->all->pending = c;
}

static void
on_io(struct ts_loop *loop, int fd, uint32_t events, void *arg)
{
    struct ts_client *c = arg;

    (void)loop;
    (void)fd;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        /* Read even on a hang-up: an ack may be the last thing it sent. */
        read_input(c);
        if (c->flags & TS_CLIENT_DEAD)
            return;
        ts_client_serve(c);
        if (events & (EPOLLHUP | EPOLLERR)) {
            ts_client_lost(c, NULL);
            return;
        }
    }
    if ((events & EPOLLOUT) && !(c->flags & TS_CLIENT_DEAD))
        ts_client_touch(c, 0);
}

/* How much input to hold: a paused client only gets to send acks. */
static size_t
input_cap(const struct ts_client *c)
{
    return (c->flags & (TS_CLIENT_BLOCKED | TS_CLIENT_THROTTLED)) ? TS_IN_PAUSED
                                                                  : c->all->maxline + 1;
}

static void
read_input(struct ts_client *c)
{
    size_t total = 0;
    ssize_t n;

    if (c->flags & (TS_CLIENT_EOF | TS_CLIENT_CLOSING))
        return;
    /*
     * Read into one shared chunk and keep only what came: a buffer of
     * READ_CHUNK per client would cost 640 MB for 10,000 waiting clients.
     */
    static char chunk[READ_CHUNK];

    while (total < READ_BUDGET && ts_buf_len(&c->in) <= input_cap(c)) {
        n = read(c->fd, chunk, sizeof chunk);
        if (n > 0) {
            ts_buf_add(&c->in, chunk, (size_t)n);
            total += (size_t)n;
            continue;
        }
        if (n == 0) {
            c->flags |= TS_CLIENT_EOF;
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            ts_client_lost(c, strerror(errno));
        return;
    }
    /* Budget used up: come back after the others had their turn. */
    ts_client_touch(c, TS_CLIENT_RESUME);
}

/* Input without a newline yet, already too long to be a request (a CR may still end it). */
static int
too_long(const struct ts_client *c)
{
    size_t have = ts_buf_len(&c->in);

    return have > c->all->maxline &&
           !(have == c->all->maxline + 1 && ts_buf_head(&c->in)[have - 1] == '\r');
}

/*
 * Serve complete lines while the client is not blocked and its output is
 * not piling up.  While it is blocked, only acks at the head are served.
 */
void
ts_client_serve(struct ts_client *c)
{
    char *line;
    long len;

    c->flags &= ~TS_CLIENT_RESUME;
    while (!(c->flags & (TS_CLIENT_DEAD | TS_CLIENT_CLOSING))) {
        if (ts_buf_len(&c->out) > TS_OUT_HIGH)
            c->flags |= TS_CLIENT_THROTTLED;
        else
            c->flags &= ~TS_CLIENT_THROTTLED;
        len = ts_buf_line(&c->in, &line);
        if (len < 0) {
            if (too_long(c)) {
                ts_client_error(c, "bad", "request line longer than %zu bytes", c->all->maxline);
                c->flags |= TS_CLIENT_CLOSING;
                ts_buf_reset(&c->in);
            }
            break;
        }
        /* A CR before the newline is part of the line's end, not of the request. */
        if ((size_t)len - (len > 0 && line[len - 1] == '\r') > c->all->maxline) {
            ts_client_error(c, "bad", "request line longer than %zu bytes", c->all->maxline);
            c->flags |= TS_CLIENT_CLOSING;
            ts_buf_reset(&c->in);
            break;
        }
        if (c->flags & (TS_CLIENT_BLOCKED | TS_CLIENT_THROTTLED)) {
            if (!c->all->serve_ack(c, line, (size_t)len)) {
                line[len] = '\n'; /* leave it for when the wait or the backlog ends */
                break;
            }
        } else {
            c->all->serve(c, line, (size_t)len);
        }
        ts_buf_consume(&c->in, (size_t)len + 1);
    }
    /* A client that said all it had to say, and has nothing pending, is done. */
    if ((c->flags & TS_CLIENT_EOF) && !(c->flags & TS_CLIENT_BLOCKED) && !ts_buf_has_line(&c->in))
        c->flags |= TS_CLIENT_CLOSING;
    ts_client_touch(c, 0);
}

/* Returns -1 if the client was lost. */
static int
flush_output(struct ts_client *c)
{
    struct ts_clients *all = c->all;
    ssize_t n;

    if (ts_buf_len(&c->out) > 0 && all->writable != NULL && !all->writable(all->commit_arg, c)) {
        c->flags |= TS_CLIENT_HELD;
        return 0;
    }
    while (ts_buf_len(&c->out) > 0) {
        n = send(c->fd, ts_buf_head(&c->out), ts_buf_len(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            ts_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        ts_client_lost(c, n < 0 ? strerror(errno) : NULL);
        return -1;
    }
    return 0;
}

static void
update_events(struct ts_client *c)
{
    uint32_t ev = 0;

    if (!(c->flags & (TS_CLIENT_EOF | TS_CLIENT_CLOSING)) && ts_buf_len(&c->in) <= input_cap(c))
        ev |= EPOLLIN | EPOLLRDHUP;
    if (ts_buf_len(&c->out) > 0)
        ev |= EPOLLOUT;
    if (ev != c->events && ts_loop_mod(c->all->loop, c->fd, ev) == 0)
        c->events = ev;
}

static void
service(struct ts_client *c)
{
    if (flush_output(c) < 0)
        return;
    if ((c->flags & (TS_CLIENT_RESUME | TS_CLIENT_THROTTLED)) && !(c->flags & TS_CLIENT_BLOCKED)) {
        if (c->flags & TS_CLIENT_RESUME)
            read_input(c);
        if (c->flags & TS_CLIENT_DEAD)
            return;
        ts_client_serve(c);
        if (flush_output(c) < 0)
            return;
    }
    if ((c->flags & TS_CLIENT_CLOSING) && ts_buf_len(&c->out) == 0) {
        ts_client_lost(c, NULL);
        return;
    }
    /* A paused wait goes on once the client has caught up (block.h). */
    if ((c->flags & TS_CLIENT_BLOCKED) && ts_buf_len(&c->out) <= TS_OUT_LOW)
        c->all->drained(c);
    /* A large reply or request leaves a large buffer: give it back once empty. */
    if (ts_buf_len(&c->in) == 0 && c->in.cap > BUF_KEEP)
        ts_buf_free(&c->in);
    if (ts_buf_len(&c->out) == 0 && c->out.cap > BUF_KEEP)
        ts_buf_free(&c->out);
    update_events(c);
}

int
ts_clients_service(struct ts_clients *all)
{
    struct ts_client *list = all->pending, *c, **pp;

    if (all->commit != NULL)
        all->commit(all->commit_arg);
    all->pending = NULL;
    while ((c = list) != NULL) {
        list = c->pnext;
        /* Still flagged while served, so that touching it again is a no-op. */
        if (!(c->flags & TS_CLIENT_DEAD))
            service(c);
        c->flags &= ~TS_CLIENT_PENDING;
        if ((c->flags & TS_CLIENT_RESUME) && !(c->flags & TS_CLIENT_BLOCKED))
            ts_client_touch(c, 0); /* read budget used up: again next turn */
        if (c->flags & TS_CLIENT_HELD)
            ts_client_touch(c, 0); /* output waits for a sync: next turn */
        c->flags &= ~TS_CLIENT_HELD;
    }
    /* Lost clients may have been queued again meanwhile: drop them first. */
    for (pp = &all->pending; *pp != NULL;) {
        c = *pp;
        if (c->flags & TS_CLIENT_DEAD) {
            *pp = c->pnext;
            c->flags &= ~TS_CLIENT_PENDING;
        } else {
            pp = &c->pnext;
        }
    }
    while ((c = all->dead) != NULL) {
        all->dead = c->dnext;
        client_free(c);
    }
    return all->pending != NULL;
}

void
ts_client_lost(struct ts_client *c, const char *why)
{
    struct ts_clients *all = c->all;

    if (c->flags & TS_CLIENT_DEAD)
        return;
    c->flags |= TS_CLIENT_DEAD;
    if (why != NULL)
        ts_log("client pid %ld lost: %s", (long)c->pid, why);
    all->lost(c);
    ts_loop_del(all->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        all->list = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    all->count--;
    /* Freed by the hook, which first drops it from the pending list. */
    c->dnext = all->dead;
    all->dead = c;
}

void
ts_clients_flush_now(struct ts_clients *all)
{
    struct ts_client *c;

    for (c = all->list; c != NULL; c = c->next)
        if (ts_buf_len(&c->out) > 0 &&
            send(c->fd, ts_buf_head(&c->out), ts_buf_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT))
            (void)0;
}
