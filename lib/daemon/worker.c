/*
 * worker.c: the daemon starts, watches and stops the workers of eval.
 *
 * A worker is a child of the daemon, leader of its own process group, run
 * in the caller's directory with the caller's environment.  It execs the
 * ts-worker program, which takes the tuples and runs COMMAND (ts-worker(1));
 * nothing of the daemon runs in it.  Its stdout and stderr come back to
 * the daemon through pipes and go to the log, a line at a time, prefixed
 * with its name and pid.  It is reaped from the event loop (SIGCHLD
 * through the signalfd).  When it ends the daemon puts
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

#include "log.h"
#include "mem.h"
#include "tuple.h"
#include "wire.h"
#include "worker.h"

#define LOG_LINE_MAX 4096 /* longer output lines are split */

struct ts_worker {
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
    struct ts_worker *next;
};

/* A stop request whose caller waits until its workers are gone. */
struct killreq {
    void *token; /* the caller's, NULL once it went away */
    pid_t *pids; /* the workers it stops (later ones of that name are not its business) */
    long count;
    struct ts_timer timer; /* when to escalate to SIGKILL */
    struct ts_workers *ws;
    struct killreq *next;
};

struct ts_workers {
    struct ts_loop *loop;
    char *socket; /* the daemon's, for TS_SOCKET */
    char *helper; /* the ts-worker program */
    struct ts_worker_hooks hooks;
    struct ts_worker *list;
    size_t count;
    struct killreq *kills;
    int stopping; /* shutting down: report nothing more */
};

static int find_command(const char *cmd, const char *cwd, json_t *env, char *err, size_t errlen);
static char **worker_env(json_t *env, const char *sock, const char *name, long index);
static char **worker_argv(const char *helper, const struct ts_eval *e);
static void become_worker(struct ts_workers *ws, char **argv, char **env, const char *cwd, int out,
                          int err) __attribute__((noreturn));
static void on_output(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static void drain(struct ts_worker *w, int i);
static void log_lines(struct ts_worker *w, int i, int flush);
static void reaped(struct ts_workers *ws, pid_t pid, int st);
static void ended(struct ts_workers *ws, struct ts_worker *w, int status);
static void check_kills(struct ts_workers *ws);
static void on_kill_timer(struct ts_loop *loop, void *arg);
static void free_worker(struct ts_workers *ws, struct ts_worker *w);
static void free_strings(char **v);

struct ts_workers *
ts_workers_new(struct ts_loop *loop, const char *socket, const char *helper,
               const struct ts_worker_hooks *hooks)
{
    struct ts_workers *ws = ts_xcalloc(1, sizeof *ws);

    ws->loop = loop;
    ws->socket = ts_xstrdup(socket);
    ws->helper = ts_xstrdup(helper);
    ws->hooks = *hooks;
    return ws;
}

size_t
ts_workers_count(const struct ts_workers *ws)
{
    return ws != NULL ? ws->count : 0;
}

/* The environment of a worker: the caller's, then ours. */
static char **
worker_env(json_t *env, const char *sock, const char *name, long index)
{
    size_t i, n = json_array_size(env), k = 0;
    char **v = ts_xcalloc(n + 4, sizeof *v);
    const char *ours[] = {"TS_SOCKET=", "TS_WORKER_NAME=", "TS_WORKER_INDEX="};

    for (i = 0; i < n; i++) {
        const char *e = json_string_value(json_array_get(env, i));
        size_t j;
        int skip = 0;

        for (j = 0; j < 3; j++)
            skip |= strncmp(e, ours[j], strlen(ours[j])) == 0;
        if (!skip)
            v[k++] = ts_xstrdup(e);
    }
    v[k] = ts_xmalloc(strlen(sock) + 11);
    sprintf(v[k++], "TS_SOCKET=%s", sock);
    v[k] = ts_xmalloc(strlen(name) + 16);
    sprintf(v[k++], "TS_WORKER_NAME=%s", name);
    v[k] = ts_xmalloc(40);
    sprintf(v[k++], "TS_WORKER_INDEX=%ld", index);
    return v;
}

/* ts-worker --name NAME [--take-json T] [--put-json P] -- COMMAND... */
static char **
worker_argv(const char *helper, const struct ts_eval *e)
{
    size_t i, n = json_array_size(e->argv), k = 0;
    char **v = ts_xcalloc(n + 9, sizeof *v);

    v[k++] = ts_xstrdup(helper);
    v[k++] = ts_xstrdup("--name");
    v[k++] = ts_xstrdup(e->name);
    if (e->take != NULL) {
        v[k++] = ts_xstrdup("--take-json");
        v[k++] = json_dumps(e->take, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (e->put != NULL) {
        v[k++] = ts_xstrdup("--put-json");
        v[k++] = json_dumps(e->put, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    v[k++] = ts_xstrdup("--");
    for (i = 0; i < n; i++)
        v[k++] = ts_xstrdup(json_string_value(json_array_get(e->argv, i)));
    return v;
}

static void
free_strings(char **v)
{
    size_t i;

    for (i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* In the child: set up the process, then become the helper. */
static void
become_worker(struct ts_workers *ws, char **argv, char **env, const char *cwd, int out, int err)
{
    sigset_t none;
    int null;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(111); /* the daemon died before we could ask to follow it */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    close_range(3, ~0u, 0);
    if (chdir(cwd) < 0) {
        dprintf(2, "cannot enter %s: %s\n", cwd, strerror(errno));
        _exit(126);
    }
    execve(ws->helper, argv, env);
    dprintf(2, "cannot run %s: %s\n", ws->helper, strerror(errno));
    _exit(127);
}

int
ts_workers_start(struct ts_workers *ws, const struct ts_eval *e, json_t *pids, int *usage,
                 char *err, size_t errlen)
{
    const char *cmd = json_string_value(json_array_get(e->argv, 0));
    struct ts_worker *started = NULL, *w;
    char **argv, **env;
    long i;

    *usage = 1;
    if (access(ws->helper, X_OK) < 0) {
        snprintf(err, errlen, "cannot run the worker program %s: %s", ws->helper, strerror(errno));
        *usage = 0;
        return -1;
    }
    if (strchr(cmd, '{') == NULL && find_command(cmd, e->cwd, e->env, err, errlen) < 0)
        return -1;
    *usage = 0;
    argv = worker_argv(ws->helper, e);
    for (i = 0; i < e->n; i++) {
        int out[2], errp[2];
        pid_t pid;

        if (pipe2(out, O_CLOEXEC) < 0) {
            snprintf(err, errlen, "pipe: %s", strerror(errno));
            goto fail;
        }
        if (pipe2(errp, O_CLOEXEC) < 0) {
            snprintf(err, errlen, "pipe: %s", strerror(errno));
            close(out[0]), close(out[1]);
            goto fail;
        }
        env = worker_env(e->env, ws->socket, e->name, i);
        pid = fork();
        if (pid < 0) {
            snprintf(err, errlen, "fork: %s", strerror(errno));
            close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
            free_strings(env);
            goto fail;
        }
        if (pid == 0)
            become_worker(ws, argv, env, e->cwd, out[1], errp[1]);
        free_strings(env);
        setpgid(pid, pid); /* as the child does: whichever runs first */
        close(out[1]);
        close(errp[1]);
        w = ts_xcalloc(1, sizeof *w);
        w->name = ts_xstrdup(e->name);
        w->index = (int)i;
        w->pid = pid;
        w->argv = json_incref(e->argv);
        w->started = ts_wall_clock();
        w->fds[0] = out[0];
        w->fds[1] = errp[0];
        w->ws = ws;
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        fcntl(errp[0], F_SETFL, O_NONBLOCK);
        ts_loop_add(ws->loop, out[0], EPOLLIN, on_output, w);
        ts_loop_add(ws->loop, errp[0], EPOLLIN, on_output, w);
        w->next = ws->list;
        ws->list = w;
        ws->count++;
        if (started == NULL)
            started = w;
    }
    free_strings(argv);
    for (w = ws->list; w != NULL; w = w->next) {
        json_array_insert_new(pids, 0, json_integer(w->pid));
        if (w == started)
            break;
    }
    ts_log("started %ld worker%s '%s': %s", e->n, e->n == 1 ? "" : "s", e->name, cmd);
    return 0;
fail:
    free_strings(argv);
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
    return -1;
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
    struct ts_worker *w = arg;

    (void)loop;
    (void)events;
    drain(w, fd == w->fds[0] ? 0 : 1);
}

/* Read what there is (a bounded amount: a flooding worker must not stall us). */
static void
drain(struct ts_worker *w, int i)
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
            ts_loop_del(w->ws->loop, w->fds[i]);
            close(w->fds[i]);
            w->fds[i] = -1;
            break;
        }
        ts_buf_add(&w->line[i], buf, (size_t)n);
        if (i == 1) {
            ts_buf_add_tail(&w->tail, buf, (size_t)n, TS_TAIL_MAX);
        }
        log_lines(w, i, 0);
    }
}

static void
log_lines(struct ts_worker *w, int i, int flush)
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

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        reaped(ws, pid, st);
    check_kills(ws);
}

/* A child is gone: if it was a worker, report and forget it. */
static void
reaped(struct ts_workers *ws, pid_t pid, int st)
{
    struct ts_worker **pp = &ws->list, *w;

    while (*pp != NULL && (*pp)->pid != pid)
        pp = &(*pp)->next;
    if ((w = *pp) == NULL)
        return;
    *pp = w->next;
    ended(ws, w, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    free_worker(ws, w);
}

static void
ended(struct ts_workers *ws, struct ts_worker *w, int status)
{
    int i;

    /* Whatever it wrote before it died is in the pipes now. */
    for (i = 0; i < 2; i++)
        if (w->fds[i] >= 0) {
            drain(w, i);
            log_lines(w, i, 1);
        }
    ts_log("worker %s[%ld] ended with status %d%s", w->name, (long)w->pid, status,
           w->stopping ? " (stopped)" : "");
    if (ws->stopping)
        return;
    if (status != 0 && !w->stopping) {
        json_t *tuple = w->processing != NULL ? json_loads(w->processing, 0, NULL) : NULL;

        ws->hooks.put(ws->hooks.arg,
                      json_pack("[s, s, I, i, o, o]", "ts.error", w->name, (json_int_t)w->pid,
                                status, ts_text_string(ts_buf_head(&w->tail), ts_buf_len(&w->tail)),
                                tuple != NULL ? tuple : json_null()));
    }
    ws->hooks.put(ws->hooks.arg,
                  json_pack("[s, s, I, i]", "ts.exit", w->name, (json_int_t)w->pid, status));
}

static void
free_worker(struct ts_workers *ws, struct ts_worker *w)
{
    int i;

    for (i = 0; i < 2; i++) {
        if (w->fds[i] >= 0) {
            ts_loop_del(ws->loop, w->fds[i]);
            close(w->fds[i]);
        }
        ts_buf_free(&w->line[i]);
    }
    ws->hooks.gone(ws->hooks.arg, w);
    ts_buf_free(&w->tail);
    json_decref(w->argv);
    free(w->processing);
    free(w->name);
    free(w);
    ws->count--;
}

struct ts_worker *
ts_workers_find(struct ts_workers *ws, pid_t pid)
{
    struct ts_worker *w;

    for (w = ws != NULL ? ws->list : NULL; w != NULL; w = w->next)
        if (w->pid == pid)
            return w;
    return NULL;
}

void
ts_worker_holds(struct ts_worker *w, const char *text, size_t len)
{
    free(w->processing);
    w->processing = text != NULL ? ts_xstrndup(text, len) : NULL;
}

long
ts_workers_stop(struct ts_workers *ws, const char *name, double grace, void *token)
{
    struct killreq *k;
    struct ts_worker *w;
    long count = 0;

    k = ts_xcalloc(1, sizeof *k);
    k->pids = ts_xcalloc(ws->count + 1, sizeof *k->pids);
    for (w = ws->list; w != NULL; w = w->next) {
        if (strcmp(w->name, name) != 0)
            continue;
        w->stopping = 1;
        kill(-w->pid, SIGTERM);
        k->pids[count++] = w->pid;
    }
    if (count == 0) {
        free(k->pids);
        free(k);
        return 0;
    }
    k->token = token;
    k->count = count;
    k->ws = ws;
    ts_timer_init(&k->timer, on_kill_timer, k);
    ts_timer_set(ws->loop, &k->timer, ts_now() + (uint64_t)llround(grace * 1e9));
    k->next = ws->kills;
    ws->kills = k;
    return count;
}

/* Is a worker this request stops still there? */
static int
kill_pending(struct killreq *k, struct ts_worker *w)
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
    struct ts_worker *w;

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
        struct ts_worker *w;

        for (w = ws->list; w != NULL && !kill_pending(k, w); w = w->next)
            ;
        if (w != NULL) {
            pp = &k->next;
            continue;
        }
        *pp = k->next;
        if (k->token != NULL)
            ws->hooks.stopped(ws->hooks.arg, k->token, k->count);
        ts_timer_cancel(ws->loop, &k->timer);
        free(k->pids);
        free(k);
    }
}

void
ts_workers_forget(struct ts_workers *ws, void *token)
{
    struct killreq *k;

    for (k = ws->kills; k != NULL; k = k->next)
        if (k->token == token)
            k->token = NULL;
}

void
ts_workers_dump(struct ts_workers *ws, struct ts_buf *out)
{
    struct ts_worker *w;

    for (w = ws->list; w != NULL; w = w->next) {
        json_t *proc = w->processing != NULL ? json_loads(w->processing, 0, NULL) : NULL;
        json_t *v = json_pack("{s:{s:s, s:i, s:I, s:O, s:s, s:f, s:o}}", "worker", "name", w->name,
                              "index", w->index, "pid", (json_int_t)w->pid, "argv", w->argv,
                              "state", w->stopping ? "stopping" : "running", "started", w->started,
                              "processing", proc != NULL ? proc : json_null());
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
    struct ts_worker *w;
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
    uint64_t deadline = ts_now() + (uint64_t)(TS_GRACE_DEFAULT * 1e9);
    struct killreq *k;
    struct ts_worker *w;
    int killed = 0;

    ws->stopping = 1;
    for (w = ws->list; w != NULL; w = w->next) {
        w->stopping = 1;
        kill(-w->pid, SIGTERM);
    }
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);

        if (pid > 0) {
            reaped(ws, pid, st);
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
        ts_timer_cancel(ws->loop, &k->timer);
        free(k->pids);
        free(k);
    }
    free(ws->socket);
    free(ws->helper);
    free(ws);
}
