/*
 * server.c: the daemon's lifecycle: listening, accepting, signals, shutdown.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "server.h"
#include "tuple.h"

#define ACCEPT_RETRY_NS 100000000u /* after running out of descriptors */

static void on_accept(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static void on_accept_retry(struct ts_loop *loop, void *arg);
static void on_signal(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static int on_idle(struct ts_loop *loop, void *arg);
static void stop(void *arg);
static void lost(struct ts_client *c);
static void drained(struct ts_client *c);
static void worker_put(void *arg, json_t *tuple);
static void worker_stopped(void *arg, void *token, long n);
static void worker_gone(void *arg, struct ts_worker *w);
static void worker_waited(void *arg, void *token, const struct ts_waited *r);
static size_t worker_count(void *arg, const struct ts_tmpl *tm, int lent, size_t limit);
static void worker_event(void *arg, const struct ts_worker_event *e);
static void teardown(struct ts_server *srv);

struct ts_server *
ts_server_new(const char *path, size_t maxline, const char *helper, char *err, size_t errlen)
{
    struct ts_server *srv = ts_xcalloc(1, sizeof *srv);

    snprintf(srv->path, sizeof srv->path, "%s", path);
    srv->clients.maxline = maxline;
    srv->sigfd = -1;
    srv->lfd = ts_sock_listen(path, err, errlen);
    if (srv->lfd < 0) {
        free(srv);
        return NULL;
    }
    srv->helper = ts_xstrdup(helper);
    return srv;
}

void
ts_server_detach(struct ts_server *srv)
{
    close(srv->lfd);
    free(srv->helper);
    free(srv);
}

int
ts_server_fd(const struct ts_server *srv)
{
    return srv->lfd;
}

/* The ops' shutdown hook, and the signals': stop at the next turn of the loop. */
static void
stop(void *arg)
{
    struct ts_server *srv = arg;

    srv->stopping = 1;
    ts_loop_stop(srv->loop);
}

int
ts_server_run(struct ts_server *srv, char *err, size_t errlen)
{
    struct ts_worker_hooks hooks = {
        worker_put, worker_stopped, worker_gone, worker_waited, worker_count, srv, worker_event};
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    /*
     * jansson seeds its hash function from /dev/urandom the first time it
     * makes an object: do it now, so that serving a request never opens a
     * file (a client must not be able to make the daemon touch the disk).
     */
    json_object_seed(0);
    /* Orphans of our workers' commands become ours to reap, and to wait for at the end. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    srv->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    srv->loop = ts_loop_new();
    if (srv->sigfd < 0 || srv->loop == NULL ||
        ts_loop_add(srv->loop, srv->lfd, EPOLLIN, on_accept, srv) < 0 ||
        ts_loop_add(srv->loop, srv->sigfd, EPOLLIN, on_signal, srv) < 0) {
        snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
        teardown(srv);
        return -1;
    }
    ts_timer_init(&srv->accept_timer, on_accept_retry, srv);
    ts_loop_hook(srv->loop, on_idle, srv);
    ts_events_init(&srv->events);
    ts_space_init(&srv->space, srv->loop, &srv->events, ts_block_deliver, ts_block_costly, srv);
    srv->workers = ts_workers_new(srv->loop, srv->path, srv->helper, &hooks);
    srv->clients.loop = srv->loop;
    srv->clients.serve = ts_ops_serve;
    srv->clients.serve_ack = ts_ops_serve_ack;
    srv->clients.lost = lost;
    srv->clients.drained = drained;
    srv->clients.ctx = &srv->ops;
    srv->ops.clients = &srv->clients;
    srv->ops.blocking.space = &srv->space;
    srv->ops.blocking.loop = srv->loop;
    srv->ops.workers = srv->ops.blocking.workers = srv->workers;
    srv->ops.started = ts_wall_clock();
    srv->ops.shutdown = stop;
    srv->ops.arg = srv;
    ts_log("listening on %s", srv->path);
    if (ts_loop_run(srv->loop) < 0)
        ts_log("event loop failed: %s", strerror(errno));
    ts_log("stopping");
    if (ts_events_on(&srv->events)) {
        struct ts_event e = {TS_EV_SHUTDOWN, 0, NULL, 0, NULL, 0, NULL, NULL, 0};

        ts_events_emit(&srv->events, &e);
    }
    teardown(srv);
    return 0;
}

static int
on_idle(struct ts_loop *loop, void *arg)
{
    struct ts_server *srv = arg;

    (void)loop;
    /* Waits that are over get their answer before the replies are written. */
    ts_workers_check(srv->workers);
    return ts_clients_service(&srv->clients);
}

static void
on_accept(struct ts_loop *loop, int lfd, uint32_t events, void *arg)
{
    struct ts_server *srv = arg;
    int fd;

    (void)events;
    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            struct ts_client *c = ts_client_new(&srv->clients, fd);

            if (c != NULL)
                c->ctx = ts_block_new(c, &srv->ops.blocking);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Leave the rest in the backlog until some client goes away. */
            ts_log("cannot accept: %s; pausing new connections", strerror(errno));
            ts_loop_mod(loop, lfd, 0);
            ts_timer_set(loop, &srv->accept_timer, ts_now() + ACCEPT_RETRY_NS);
        }
        return;
    }
}

static void
on_accept_retry(struct ts_loop *loop, void *arg)
{
    struct ts_server *srv = arg;

    ts_loop_mod(loop, srv->lfd, EPOLLIN);
}

static void
on_signal(struct ts_loop *loop, int fd, uint32_t events, void *arg)
{
    struct ts_server *srv = arg;
    struct signalfd_siginfo si;

    (void)loop;
    (void)events;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD: ts_workers_reap(srv->workers); break;
        default: ts_log("signal %u: shutting down", si.ssi_signo); stop(srv);
        }
    }
}

/* The session's lost hook: what the client waited for and held goes. */
static void
lost(struct ts_client *c)
{
    ts_block_lost(c->ctx);
    c->ctx = NULL;
}

/* The session's drained hook: a paused wait goes on. */
static void
drained(struct ts_client *c)
{
    ts_block_drained(c->ctx);
}

/* The workers' put hook: ts.exit and ts.error tuples. */
static void
worker_put(void *arg, json_t *tuple)
{
    struct ts_server *srv = arg;
    struct ts_buf text = TS_BUF_INIT;
    uint32_t off[8];
    char err[100];

    if (!srv->stopping && tuple != NULL && json_array_size(tuple) <= 8 &&
        ts_canon_tuple(tuple, &text, off, err, sizeof err) == 0)
        ts_space_out(&srv->space, ts_buf_head(&text), ts_buf_len(&text), off,
                     (uint32_t)json_array_size(tuple));
    ts_buf_free(&text);
    json_decref(tuple);
}

/* The workers' stopped hook: answer the ts-eval -k that waits. */
static void
worker_stopped(void *arg, void *token, long n)
{
    struct ts_block *b = token;

    (void)arg;
    ts_wire_ok_n(&b->client->out, (uint64_t)n);
    ts_block_end(b);
}

/* The workers' waited hook: answer the ts-eval --wait that waits. */
static void
worker_waited(void *arg, void *token, const struct ts_waited *r)
{
    struct ts_block *b = token;
    json_t *reply;
    char msg[200];

    (void)arg;
    if (r->left > 0) {
        snprintf(msg, sizeof msg, "no worker is left to do the %zu job%s left", r->left,
                 r->left == 1 ? "" : "s");
        reply = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I}", "ok", 0, "code", "stalled", "error",
                          msg, "done", (json_int_t)r->done, "failed", (json_int_t)r->failed, "left",
                          (json_int_t)r->left);
    } else {
        reply = json_pack("{s:b, s:I, s:I}", "ok", 1, "done", (json_int_t)r->done, "failed",
                          (json_int_t)r->failed);
    }
    ts_wire_json(&b->client->out, reply);
    json_decref(reply);
    ts_block_end(b);
}

/* The workers' count hook: how many stored tuples match. */
static size_t
worker_count(void *arg, const struct ts_tmpl *tm, int lent, size_t limit)
{
    struct ts_server *srv = arg;
    struct ts_iter it;
    size_t n = 0;

    if (lent)
        ts_store_iter_all(srv->space.store, tm, &it);
    else
        ts_store_iter(srv->space.store, tm, &it);
    while (n < limit && ts_iter_next(&it) != NULL)
        n++;
    /* A tuple too costly to tell may be a job: never report fewer than there may be. */
    if (n < limit && it.costly != NULL)
        n++;
    return n;
}

/* The workers' event hook: worker-start, worker-exit, worker-error. */
static void
worker_event(void *arg, const struct ts_worker_event *e)
{
    struct ts_server *srv = arg;
    struct ts_event ev = {TS_EV_WORKER_START, e->pid, NULL, 0, NULL, 0, NULL, NULL, 0};
    struct ts_buf more = TS_BUF_INIT, text = TS_BUF_INIT;
    uint32_t *off = NULL;
    json_t *name, *tuple;

    if (!ts_events_on(&srv->events))
        return;
    name = json_string(e->name);
    ts_buf_addstr(&more, "\"name\":");
    ts_canon(name, &more);
    json_decref(name);
    if (e->what == TS_WORKER_STARTED) {
        ts_buf_printf(&more, ",\"index\":%d", e->index);
    } else {
        ev.kind = e->what == TS_WORKER_EXITED ? TS_EV_WORKER_EXIT : TS_EV_WORKER_ERROR;
        if (e->status >= 0)
            ts_buf_printf(&more, ",\"status\":%d", e->status);
    }
    /* The tuple it failed on, with its field offsets for the followers' filters. */
    tuple = e->tuple != NULL ? json_loadb(e->tuple, e->len, 0, NULL) : NULL;
    if (json_array_size(tuple) > 0) {
        off = ts_xmalloc(json_array_size(tuple) * sizeof *off);
        if (ts_canon_tuple(tuple, &text, off, NULL, 0) == 0) {
            ev.text = ts_buf_head(&text);
            ev.len = ts_buf_len(&text);
            ev.off = off;
            ev.arity = (uint32_t)json_array_size(tuple);
        }
    }
    json_decref(tuple);
    ev.more = ts_buf_head(&more);
    ev.morelen = ts_buf_len(&more);
    ts_events_emit(&srv->events, &ev);
    ts_buf_free(&more);
    ts_buf_free(&text);
    free(off);
}

/* The workers' gone hook: no client is that worker any more. */
static void
worker_gone(void *arg, struct ts_worker *w)
{
    struct ts_server *srv = arg;
    struct ts_client *c;

    for (c = srv->clients.list; c != NULL; c = c->next) {
        struct ts_block *b = c->ctx;

        if (b != NULL && b->worker == w)
            b->worker = NULL;
    }
}

/*
 * The socket goes first, so nobody new connects and a waiting "tsd -k" can
 * trust that once its connection closes, the daemon and its socket are gone.
 */
static void
teardown(struct ts_server *srv)
{
    if (srv->lfd >= 0) {
        unlink(srv->path);
        close(srv->lfd);
        srv->lfd = -1;
    }
    if (srv->workers != NULL) {
        ts_workers_free(srv->workers);
        /* The workers are gone first at shutdown, and their stop requests with them. */
        srv->workers = srv->ops.workers = srv->ops.blocking.workers = NULL;
    }
    /* Best effort: final replies, such as the one to shutdown. */
    ts_clients_flush_now(&srv->clients);
    while (srv->clients.list != NULL)
        ts_client_lost(srv->clients.list, NULL);
    if (srv->loop != NULL) {
        ts_clients_service(&srv->clients);
        ts_blocking_free(&srv->ops.blocking);
        ts_space_free(&srv->space);
        ts_events_free(&srv->events);
        ts_loop_free(srv->loop);
        srv->loop = NULL;
    }
    if (srv->sigfd >= 0)
        close(srv->sigfd);
    free(srv->helper);
    free(srv);
}
