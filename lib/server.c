/*
 * server.c: the daemon's lifecycle: listening, accepting, signals, shutdown.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"
#include "server.h"
#include "session.h"
#include "worker.h"
#include "xmalloc.h"

#define ACCEPT_RETRY_NS 100000000u /* after running out of descriptors */

static void on_accept(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static void on_accept_retry(struct ts_loop *loop, void *arg);
static void on_signal(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static int on_idle(struct ts_loop *loop, void *arg);
static void teardown(struct ts_server *srv);

void
ts_log(const char *fmt, ...)
{
    char stamp[32], msg[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tsd[%ld] %s.%03ldZ %s\n", (long)getpid(), stamp, ts.tv_nsec / 1000000,
            msg);
}

struct ts_server *
ts_server_new(const char *path, size_t maxline, char *err, size_t errlen)
{
    struct ts_server *srv = xcalloc(1, sizeof *srv);

    snprintf(srv->path, sizeof srv->path, "%s", path);
    srv->maxline = maxline;
    srv->sigfd = -1;
    srv->lfd = ts_sock_listen(path, err, errlen);
    if (srv->lfd < 0) {
        free(srv);
        return NULL;
    }
    return srv;
}

void
ts_server_detach(struct ts_server *srv)
{
    close(srv->lfd);
    free(srv);
}

void
ts_server_stop(struct ts_server *srv)
{
    srv->stopping = 1;
    ts_loop_stop(srv->loop);
}

int
ts_server_run(struct ts_server *srv, char *err, size_t errlen)
{
    sigset_t set;

    clock_gettime(CLOCK_REALTIME, &srv->started);
    signal(SIGPIPE, SIG_IGN);
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
    ts_space_init(&srv->space, ts_ops_deliver, srv);
    srv->workers = ts_workers_new(srv);
    ts_log("listening on %s", srv->path);
    if (ts_loop_run(srv->loop) < 0)
        ts_log("event loop failed: %s", strerror(errno));
    ts_log("stopping");
    teardown(srv);
    return 0;
}

static int
on_idle(struct ts_loop *loop, void *arg)
{
    (void)loop;
    return ts_clients_service(arg);
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
            ts_client_new(srv, fd);
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
        case SIGCHLD:
            ts_workers_reap(srv->workers);
            break;
        default:
            ts_log("signal %u: shutting down", si.ssi_signo);
            ts_server_stop(srv);
        }
    }
}

/*
 * The socket goes first, so nobody new connects and a waiting "tsd -k" can
 * trust that once its connection closes, the daemon and its socket are gone.
 */
static void
teardown(struct ts_server *srv)
{
    struct ts_client *c;

    if (srv->lfd >= 0) {
        unlink(srv->path);
        close(srv->lfd);
        srv->lfd = -1;
    }
    if (srv->workers != NULL) {
        ts_workers_free(srv->workers);
        srv->workers = NULL;
    }
    /* Best effort: final replies, such as the one to shutdown. */
    for (c = srv->clients; c != NULL; c = c->next)
        if (ts_buf_len(&c->out) > 0 &&
            send(c->fd, ts_buf_head(&c->out), ts_buf_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT))
            (void)0;
    while (srv->clients != NULL)
        ts_client_lost(srv->clients, NULL);
    if (srv->loop != NULL) {
        ts_clients_service(srv);
        ts_space_free(&srv->space);
        ts_loop_free(srv->loop);
        srv->loop = NULL;
    }
    if (srv->sigfd >= 0)
        close(srv->sigfd);
    free(srv);
}
