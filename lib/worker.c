/*
 * worker.c: the daemon starts, watches and stops the workers of eval.
 *
 * A worker is a child of the daemon, leader of its own process group, run
 * in the caller's directory with the caller's environment; its stdout and
 * stderr come back to the daemon through pipes and go to the log, a line
 * at a time, prefixed with its name and pid.  It is reaped from the event
 * loop (SIGCHLD through the signalfd).  When it ends the daemon puts
 * ["ts.exit", NAME, PID, STATUS], and first, if it failed,
 * ["ts.error", NAME, PID, STATUS, STDERR_TAIL, TUPLE] with the tuple it
 * was holding (which, unconfirmed, has gone back to the space).  Workers
 * stopped on purpose (ts-eval -k, shutdown) put ts.exit only, and a job
 * their command did not finish goes back to the space.
 *
 * A worker dies with the daemon (PR_SET_PDEATHSIG), and its command dies
 * with it in turn; stopping sends SIGTERM to the whole process group, then
 * SIGKILL once the grace period is over.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"
#include "runner.h"
#include "session.h"
#include "template.h"
#include "tuple.h"
#include "worker.h"
#include "xmalloc.h"

#define MAX_WORKERS 1024   /* per eval request */
#define LOG_LINE_MAX 4096  /* longer output lines are split */
#define GRACE_DEFAULT 5.0  /* seconds between SIGTERM and SIGKILL */

struct worker {
    char *name;
    int index;
    pid_t pid;             /* also its process group */
    json_t *argv;          /* COMMAND, for ts-dump -w */
    double started;        /* wall clock */
    int stopping;          /* asked to stop: its end is no failure */
    int fds[2];            /* its stdout and stderr, -1 once closed */
    struct ts_buf line[2]; /* a partial output line of each */
    struct ts_buf tail;    /* the end of its stderr */
    char *processing;      /* canonical text of the tuple lent to it, or NULL */
    struct ts_workers *ws;
    struct worker *next;
};

/* A client waiting for ts-eval -k to finish. */
struct killreq {
    struct ts_client *c;  /* NULL once the client went away */
    pid_t *pids;          /* the workers it stops (later ones of that name are not its business) */
    long count;
    struct ts_timer timer; /* when to escalate to SIGKILL */
    struct ts_workers *ws;
    struct killreq *next;
};

struct ts_workers {
    struct ts_server *srv;
    struct worker *list;
    size_t count;
    struct killreq *kills;
};

static void start(struct ts_workers *ws, struct ts_client *c, json_t *req);
static void stop_named(struct ts_workers *ws, struct ts_client *c, json_t *req);
static int find_command(const char *cmd, const char *cwd, json_t *env, char *err, size_t errlen);
static void on_output(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static void drain(struct worker *w, int i);
static void log_lines(struct worker *w, int i, int flush);
static void ended(struct ts_workers *ws, struct worker *w, int status);
static void put(struct ts_server *srv, json_t *tuple);
static void check_kills(struct ts_workers *ws);
static void on_kill_timer(struct ts_loop *loop, void *arg);
static void free_worker(struct ts_workers *ws, struct worker *w);
static double wall_clock(void);

struct ts_workers *
ts_workers_new(struct ts_server *srv)
{
    struct ts_workers *ws = xcalloc(1, sizeof *ws);

    ws->srv = srv;
    return ws;
}

size_t
ts_workers_count(const struct ts_workers *ws)
{
    return ws != NULL ? ws->count : 0;
}

void
ts_workers_eval(struct ts_workers *ws, struct ts_client *c, json_t *req)
{
    if (json_object_get(req, "kill") != NULL)
        stop_named(ws, c, req);
    else
        start(ws, c, req);
}

static char **
string_array(json_t *a)
{
    size_t i, n = json_array_size(a);
    char **v = xcalloc(n + 1, sizeof *v);

    for (i = 0; i < n; i++)
        v[i] = (char *)json_string_value(json_array_get(a, i));
    return v;
}

static int
all_strings(json_t *a, int nonempty)
{
    size_t i;

    if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
        return 0;
    for (i = 0; i < json_array_size(a); i++)
        if (!json_is_string(json_array_get(a, i)))
            return 0;
    return 1;
}

/* The environment of a worker: the caller's, then ours. */
static char **
worker_env(json_t *env, const char *sock, const char *name, int index)
{
    size_t i, n = json_array_size(env), k = 0;
    char **v = xcalloc(n + 4, sizeof *v);
    const char *ours[] = {"TS_SOCKET=", "TS_WORKER_NAME=", "TS_WORKER_INDEX="};

    for (i = 0; i < n; i++) {
        const char *e = json_string_value(json_array_get(env, i));
        size_t j;
        int skip = 0;

        for (j = 0; j < 3; j++)
            skip |= strncmp(e, ours[j], strlen(ours[j])) == 0;
        if (!skip)
            v[k++] = xstrdup(e);
    }
    v[k] = xmalloc(strlen(sock) + 11);
    sprintf(v[k++], "TS_SOCKET=%s", sock);
    v[k] = xmalloc(strlen(name) + 16);
    sprintf(v[k++], "TS_WORKER_NAME=%s", name);
    v[k] = xmalloc(32);
    sprintf(v[k++], "TS_WORKER_INDEX=%d", index);
    return v;
}

/* In the child: become a worker and never come back. */
static void
become_worker(struct ts_workers *ws, json_t *req, int index, int out, int err)
{
    const char *cwd = json_string_value(json_object_get(req, "cwd"));
    json_t *put_words = json_object_get(req, "put");
    struct ts_runspec spec;
    sigset_t all;
    int null;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(111); /* the daemon died before we could ask to follow it */
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    close_range(3, ~0u, 0);
    if (chdir(cwd) < 0) {
        fprintf(stderr, "cannot enter %s: %s\n", cwd, strerror(errno));
        _exit(126);
    }
    spec.name = json_string_value(json_object_get(req, "name"));
    spec.index = index;
    spec.socket = ws->srv->path;
    spec.argv = string_array(json_object_get(req, "argv"));
    spec.take = json_object_get(req, "take");
    spec.put = put_words != NULL ? string_array(put_words) : NULL;
    environ = worker_env(json_object_get(req, "env"), ws->srv->path, spec.name, index);
    prctl(PR_SET_NAME, "ts-worker");
    ts_runner_main(&spec);
}

static void
start(struct ts_workers *ws, struct ts_client *c, json_t *req)
{
    json_t *name = json_object_get(req, "name"), *argv = json_object_get(req, "argv");
    json_t *cwd = json_object_get(req, "cwd"), *env = json_object_get(req, "env");
    json_t *take = json_object_get(req, "take"), *put_words = json_object_get(req, "put");
    json_t *n = json_object_get(req, "n"), *pids, *reply;
    struct worker *started = NULL, *w;
    char err[400], *line, **av, **pw;
    size_t arity = 0;
    json_int_t count = 1, i;

    if (!json_is_string(name) || json_string_length(name) == 0 || !all_strings(argv, 1) ||
        !json_is_string(cwd) || json_string_value(cwd)[0] != '/' || !all_strings(env, 0) ||
        (put_words != NULL && !all_strings(put_words, 1))) {
        ts_client_error(c, "bad", "eval needs \"name\", \"argv\" (strings), \"cwd\" (absolute), "
                                  "\"env\" (strings), and \"put\" (strings) if any");
        return;
    }
    if (n != NULL) {
        count = json_is_integer(n) ? json_integer_value(n) : 0;
        if (count < 1 || count > MAX_WORKERS) {
            ts_client_error(c, "bad", "\"n\" must be an integer from 1 to %d", MAX_WORKERS);
            return;
        }
    }
    if (take != NULL) {
        struct ts_tmpl *tm = ts_tmpl_compile(json_incref(take), err, sizeof err);

        if (tm == NULL) {
            ts_client_error(c, "bad", "take: %s", err);
            return;
        }
        arity = tm->arity;
        ts_tmpl_free(tm);
    }
    av = string_array(argv);
    pw = put_words != NULL ? string_array(put_words) : NULL;
    if (ts_placeholders_check(av, pw, arity, err, sizeof err) < 0 ||
        (strchr(av[0], '{') == NULL &&
         find_command(av[0], json_string_value(cwd), env, err, sizeof err) < 0)) {
        ts_client_error(c, "bad", "%s", err);
        free(av);
        free(pw);
        return;
    }
    free(av);
    free(pw);

    for (i = 0; i < count; i++) {
        int out[2], errp[2];
        pid_t pid;

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
            snprintf(err, sizeof err, "pipe: %s", strerror(errno));
            goto fail;
        }
        pid = fork();
        if (pid < 0) {
            snprintf(err, sizeof err, "fork: %s", strerror(errno));
            close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
            goto fail;
        }
        if (pid == 0)
            become_worker(ws, req, (int)i, out[1], errp[1]);
        setpgid(pid, pid); /* as the child does: whichever runs first */
        close(out[1]);
        close(errp[1]);
        w = xcalloc(1, sizeof *w);
        w->name = xstrdup(json_string_value(name));
        w->index = (int)i;
        w->pid = pid;
        w->argv = json_incref(argv);
        w->started = wall_clock();
        w->fds[0] = out[0];
        w->fds[1] = errp[0];
        w->ws = ws;
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        fcntl(errp[0], F_SETFL, O_NONBLOCK);
        ts_loop_add(ws->srv->loop, out[0], EPOLLIN, on_output, w);
        ts_loop_add(ws->srv->loop, errp[0], EPOLLIN, on_output, w);
        w->next = ws->list;
        ws->list = w;
        ws->count++;
        if (started == NULL)
            started = w;
    }
    pids = json_array();
    for (w = ws->list; w != NULL; w = w->next) {
        json_array_insert_new(pids, 0, json_integer(w->pid));
        if (w == started)
            break;
    }
    ts_log("started %" JSON_INTEGER_FORMAT " worker%s '%s': %s", count, count == 1 ? "" : "s",
           json_string_value(name), json_string_value(json_array_get(argv, 0)));
    reply = json_pack("{s:b, s:O, s:o}", "ok", 1, "name", name, "pids", pids);
    line = json_dumps(reply, JSON_COMPACT);
    ts_client_send(c, line, strlen(line));
    ts_client_send(c, "\n", 1);
    free(line);
    json_decref(reply);
    return;
fail:
    /* Nothing half-started is left behind. */
    while (started != NULL) {
        w = ws->list;
        w->stopping = 1;
        kill(-w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        ws->list = w->next;
        free_worker(ws, w);
        if (w == started)
            break;
    }
    ts_client_error(c, "failed", "cannot start workers: %s", err);
}

/* Is cmd something execvp would run, from cwd with env's PATH? */
static int
find_command(const char *cmd, const char *cwd, json_t *env, char *err, size_t errlen)
{
    const char *path = "/bin:/usr/bin"; /* what execvp uses without PATH */
    char buf[PATH_MAX];
    struct stat st;
    size_t i;

    for (i = 0; i < json_array_size(env); i++) {
        const char *e = json_string_value(json_array_get(env, i));

        if (strncmp(e, "PATH=", 5) == 0)
            path = e + 5;
    }
    if (strchr(cmd, '/') != NULL) {
        snprintf(buf, sizeof buf, "%s%s%s", cmd[0] == '/' ? "" : cwd, cmd[0] == '/' ? "" : "/",
                 cmd);
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return 0;
        snprintf(err, errlen, "cannot run %s: %s", cmd,
                 stat(buf, &st) < 0 ? strerror(errno) : "not an executable file");
        return -1;
    }
    /* An empty or relative PATH entry is relative to the caller's directory. */
    for (;;) {
        size_t len = strcspn(path, ":");

        if (len == 0)
            snprintf(buf, sizeof buf, "%s/%s", cwd, cmd);
        else if (path[0] == '/')
            snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, cmd);
        else
            snprintf(buf, sizeof buf, "%s/%.*s/%s", cwd, (int)len, path, cmd);
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return 0;
        if (path[len] == '\0')
            break;
        path += len + 1;
    }
    snprintf(err, errlen, "command not found: %s", cmd);
    return -1;
}

static void
on_output(struct ts_loop *loop, int fd, uint32_t events, void *arg)
{
    struct worker *w = arg;

    (void)loop;
    (void)events;
    drain(w, fd == w->fds[0] ? 0 : 1);
}

/* Read what there is (a bounded amount: a flooding worker must not stall us). */
static void
drain(struct worker *w, int i)
{
    char buf[65536];
    int rounds;

    for (rounds = 0; rounds < 16 && w->fds[i] >= 0; rounds++) {
        ssize_t n = read(w->fds[i], buf, sizeof buf);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            log_lines(w, i, 1);
            ts_loop_del(w->ws->srv->loop, w->fds[i]);
            close(w->fds[i]);
            w->fds[i] = -1;
            break;
        }
        ts_buf_add(&w->line[i], buf, (size_t)n);
        if (i == 1) {
            ts_buf_add(&w->tail, buf, (size_t)n);
            if (ts_buf_len(&w->tail) > TS_TAIL_MAX)
                ts_buf_consume(&w->tail, ts_buf_len(&w->tail) - TS_TAIL_MAX);
        }
        log_lines(w, i, 0);
    }
}

static void
log_lines(struct worker *w, int i, int flush)
{
    struct ts_buf *b = &w->line[i];
    char *line;
    long len;

    while ((len = ts_buf_line(b, &line)) >= 0) {
        ts_log("%s[%ld]: %s", w->name, (long)w->pid, line);
        ts_buf_consume(b, (size_t)len + 1);
    }
    while (ts_buf_len(b) >= LOG_LINE_MAX || (flush && ts_buf_len(b) > 0)) {
        size_t n = ts_buf_len(b) < LOG_LINE_MAX ? ts_buf_len(b) : LOG_LINE_MAX;

        ts_log("%s[%ld]: %.*s", w->name, (long)w->pid, (int)n, ts_buf_head(b));
        ts_buf_consume(b, n);
    }
}

void
ts_workers_reap(struct ts_workers *ws)
{
    pid_t pid;
    int st;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct worker **pp = &ws->list, *w;

        while (*pp != NULL && (*pp)->pid != pid)
            pp = &(*pp)->next;
        if ((w = *pp) == NULL)
            continue;
        *pp = w->next;
        ended(ws, w, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        free_worker(ws, w);
    }
    check_kills(ws);
}

static void
ended(struct ts_workers *ws, struct worker *w, int status)
{
    struct ts_server *srv = ws->srv;
    int i;

    /* Whatever it wrote before it died is in the pipes now. */
    for (i = 0; i < 2; i++)
        if (w->fds[i] >= 0) {
            drain(w, i);
            log_lines(w, i, 1);
        }
    ts_log("worker %s[%ld] ended with status %d%s", w->name, (long)w->pid, status,
           w->stopping ? " (stopped)" : "");
    if (srv->stopping)
        return;
    if (status != 0 && !w->stopping) {
        json_t *tuple = w->processing != NULL ? json_loads(w->processing, 0, NULL) : NULL;

        put(srv, json_pack("[s, s, I, i, o, o]", "ts.error", w->name, (json_int_t)w->pid, status,
                           ts_text_string(ts_buf_head(&w->tail), ts_buf_len(&w->tail)),
                           tuple != NULL ? tuple : json_null()));
    }
    put(srv, json_pack("[s, s, I, i]", "ts.exit", w->name, (json_int_t)w->pid, status));
}

static void
put(struct ts_server *srv, json_t *tuple)
{
    struct ts_buf text = TS_BUF_INIT;
    uint32_t off[8];
    char err[100];

    if (tuple != NULL && json_array_size(tuple) <= 8 &&
        ts_canon_tuple(tuple, &text, off, err, sizeof err) == 0)
        ts_space_out(&srv->space, ts_buf_head(&text), ts_buf_len(&text), off,
                     (uint32_t)json_array_size(tuple));
    ts_buf_free(&text);
    json_decref(tuple);
}

static void
free_worker(struct ts_workers *ws, struct worker *w)
{
    struct ts_client *c;
    int i;

    for (i = 0; i < 2; i++) {
        if (w->fds[i] >= 0) {
            ts_loop_del(ws->srv->loop, w->fds[i]);
            close(w->fds[i]);
        }
        ts_buf_free(&w->line[i]);
    }
    for (c = ws->srv->clients; c != NULL; c = c->next)
        if (c->worker == w)
            c->worker = NULL;
    ts_buf_free(&w->tail);
    json_decref(w->argv);
    free(w->processing);
    free(w->name);
    free(w);
    ws->count--;
}

void *
ts_workers_find(struct ts_workers *ws, pid_t pid)
{
    struct worker *w;

    for (w = ws != NULL ? ws->list : NULL; w != NULL; w = w->next)
        if (w->pid == pid)
            return w;
    return NULL;
}

void
ts_workers_note(void *worker, const struct ts_tuple *t)
{
    struct worker *w = worker;

    free(w->processing);
    w->processing = t != NULL ? xstrndup(ts_tuple_text(t), t->len) : NULL;
}

static void
stop_named(struct ts_workers *ws, struct ts_client *c, json_t *req)
{
    json_t *name = json_object_get(req, "kill"), *grace = json_object_get(req, "grace");
    double g = GRACE_DEFAULT;
    struct killreq *k;
    struct worker *w;
    long count = 0;

    if (!json_is_string(name)) {
        ts_client_error(c, "bad", "\"kill\" must be a worker name");
        return;
    }
    if (grace != NULL) {
        g = json_number_value(grace);
        if (!json_is_number(grace) || !(g >= 0) || g > 3600) {
            ts_client_error(c, "bad", "\"grace\" must be seconds from 0 to 3600");
            return;
        }
    }
    k = xcalloc(1, sizeof *k);
    k->pids = xcalloc(ws->count + 1, sizeof *k->pids);
    for (w = ws->list; w != NULL; w = w->next) {
        if (strcmp(w->name, json_string_value(name)) != 0)
            continue;
        w->stopping = 1;
        kill(-w->pid, SIGTERM);
        k->pids[count++] = w->pid;
    }
    if (count == 0) {
        ts_client_error(c, "nomatch", "no workers named '%s'", json_string_value(name));
        free(k->pids);
        free(k);
        return;
    }
    k->c = c;
    k->count = count;
    k->ws = ws;
    ts_timer_init(&k->timer, on_kill_timer, k);
    ts_timer_set(ws->srv->loop, &k->timer, ts_now() + (uint64_t)llround(g * 1e9));
    k->next = ws->kills;
    ws->kills = k;
    c->flags |= TS_CLIENT_BLOCKED;
}

/* Is a worker this request stops still there? */
static int
kill_pending(struct killreq *k, struct worker *w)
{
    long i;

    for (i = 0; i < k->count; i++)
        if (k->pids[i] == w->pid)
            return 1;
    return 0;
}

static void
on_kill_timer(struct ts_loop *loop, void *arg)
{
    struct killreq *k = arg;
    struct worker *w;

    (void)loop;
    for (w = k->ws->list; w != NULL; w = w->next)
        if (kill_pending(k, w))
            kill(-w->pid, SIGKILL);
}

/* Answer the ts-eval -k requests whose workers are all gone. */
static void
check_kills(struct ts_workers *ws)
{
    struct killreq **pp = &ws->kills, *k;

    while ((k = *pp) != NULL) {
        struct worker *w;

        for (w = ws->list; w != NULL && !kill_pending(k, w); w = w->next)
            ;
        if (w != NULL) {
            pp = &k->next;
            continue;
        }
        *pp = k->next;
        if (k->c != NULL) {
            char line[64];
            int n = snprintf(line, sizeof line, "{\"ok\":true,\"n\":%ld}\n", k->count);

            ts_client_send(k->c, line, (size_t)n);
            k->c->flags &= ~TS_CLIENT_BLOCKED;
            ts_client_touch(k->c, TS_CLIENT_RESUME);
        }
        ts_timer_cancel(ws->srv->loop, &k->timer);
        free(k->pids);
        free(k);
    }
}

void
ts_workers_forget(struct ts_workers *ws, struct ts_client *c)
{
    struct killreq *k;

    for (k = ws != NULL ? ws->kills : NULL; k != NULL; k = k->next)
        if (k->c == c)
            k->c = NULL;
}

void
ts_workers_dump(struct ts_workers *ws, struct ts_buf *out)
{
    struct worker *w;

    for (w = ws->list; w != NULL; w = w->next) {
        json_t *proc = w->processing != NULL ? json_loads(w->processing, 0, NULL) : NULL;
        json_t *v = json_pack("{s:{s:s, s:i, s:I, s:O, s:s, s:f, s:o}}", "worker", "name",
                              w->name, "index", w->index, "pid", (json_int_t)w->pid, "argv",
                              w->argv, "state", w->stopping ? "stopping" : "running", "started",
                              w->started, "processing", proc != NULL ? proc : json_null());
        char *line = json_dumps(v, JSON_COMPACT);

        ts_buf_addstr(out, line);
        ts_buf_add(out, "\n", 1);
        free(line);
        json_decref(v);
    }
}

/* SIGKILL every child we have: workers, and orphans we adopted as subreaper. */
static void
kill_children(struct ts_workers *ws)
{
    char path[64], buf[4096], *p, *end;
    struct worker *w;
    ssize_t n;
    int fd;

    for (w = ws->list; w != NULL; w = w->next)
        kill(-w->pid, SIGKILL);
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)getpid());
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (p = buf;; p = end) {
        long pid = strtol(p, &end, 10);

        if (end == p)
            break;
        kill((pid_t)pid, SIGKILL);
    }
}

/*
 * At shutdown: TERM to every group, a grace period, KILL to whatever is
 * left, and every descendant reaped before the daemon exits.
 */
void
ts_workers_free(struct ts_workers *ws)
{
    uint64_t deadline = ts_now() + (uint64_t)(GRACE_DEFAULT * 1e9);
    struct killreq *k;
    struct worker *w;
    int killed = 0;

    for (w = ws->list; w != NULL; w = w->next) {
        w->stopping = 1;
        kill(-w->pid, SIGTERM);
    }
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);

        if (pid > 0) {
            struct worker **pp = &ws->list;

            while (*pp != NULL && (*pp)->pid != pid)
                pp = &(*pp)->next;
            if ((w = *pp) != NULL) {
                *pp = w->next;
                ended(ws, w, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                free_worker(ws, w);
            }
            continue;
        }
        if (pid < 0 && errno == ECHILD)
            break;
        if (ts_now() > deadline) {
            if (killed++ > 20)
                break; /* something no signal can reach: do not hang for ever */
            kill_children(ws);
            deadline = ts_now() + 100000000u;
        }
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    while (ws->list != NULL) {
        w = ws->list;
        ws->list = w->next;
        free_worker(ws, w);
    }
    while ((k = ws->kills) != NULL) {
        ws->kills = k->next;
        ts_timer_cancel(ws->srv->loop, &k->timer);
        free(k->pids);
        free(k);
    }
    free(ws);
}

static double
wall_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
