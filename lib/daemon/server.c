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
#include "scan.h"
#include "server.h"
#include "tuple.h"

#define ACCEPT_RETRY_NS 100000000u /* after running out of descriptors */
#define GATHER_MAX_NS 500000u      /* the longest a group commit waits for more */

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
static int restore(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
                   const char *text, size_t len);
static void rebind(struct ts_server *srv);
static void ended(const struct ts_tuple *t, void *arg);
static void commit(void *arg);
static int writable(void *arg, struct ts_client *c);
static void on_journal(struct ts_loop *loop, void *arg);
static int compacting(const struct ts_journal *j);
static void journal_failed(struct ts_server *srv, const char *why);
static void worker_waited(void *arg, void *token, const struct ts_waited *r);
static size_t worker_count(void *arg, const struct ts_tmpl *tm, int lent, size_t limit);
static void worker_event(void *arg, const struct ts_worker_event *e);
static int teardown(struct ts_server *srv);
static int cmp_int(const void *a, const void *b);

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
    /*
     * The loop is made now, before a replay (ts_server_durable) and before
     * tsd -d forks, since the space keeps the time of its leases in it; it
     * is only an epoll descriptor and a heap, which the child inherits.
     * The processes of replayed tuples are watched once it runs.
     */
    if ((srv->loop = ts_loop_new()) == NULL) {
        snprintf(err, errlen, "cannot make the event loop: %s", strerror(errno));
        close(srv->lfd);
        unlink(path);
        free(srv);
        return NULL;
    }
    srv->helper = ts_xstrdup(helper);
    ts_events_init(&srv->events);
    ts_space_init(&srv->space, srv->loop, &srv->events, ts_block_deliver, ts_block_costly, srv);
    srv->space.ended = ended;
    return srv;
}

void
ts_server_detach(struct ts_server *srv)
{
    close(srv->lfd);
    /* The lock stays with the process that runs the server: it has the same open file. */
    ts_journal_close(srv->journal);
    ts_space_free(&srv->space);
    ts_events_free(&srv->events);
    ts_loop_free(srv->loop);
    free(srv->rebind);
    free(srv->replayed);
    free(srv->helper);
    free(srv);
}

int
ts_server_fd(const struct ts_server *srv)
{
    return srv->lfd;
}

static int
cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

void
ts_server_close_others(const struct ts_server *srv)
{
    int keep[2 + TS_JOURNAL_FDS];
    size_t n = 0, i;
    unsigned lo = 3;

    keep[n++] = srv->lfd;
    keep[n++] = ts_loop_fd(srv->loop);
    if (srv->journal != NULL)
        n += ts_journal_fds(srv->journal, keep + n);
    qsort(keep, n, sizeof *keep, cmp_int);
    for (i = 0; i < n; i++) {
        if (keep[i] < (int)lo)
            continue;
        if ((unsigned)keep[i] > lo)
            close_range(lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    close_range(lo, ~0u, 0);
}

/*
 * A replayed tuple with a lease.  It is stored bound, with no lease yet:
 * run gives it one (or deletes it) once the daemon runs, since a process
 * is watched through a descriptor of the daemon's own.
 */
struct ts_rebind {
    struct ts_tuple *t;
    uint64_t deadline;
    struct ts_journal_owner owner; /* pid 0: none */
};

/* Scratch for turning the journal's tuple texts back into stored tuples. */
struct restore_ctx {
    struct ts_server *srv;
    struct ts_store *store;
    struct ts_buf text;
    uint32_t *off;
    size_t noff, offcap;
};

int
ts_server_durable(struct ts_server *srv, const char *dir, const struct ts_journal_opts *o,
                  char *err, size_t errlen)
{
    struct restore_ctx rc = {srv, srv->space.store, TS_BUF_INIT, NULL, 0, 0};
    struct ts_journal_opts opts = *o;
    struct ts_journal_replay rep;
    uint64_t t0 = ts_now();
    char *msg;

    opts.autocompact = 1;
    srv->journal = ts_journal_open(dir, &opts, restore, &rc, &rep, err, errlen);
    ts_buf_free(&rc.text);
    free(rc.off);
    if (srv->journal == NULL)
        return -1;
    /* New tuples go above every seq ever given, even of tuples long gone. */
    ts_store_set_seq(srv->space.store, rep.hiseq);
    srv->sync = opts.sync;
    msg = ts_xmalloc(512 + sizeof rep.note);
    snprintf(msg, 512 + sizeof rep.note,
             "durable space in %s (sync %s): replayed %llu tuples from %llu records in %llu "
             "files, %.1f ms%s%s",
             dir,
             opts.sync == TS_JOURNAL_ALWAYS  ? "always"
             : opts.sync == TS_JOURNAL_BATCH ? "batch"
                                             : "none",
             (unsigned long long)rep.tuples, (unsigned long long)rep.records,
             (unsigned long long)rep.files, (double)(ts_now() - t0) / 1e6,
             rep.note[0] != '\0' ? "; " : "", rep.note);
    srv->replayed = msg;
    return 0;
}

/*
 * The replay's callback: the tuple goes back with its own seq, so that the
 * order among the survivors is what it was.  Replay has no waiters to offer
 * it to.  The text is canonical (the daemon wrote it); only its field
 * offsets are to be found, by the fast reader or else through jansson.
 */
static int
restore(void *arg, uint64_t seq, uint64_t deadline, const struct ts_journal_owner *owner,
        const char *text, size_t len)
{
    struct restore_ctx *rc = arg;
    struct ts_server *srv = rc->srv;
    struct ts_rebind *rb;
    const char *end;

    ts_buf_reset(&rc->text);
    rc->noff = 0;
    end = ts_scan_tuple(text, text + len, &rc->text, &rc->off, &rc->noff, &rc->offcap);
    if (end == NULL || end != text + len) {
        json_t *v = json_loadb(text, len, 0, NULL);
        char e[100];

        ts_buf_reset(&rc->text);
        rc->noff = json_array_size(v);
        rc->off = ts_xgrow(rc->off, &rc->offcap, rc->noff, sizeof *rc->off);
        if (v == NULL || rc->noff == 0 || ts_canon_tuple(v, &rc->text, rc->off, e, sizeof e) < 0) {
            json_decref(v);
            return -1;
        }
        json_decref(v);
    }
    ts_store_set_seq(rc->store, seq - 1);
    if (deadline == 0 && owner == NULL) {
        ts_store_add(rc->store, ts_buf_head(&rc->text), ts_buf_len(&rc->text), rc->off,
                     (uint32_t)rc->noff);
        return 0;
    }
    srv->rebind = ts_xgrow(srv->rebind, &srv->rebindcap, srv->nrebind + 1, sizeof *srv->rebind);
    rb = &srv->rebind[srv->nrebind++];
    rb->t = ts_store_add_bound(rc->store, ts_buf_head(&rc->text), ts_buf_len(&rc->text), rc->off,
                               (uint32_t)rc->noff);
    rb->deadline = deadline;
    if (owner != NULL)
        rb->owner = *owner;
    else
        memset(&rb->owner, 0, sizeof rb->owner);
    return 0;
}

/* Is the process the tuple was bound to still the one running with its pid? */
static int
same_process(const struct ts_journal_owner *o)
{
    struct ts_proc_id id;

    if (ts_proc_id((pid_t)o->pid, &id) < 0)
        return 0;
    /* Unknown then or now (no /proc): the pid alone could be anyone's. */
    if (o->start == 0 || id.start == 0 || o->start != id.start)
        return 0;
    return o->boot == 0 || id.boot == 0 || o->boot == id.boot;
}

/*
 * Give the replayed tuples their leases back, now that the daemon runs.
 * The deadline is the one the tuple was put with, absolute, so a restart
 * does not extend it.  A tuple bound to a process keeps it when a process
 * with the same pid, start time and boot is alive; if not, the process
 * ended while the daemon was down, and the tuple goes.  So does a tuple
 * whose deadline passed meanwhile.  Each such tuple gets its deletion
 * logged, as if it had ended while the daemon ran, and the log says what
 * went; the event stream hears nothing of the replay.
 */
static void
rebind(struct ts_server *srv)
{
    struct ts_blocking *bl = &srv->ops.blocking;
    uint64_t expired = 0, gone = 0;
    int64_t now = ts_wall_ns();
    size_t i;

    for (i = 0; i < srv->nrebind; i++) {
        struct ts_rebind *rb = &srv->rebind[i];
        struct ts_tuple *t = rb->t;
        pid_t pid = (pid_t)rb->owner.pid;
        int keep = 1;

        if (rb->deadline != 0 && (int64_t)rb->deadline <= now) {
            keep = 0;
            expired++;
        } else if (pid != 0 &&
                   (!same_process(&rb->owner) || ts_space_watch(&srv->space, pid) < 0)) {
            keep = 0;
            gone++;
            ts_log("tuple %.*s%s lived with process %ld, which ended while tsd was down: "
                   "deleted",
                   (int)(t->len > 200 ? 200 : t->len), ts_tuple_text(t), t->len > 200 ? "..." : "",
                   (long)pid);
        } else if (ts_leases_add(srv->space.leases, t, (int64_t)rb->deadline, pid) == NULL) {
            keep = 0;
            gone++;
            ts_log("tuple %.*s%s lived with process %ld, which ended as tsd started: deleted",
                   (int)(t->len > 200 ? 200 : t->len), ts_tuple_text(t), t->len > 200 ? "..." : "",
                   (long)pid);
        }
        if (keep)
            continue;
        if (srv->journal != NULL)
            ts_journal_del(srv->journal, t->seq, t->len);
        ts_store_del(srv->space.store, t);
    }
    if (expired + gone > 0 && srv->journal != NULL && ts_blocking_write(bl) < 0)
        ts_log("the deletions of tuples that ended while tsd was down are not logged: %s; "
               "they are deleted again at the next start",
               strerror(errno));
    if (expired > 0)
        ts_log("%llu tuple%s passed %s deadline while tsd was down: deleted",
               (unsigned long long)expired, expired == 1 ? "" : "s",
               expired == 1 ? "its" : "their");
    free(srv->rebind);
    srv->rebind = NULL;
    srv->nrebind = srv->rebindcap = 0;
}

/* The space's ended hook: the end of a lease is a deletion, logged at once. */
static void
ended(const struct ts_tuple *t, void *arg)
{
    struct ts_server *srv = arg;

    if (srv->journal == NULL || ts_journal_del(srv->journal, t->seq, t->len) < 0)
        return;
    /* If it cannot be written, a restart drops the tuple all the same: its lease ended. */
    ts_blocking_write(&srv->ops.blocking);
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
    if (srv->sigfd < 0 || ts_loop_add(srv->loop, srv->lfd, EPOLLIN, on_accept, srv) < 0 ||
        ts_loop_add(srv->loop, srv->sigfd, EPOLLIN, on_signal, srv) < 0) {
        snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
        teardown(srv);
        return -1;
    }
    ts_timer_init(&srv->accept_timer, on_accept_retry, srv);
    ts_timer_init(&srv->journal_timer, on_journal, srv);
    ts_loop_hook(srv->loop, on_idle, srv);
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
    if (srv->journal != NULL) {
        srv->ops.blocking.journal = srv->journal;
        srv->ops.blocking.synced_seq = ts_store_seq(srv->space.store);
        /* Ours now, after tsd -d forked: a second daemon names this pid. */
        ts_journal_set_pid(srv->journal);
        ts_log("%s", srv->replayed);
        rebind(srv);
        if (srv->sync == TS_JOURNAL_ALWAYS) {
            srv->clients.commit = commit;
            srv->clients.writable = writable;
            srv->clients.commit_arg = srv;
        }
    }
    ts_log("listening on %s", srv->path);
    if (ts_loop_run(srv->loop) < 0)
        ts_log("event loop failed: %s", strerror(errno));
    ts_log("stopping");
    if (ts_events_on(&srv->events)) {
        struct ts_event e = {TS_EV_SHUTDOWN, 0, NULL, 0, NULL, 0, NULL, NULL, 0};

        ts_events_emit(&srv->events, &e);
    }
    if (teardown(srv) < 0) {
        snprintf(err, errlen, "stopped: the journal could not be synced (see the log)");
        return -1;
    }
    return 0;
}

static int
on_idle(struct ts_loop *loop, void *arg)
{
    struct ts_server *srv = arg;
    uint64_t when;
    int busy;

    /* Waits that are over get their answer before the replies are written. */
    ts_workers_check(srv->workers);
    busy = ts_clients_service(&srv->clients);

    if (srv->journal != NULL && !srv->failed) {
        when = ts_journal_next_sync(srv->journal);
        if (when == UINT64_MAX)
            ts_timer_cancel(loop, &srv->journal_timer);
        else if (srv->journal_timer.slot == SIZE_MAX || srv->journal_timer.when != when)
            ts_timer_set(loop, &srv->journal_timer, when);
    }
    return busy;
}

/*
 * sync always: a reply waits until what it answers is on disk.  The
 * session calls commit once per loop iteration, before it writes any
 * reply: one fdatasync then covers every out and ack of the iteration (a
 * group commit).  Then only the replies that depend on records written
 * since are held, until the next iteration's commit: those of outs served
 * after the commit (resumed requests), and of requests that were shown a
 * tuple whose out is not yet synced (see block.h's need).  A take of a
 * tuple that is on disk is answered at once, even while others' outs wait
 * for their sync, so a client that alternates outs and takes waits for one
 * sync a pair, not two.  In the other policies every record is written
 * before its reply is made, and that is all they promise: no hooks.
 *
 * Gathering, as PostgreSQL's commit_delay does.  The clients one sync
 * answered send their next outs within microseconds of each other, but the
 * loop wakes for the first few; syncing them at once leaves the others to
 * the next sync, and the clients settle into two groups that take turns,
 * each sync covering half of them.  So while the journal writes since the
 * last sync are fewer than that sync covered, the commit waits (the held
 * clients keep the loop polling, without sleeping), for an eighth of the
 * last sync's time and at most 0.5 ms.  A lone client's group is never
 * smaller than its last and never waits.  Measured on a disk where a sync
 * took about 3 ms: 8 clients, 1.7 to 2.4 times the pairs a second; 64
 * clients, 1.1 to 1.6 times.
 */
static void
commit(void *arg)
{
    struct ts_server *srv = arg;
    struct ts_blocking *bl = &srv->ops.blocking;
    struct ts_commit *g = &srv->commit;
    uint64_t now, group;
    char msg[300];

    if (srv->failed || srv->journal == NULL)
        return;
    /* Clean already, perhaps synced by a compaction starting: all the same, all is synced. */
    if (ts_journal_dirty(srv->journal)) {
        now = ts_now();
        group = bl->writes - bl->synced;
        if (g->since == 0)
            g->since = now;
        if (group < g->last && now - g->since < g->gather)
            return;
        if (ts_journal_sync(srv->journal) < 0) {
            snprintf(msg, sizeof msg, "cannot sync the journal: %s", strerror(errno));
            journal_failed(srv, msg);
            return;
        }
        g->last = group;
        g->gather = (ts_now() - now) / 8;
        if (g->gather > GATHER_MAX_NS)
            g->gather = GATHER_MAX_NS;
        g->since = 0;
    }
    bl->synced = bl->writes;
    bl->synced_seq = ts_store_seq(srv->space.store);
}

static int
writable(void *arg, struct ts_client *c)
{
    struct ts_server *srv = arg;
    struct ts_block *b = c->ctx;

    if (srv->failed)
        return 0;
    return b == NULL || b->need <= srv->ops.blocking.synced;
}

static int
compacting(const struct ts_journal *j)
{
    struct ts_journal_stats st;

    ts_journal_stats(j, &st);
    return st.compacting;
}

/* The journal's timer: a batch sync, a compaction to start or to finish. */
static void
on_journal(struct ts_loop *loop, void *arg)
{
    struct ts_server *srv = arg;
    uint64_t t0 = ts_now();
    int before = compacting(srv->journal);
    char msg[600];
    int rc;

    (void)loop;
    rc = ts_journal_tick(srv->journal, t0, msg, sizeof msg);
    if (rc < 0) {
        journal_failed(srv, msg);
        return;
    }
    if (rc > 0 && !before && compacting(srv->journal))
        ts_log("%s (the loop paused %.2f ms)", msg, (double)(ts_now() - t0) / 1e6);
    else if (rc > 0)
        ts_log("%s", msg);
}

/*
 * A failed sync leaves the journal untrustworthy (after such a failure
 * Linux may have dropped the pages it could not write), so the daemon
 * stops, as Redis does when it cannot fsync its AOF under "always", and
 * as PostgreSQL does: the replies that waited for the sync are never sent,
 * and a restart rebuilds the space from what the disk really holds.
 */
static void
journal_failed(struct ts_server *srv, const char *why)
{
    if (srv->failed)
        return;
    ts_log("%s; stopping without the replies that waited for it: restart tsd to recover "
           "what the disk holds",
           why);
    srv->failed = 1;
    stop(srv);
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

/*
 * The workers' put hook: ts.exit and ts.error tuples.  In a durable space
 * they are logged like any out; one the journal refuses is not stored, and
 * the log keeps it instead.
 */
static void
worker_put(void *arg, json_t *tuple)
{
    struct ts_server *srv = arg;
    struct ts_buf text = TS_BUF_INIT;
    uint32_t off[8];
    char err[100];

    if (!srv->stopping && tuple != NULL && json_array_size(tuple) <= 8 &&
        ts_canon_tuple(tuple, &text, off, err, sizeof err) == 0) {
        if (srv->journal != NULL &&
            (ts_journal_out(srv->journal, ts_store_seq(srv->space.store) + 1, 0, ts_buf_head(&text),
                            ts_buf_len(&text)) < 0 ||
             ts_blocking_write(&srv->ops.blocking) < 0)) {
            ts_journal_discard(srv->journal);
            ts_log("cannot log a worker's tuple (%s), not stored: %.*s", strerror(errno),
                   (int)ts_buf_len(&text), ts_buf_head(&text));
        } else {
            ts_space_out(&srv->space, ts_buf_head(&text), ts_buf_len(&text), off,
                         (uint32_t)json_array_size(tuple));
        }
    }
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
 * Returns -1 if the journal failed to sync (then no last reply was sent).
 */
static int
teardown(struct ts_server *srv)
{
    int failed;

    if (srv->lfd >= 0) {
        unlink(srv->path);
        close(srv->lfd);
        srv->lfd = -1;
    }
    /* The journal goes before the last replies, which must not be sent unless it synced. */
    if (srv->journal != NULL) {
        if (srv->loop != NULL)
            ts_timer_cancel(srv->loop, &srv->journal_timer);
        if (ts_journal_close(srv->journal) < 0 && !srv->failed) {
            ts_log("cannot sync the journal: %s; the last replies are not sent", strerror(errno));
            srv->failed = 1;
        }
        srv->journal = srv->ops.blocking.journal = NULL;
    }
    if (srv->workers != NULL) {
        ts_workers_free(srv->workers);
        /* The workers are gone first at shutdown, and their stop requests with them. */
        srv->workers = srv->ops.workers = srv->ops.blocking.workers = NULL;
    }
    /* Best effort: final replies, such as the one to shutdown. */
    if (!srv->failed)
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
    failed = srv->failed;
    free(srv->rebind);
    free(srv->replayed);
    free(srv->helper);
    free(srv);
    return failed ? -1 : 0;
}
