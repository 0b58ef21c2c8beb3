/*
 * worker.c: the daemon starts, watches, restarts and stops the workers of
 * eval.
 *
 * Workers and their processes
 * ---------------------------
 * A worker is a slot: a name, an index, and what its start request asked
 * for.  Its process is a child of the daemon, leader of its own process
 * group, run in the caller's directory with the caller's environment.  It
 * execs the ts-worker program, which takes the tuples and runs COMMAND
 * (ts-worker's options are in ts-eval(1)); nothing of the daemon runs in
 * it.  Its stdout and stderr come back through pipes and go to the log, a
 * line at a time, prefixed with its name and pid, and the last LOG_KEEP
 * bytes of each worker's lines are kept for ts-eval --log.  It is reaped
 * from the event loop (SIGCHLD through the signalfd).
 *
 * When a process ends, the daemon puts ["ts.exit", NAME, PID, STATUS].
 * What comes next depends on why it ended:
 *
 *   - asked to (ts-eval -k, --scale, shutdown): the slot goes;
 *   - on its own, and the restart policy says so: the slot is started
 *     again after a pause (supervision, below);
 *   - on its own, for good: the slot goes, and if the status is not 0 the
 *     daemon first puts ["ts.error", NAME, PID, STATUS, STDERR_TAIL, null].
 *
 * The daemon never puts a ts.error that carries a job.  A job lent to a
 * worker that died is not lost and has not failed: its connection is gone,
 * so the space takes it back (block.h).  Only the worker's ts-worker, which
 * knows how its command ended, reports a job's failure, as the job's dead
 * letter (ts-eval(1)).
 *
 * A worker without a take template runs its command once: it is the job.
 * It hands its --put tuple to the daemon, which keeps it until the process
 * has ended and then puts, in this order, its ts.error (if it failed for
 * good), the result, and its ts.exit; so nobody sees the result of a failed
 * run before its error.
 *
 * Supervision
 * -----------
 * As skarnet's s6-supervise does, a worker is started again after a pause,
 * never in a busy loop: RESTART_FIRST seconds, doubled for each run in a
 * row that lasted less than RESTART_SHORT seconds.  After RESTART_LIMIT
 * such short runs in a row the daemon gives up on that worker: it puts one
 * ts.error with a null tuple naming it, and the slot goes.
 *
 * Counting and waiting
 * --------------------
 * Each name counts its jobs done, failed for good and retried, as its
 * workers report them (ts_worker_report), and, for run-once workers, as
 * they end.  A wait (ts-eval --wait) is over when no tuple that a take
 * template of the name matches is stored, visible, lent or held for a
 * retry, and no run-once worker of the name is left.  The space is asked
 * through the count hook, so a job in flight on a connection that has just
 * died still counts until it is back in the space.
 *
 * A worker dies with the daemon (PR_SET_PDEATHSIG), and its command dies
 * with it in turn; stopping sends SIGTERM to the worker's process group
 * (ts-worker passes it on to its command's own group), then SIGKILL once
 * the grace period is over, to the worker's group and its command's.
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

#define LOG_LINE_MAX 4096   /* longer output lines are split */
#define LOG_KEEP 16384      /* bytes of output lines kept per worker for ts-eval --log */
#define RESTART_FIRST 0.1   /* seconds before a restart */
#define RESTART_SHORT 10.0  /* a run shorter than this counts toward the limit */
#define RESTART_LIMIT 6     /* short runs in a row after which the daemon gives up */
#define NAMES_ENDED_MAX 256 /* names without workers that are remembered */

enum state {
    RUNNING,    /* its process runs */
    RESTARTING, /* its process ended; the restart timer is armed */
    DRAINING,   /* asked to stop after its current job (--scale) */
    STOPPING,   /* asked to stop now (-k, shutdown) */
};

/* What one start request asked for, shared by the workers it started. */
struct spec {
    int refs;
    char **argv; /* the ts-worker command line */
    json_t *env; /* the caller's environment */
    char *cwd;
    json_t *cmd;          /* COMMAND's words, for ts-dump -w */
    struct ts_tmpl *take; /* compiled take template, or NULL */
    enum ts_restart restart;
};

/* Every worker called one name, past and present. */
struct group {
    char *name;
    struct spec **specs; /* the requests its workers came from, newest last */
    size_t nspecs;
    uint64_t done, failed; /* jobs, since its workers started */
    uint64_t retried;      /* failed attempts that will be tried again */
    uint64_t seq;          /* jobs handed to its workers */
    long slots;            /* its workers now */
    double ended;          /* when its last worker went; 0 while it has some */
    struct ts_buf *logs;   /* the last output lines of each worker, by index */
    size_t nlogs;
    struct waitreq *waits;
    struct group *next;
};

struct ts_worker {
    struct group *g;
    struct spec *spec;
    int index;
    pid_t pid; /* also its process group; 0 between runs */
    enum state state;
    double started;      /* wall clock, of this run */
    uint64_t started_ns; /* monotonic, of this run */
    int shorts;          /* short runs in a row */
    long restarts;
    struct ts_timer timer; /* the restart */
    int fds[2];            /* its stdout and stderr, -1 once closed */
    struct ts_buf line[2]; /* a partial output line of each */
    struct ts_buf tail;    /* the end of its stderr */
    char *processing;      /* canonical text of the tuple lent to it, or NULL */
    unsigned attempt;      /* which attempt that is */
    json_t *deferred;      /* a run-once worker's result tuples, put when it ends */
    int reported;          /* it handed in its result, with this status: */
    int status;
    long done;   /* jobs it reported done (ts_worker_report) */
    long failed; /* ... and failed */
    struct ts_workers *ws;
    struct ts_worker *next;
};

/* A stop request whose caller waits until its workers are gone. */
struct killreq {
    void *token; /* the caller's, NULL once it went away */
    pid_t *pids; /* the workers it stops (later ones of that name are not its business) */
    long npids;
    long count;            /* workers stopped, those between runs included */
    struct ts_timer timer; /* when to escalate to SIGKILL */
    struct ts_workers *ws;
    struct killreq *next;
};

/* A caller of ts-eval --wait. */
struct waitreq {
    void *token;
    struct waitreq *next;
};

struct ts_workers {
    struct ts_loop *loop;
    char *socket; /* the daemon's, for TS_SOCKET */
    char *helper; /* the ts-worker program */
    struct ts_worker_hooks hooks;
    struct ts_worker *list;
    size_t count;
    struct group *groups;
    struct killreq *kills;
    int stopping; /* shutting down: report nothing more */
};

static int find_command(const char *cmd, const char *cwd, json_t *env, char *err, size_t errlen);
static char **worker_env(json_t *env, const char *sock, const char *name, long index);
static char **worker_argv(const char *helper, const struct ts_eval *e);
static void become_worker(struct ts_workers *ws, char **argv, char **env, const char *cwd, int out,
                          int err) __attribute__((noreturn));
static int spawn(struct ts_worker *w, char *err, size_t errlen);
static struct ts_worker *slot_new(struct ts_workers *ws, struct group *g, struct spec *spec);
static void slot_free(struct ts_workers *ws, struct ts_worker *w);
static void unlist(struct ts_workers *ws, struct ts_worker *w);
static struct group *group_find(struct ts_workers *ws, const char *name);
static struct group *group_get(struct ts_workers *ws, const char *name);
static void group_forget_old(struct ts_workers *ws);
static void group_free(struct group *g);
static void spec_free(struct spec *s);
static void on_output(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static void on_restart(struct ts_loop *loop, void *arg);
static void drain(struct ts_worker *w, int i);
static void log_lines(struct ts_worker *w, int i, int flush);
static void keep_line(struct ts_worker *w, const char *line, size_t len);
static void reaped(struct ts_workers *ws, pid_t pid, int st);
static void ended(struct ts_workers *ws, struct ts_worker *w, int status);
static void put_results(struct ts_workers *ws, struct ts_worker *w);
static void check_kills(struct ts_workers *ws);
static void on_kill_timer(struct ts_loop *loop, void *arg);
static void kill_tree(pid_t pid, int sig);
static void free_strings(char **v);
static void report(struct ts_workers *ws, struct ts_worker *w, int what, int status);

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

static char *
seconds(double s)
{
    char buf[64];

    snprintf(buf, sizeof buf, "%.17g", s);
    return ts_xstrdup(buf);
}

/*
 * ts-worker --name NAME [--take-json T] [--put-json P] [--retries N]
 * [--backoff S] [--timeout S] [--grace S] [--stdin null] [--joblog F]
 * -- COMMAND...
 */
static char **
worker_argv(const char *helper, const struct ts_eval *e)
{
    size_t i, n = json_array_size(e->argv), k = 0;
    char **v = ts_xcalloc(n + 24, sizeof *v);

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
    if (e->retries > 0) {
        v[k++] = ts_xstrdup("--retries");
        v[k] = ts_xmalloc(24);
        snprintf(v[k++], 24, "%ld", e->retries);
    }
    if (e->backoff > 0) {
        v[k++] = ts_xstrdup("--backoff");
        v[k++] = seconds(e->backoff);
    }
    if (e->timeout > 0) {
        v[k++] = ts_xstrdup("--timeout");
        v[k++] = seconds(e->timeout);
    }
    if (e->grace >= 0) {
        v[k++] = ts_xstrdup("--grace");
        v[k++] = seconds(e->grace);
    }
    if (e->stdin_null) {
        v[k++] = ts_xstrdup("--stdin");
        v[k++] = ts_xstrdup("null");
    }
    if (e->joblog != NULL) {
        v[k++] = ts_xstrdup("--joblog");
        v[k++] = ts_xstrdup(e->joblog);
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
    /*
     * SIGUSR1 (--scale: stop after your job) stays blocked until ts-worker
     * has its handler: one that came sooner would kill it.
     */
    sigemptyset(&none);
    sigaddset(&none, SIGUSR1);
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

/* Start w's process.  -1 with err if it cannot be made. */
static int
spawn(struct ts_worker *w, char *err, size_t errlen)
{
    struct ts_workers *ws = w->ws;
    int out[2], errp[2];
    char **env;
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(out[0]), close(out[1]);
        return -1;
    }
    env = worker_env(w->spec->env, ws->socket, w->g->name, w->index);
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
        free_strings(env);
        return -1;
    }
    if (pid == 0)
        become_worker(ws, w->spec->argv, env, w->spec->cwd, out[1], errp[1]);
    free_strings(env);
    setpgid(pid, pid); /* as the child does: whichever runs first */
    close(out[1]);
    close(errp[1]);
    w->pid = pid;
    w->state = RUNNING;
    w->started = ts_wall_clock();
    w->started_ns = ts_now();
    w->fds[0] = out[0];
    w->fds[1] = errp[0];
    w->reported = 0;
    ts_buf_reset(&w->tail);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    ts_loop_add(ws->loop, out[0], EPOLLIN, on_output, w);
    ts_loop_add(ws->loop, errp[0], EPOLLIN, on_output, w);
    return 0;
}

static struct spec *
spec_new(const struct ts_workers *ws, const struct ts_eval *e)
{
    struct spec *s = ts_xcalloc(1, sizeof *s);
    char err[300];

    s->refs = 1;
    s->argv = worker_argv(ws->helper, e);
    s->env = json_incref(e->env);
    s->cwd = ts_xstrdup(e->cwd);
    s->cmd = json_incref(e->argv);
    /* The caller compiled it once already: this cannot fail. */
    s->take = e->take != NULL ? ts_tmpl_compile(json_incref(e->take), err, sizeof err) : NULL;
    s->restart = e->restart != TS_RESTART_DEFAULT ? e->restart
                 : e->take != NULL                ? TS_RESTART_ALWAYS
                                                  : TS_RESTART_NEVER;
    return s;
}

static void
spec_free(struct spec *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    free_strings(s->argv);
    json_decref(s->env);
    json_decref(s->cmd);
    free(s->cwd);
    ts_tmpl_free(s->take);
    free(s);
}

static struct group *
group_find(struct ts_workers *ws, const char *name)
{
    struct group *g;

    for (g = ws != NULL ? ws->groups : NULL; g != NULL; g = g->next)
        if (strcmp(g->name, name) == 0)
            return g;
    return NULL;
}

/*
 * The group of a start request: a name whose workers are all gone starts
 * afresh (its counts and requests), but keeps its logs.
 */
static struct group *
group_get(struct ts_workers *ws, const char *name)
{
    struct group *g = group_find(ws, name);
    size_t i;

    if (g == NULL) {
        g = ts_xcalloc(1, sizeof *g);
        g->name = ts_xstrdup(name);
        g->next = ws->groups;
        ws->groups = g;
    } else if (g->slots == 0) {
        for (i = 0; i < g->nspecs; i++)
            spec_free(g->specs[i]);
        g->nspecs = 0;
        g->done = g->failed = g->retried = g->seq = 0;
    }
    g->ended = 0;
    return g;
}

static void
group_free(struct group *g)
{
    size_t i;

    for (i = 0; i < g->nspecs; i++)
        spec_free(g->specs[i]);
    free(g->specs);
    for (i = 0; i < g->nlogs; i++)
        ts_buf_free(&g->logs[i]);
    free(g->logs);
    while (g->waits != NULL) {
        struct waitreq *r = g->waits;

        g->waits = r->next;
        free(r);
    }
    free(g->name);
    free(g);
}

/* Forget the names whose workers went longest ago, beyond NAMES_ENDED_MAX. */
static void
group_forget_old(struct ts_workers *ws)
{
    for (;;) {
        struct group **pp, **oldest = NULL, *g;
        size_t ended = 0;

        for (pp = &ws->groups; (g = *pp) != NULL; pp = &g->next) {
            if (g->slots > 0 || g->waits != NULL)
                continue;
            ended++;
            if (oldest == NULL || g->ended < (*oldest)->ended)
                oldest = pp;
        }
        if (ended <= NAMES_ENDED_MAX)
            return;
        g = *oldest;
        *oldest = g->next;
        group_free(g);
    }
}

/* A new slot in g, with the lowest index no other worker of g has. */
static struct ts_worker *
slot_new(struct ts_workers *ws, struct group *g, struct spec *spec)
{
    struct ts_worker *w = ts_xcalloc(1, sizeof *w), *o;
    int index = 0, taken;

    do {
        taken = 0;
        for (o = ws->list; o != NULL && !taken; o = o->next)
            taken = o->g == g && o->index == index;
        index += taken;
    } while (taken);
    w->g = g;
    w->spec = spec;
    spec->refs++;
    w->index = index;
    w->fds[0] = w->fds[1] = -1;
    w->ws = ws;
    ts_timer_init(&w->timer, on_restart, w);
    w->next = ws->list;
    ws->list = w;
    ws->count++;
    g->slots++;
    return w;
}

static void
unlist(struct ts_workers *ws, struct ts_worker *w)
{
    struct ts_worker **pp;

    for (pp = &ws->list; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

/* The slot goes (its process is gone, or never was). */
static void
slot_free(struct ts_workers *ws, struct ts_worker *w)
{
    struct group *g;
    int i;

    unlist(ws, w);
    for (i = 0; i < 2; i++) {
        if (w->fds[i] >= 0) {
            ts_loop_del(ws->loop, w->fds[i]);
            close(w->fds[i]);
        }
        ts_buf_free(&w->line[i]);
    }
    ws->hooks.gone(ws->hooks.arg, w);
    ts_timer_cancel(ws->loop, &w->timer);
    g = w->g;
    spec_free(w->spec);
    ts_buf_free(&w->tail);
    json_decref(w->deferred);
    free(w->processing);
    free(w);
    ws->count--;
    if (--g->slots == 0) {
        g->ended = ts_wall_clock();
        group_forget_old(ws);
    }
}

int
ts_workers_start(struct ts_workers *ws, const struct ts_eval *e, json_t *pids, int *usage,
                 char *err, size_t errlen)
{
    const char *cmd = json_string_value(json_array_get(e->argv, 0));
    struct ts_worker **made, *w;
    struct spec *spec;
    struct group *g;
    long i, j;

    *usage = 1;
    if (access(ws->helper, X_OK) < 0) {
        snprintf(err, errlen, "cannot run the worker program %s: %s", ws->helper, strerror(errno));
        *usage = 0;
        return -1;
    }
    if (strchr(cmd, '{') == NULL && find_command(cmd, e->cwd, e->env, err, errlen) < 0)
        return -1;
    *usage = 0;
    spec = spec_new(ws, e);
    g = group_get(ws, e->name);
    made = ts_xcalloc((size_t)e->n, sizeof *made);
    for (i = 0; i < e->n; i++) {
        made[i] = slot_new(ws, g, spec);
        if (spawn(made[i], err, errlen) < 0)
            break;
    }
    if (i < e->n) {
        /* Nothing half-started is left behind. */
        for (j = 0; j <= i; j++) {
            w = made[j];
            if (w->pid > 0) {
                kill(-w->pid, SIGKILL);
                while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
                    ;
            }
            slot_free(ws, w);
        }
        free(made);
        spec_free(spec);
        return -1;
    }
    for (i = 0; i < e->n; i++) {
        json_array_append_new(pids, json_integer(made[i]->pid));
        report(ws, made[i], TS_WORKER_STARTED, 0);
    }
    free(made);
    g->specs = ts_xrealloc(g->specs, (g->nspecs + 1) * sizeof *g->specs);
    g->specs[g->nspecs++] = spec; /* the group takes our reference */
    ts_log("started %ld worker%s '%s': %s", e->n, e->n == 1 ? "" : "s", e->name, cmd);
    return 0;
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
        ts_log("%s[%ld]: %s", w->g->name, (long)w->pid, line);
        keep_line(w, line, (size_t)len);
        ts_buf_consume(b, (size_t)len + 1);
    }
    while (ts_buf_len(b) >= LOG_LINE_MAX || (flush && ts_buf_len(b) > 0)) {
        size_t n = ts_buf_len(b) < LOG_LINE_MAX ? ts_buf_len(b) : LOG_LINE_MAX;

        ts_log("%s[%ld]: %.*s", w->g->name, (long)w->pid, (int)n, ts_buf_head(b));
        keep_line(w, ts_buf_head(b), n);
        ts_buf_consume(b, n);
    }
}

/*
 * Keep a line for ts-eval --log, stamped as the log stamps it, and only
 * the last LOG_KEEP bytes of the worker's lines: whole lines go from the
 * front.
 */
static void
keep_line(struct ts_worker *w, const char *line, size_t len)
{
    struct group *g = w->g;
    struct ts_buf *b;
    char stamp[40];
    struct timespec ts;
    struct tm tm;

    if ((size_t)w->index >= g->nlogs) {
        size_t n = (size_t)w->index + 1;

        g->logs = ts_xrealloc(g->logs, n * sizeof *g->logs);
        memset(g->logs + g->nlogs, 0, (n - g->nlogs) * sizeof *g->logs);
        g->nlogs = n;
    }
    b = &g->logs[w->index];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    ts_buf_printf(b, "%s.%03ldZ %s[%ld]: ", stamp, ts.tv_nsec / 1000000, g->name, (long)w->pid);
    ts_buf_add(b, line, len);
    ts_buf_add(b, "\n", 1);
    while (ts_buf_len(b) > LOG_KEEP) {
        const char *p = ts_buf_head(b), *nl = memchr(p, '\n', ts_buf_len(b));

        ts_buf_consume(b, nl != NULL ? (size_t)(nl - p) + 1 : ts_buf_len(b));
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

/* A child is gone: if it was a worker's, see what comes next. */
static void
reaped(struct ts_workers *ws, pid_t pid, int st)
{
    struct ts_worker *w;

    for (w = ws->list; w != NULL && w->pid != pid; w = w->next)
        ;
    if (w != NULL)
        ended(ws, w, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* A run-once worker's result, after its ts.error and before its ts.exit. */
static void
put_results(struct ts_workers *ws, struct ts_worker *w)
{
    size_t i;

    for (i = 0; i < json_array_size(w->deferred); i++)
        ws->hooks.put(ws->hooks.arg, json_incref(json_array_get(w->deferred, i)));
    json_decref(w->deferred);
    w->deferred = NULL;
}

static void
put_error(struct ts_workers *ws, struct ts_worker *w, int status)
{
    ws->hooks.put(ws->hooks.arg,
                  json_pack("[s, s, I, i, o, n]", "ts.error", w->g->name, (json_int_t)w->pid,
                            status, ts_text_string(ts_buf_head(&w->tail), ts_buf_len(&w->tail))));
}

static void
ended(struct ts_workers *ws, struct ts_worker *w, int status)
{
    struct group *g = w->g;
    int i, final = w->reported ? w->status : status, restart, giveup = 0;
    double ran = (double)(ts_now() - w->started_ns) / 1e9;

    /* Whatever it wrote before it died is in the pipes now. */
    for (i = 0; i < 2; i++) {
        if (w->fds[i] >= 0) {
            drain(w, i);
            log_lines(w, i, 1);
        }
        if (w->fds[i] >= 0) {
            ts_loop_del(ws->loop, w->fds[i]);
            close(w->fds[i]);
            w->fds[i] = -1;
        }
    }
    /* Its connection is the old process's: no longer this worker. */
    ws->hooks.gone(ws->hooks.arg, w);
    free(w->processing);
    w->processing = NULL;
    ts_log("worker %s[%ld] ended with status %d%s", g->name, (long)w->pid, status,
           w->state == STOPPING   ? " (stopped)"
           : w->state == DRAINING ? " (scaled down)"
                                  : "");
    if (ws->stopping) {
        slot_free(ws, w);
        return;
    }
    if (w->state == STOPPING || w->state == DRAINING) {
        if (w->spec->take == NULL && w->reported) {
            if (final == 0)
                g->done++;
            else
                g->failed++;
        }
        put_results(ws, w);
        ws->hooks.put(ws->hooks.arg,
                      json_pack("[s, s, I, i]", "ts.exit", g->name, (json_int_t)w->pid, status));
        report(ws, w, TS_WORKER_EXITED, status);
        slot_free(ws, w);
        return;
    }
    restart = w->spec->restart == TS_RESTART_ALWAYS ||
              (w->spec->restart == TS_RESTART_ON_FAILURE && final != 0);
    if (restart) {
        w->shorts = ran < RESTART_SHORT ? w->shorts + 1 : 0;
        giveup = w->shorts >= RESTART_LIMIT;
    }
    if (!restart || giveup) {
        if (giveup)
            ts_log("worker %s[%ld]: %d short runs in a row: giving up", g->name, (long)w->pid,
                   w->shorts);
        if (final != 0 || giveup) {
            put_error(ws, w, status);
            report(ws, w, TS_WORKER_FAILED, status);
        }
        if (w->spec->take == NULL) {
            if (final == 0 && !giveup)
                g->done++;
            else
                g->failed++;
        }
    }
    put_results(ws, w);
    ws->hooks.put(ws->hooks.arg,
                  json_pack("[s, s, I, i]", "ts.exit", g->name, (json_int_t)w->pid, status));
    report(ws, w, TS_WORKER_EXITED, status);
    if (!restart || giveup) {
        slot_free(ws, w);
        return;
    }
    w->pid = 0;
    w->state = RESTARTING;
    w->restarts++;
    ts_timer_set(ws->loop, &w->timer,
                 ts_now() + (uint64_t)llround(RESTART_FIRST * 1e9 *
                                              (double)(1u << (w->shorts > 0 ? w->shorts - 1 : 0))));
}

static void
on_restart(struct ts_loop *loop, void *arg)
{
    struct ts_worker *w = arg;
    char err[300];

    (void)loop;
    if (spawn(w, err, sizeof err) == 0) {
        ts_log("restarted worker %s[%ld], index %d", w->g->name, (long)w->pid, w->index);
        report(w->ws, w, TS_WORKER_STARTED, 0);
        return;
    }
    ts_log("cannot restart a worker %s: %s", w->g->name, err);
    if (++w->shorts >= RESTART_LIMIT) {
        w->ws->hooks.put(w->ws->hooks.arg,
                         json_pack("[s, s, n, i, s, n]", "ts.error", w->g->name, 111, err));
        slot_free(w->ws, w);
        return;
    }
    ts_timer_set(w->ws->loop, &w->timer,
                 ts_now() +
                     (uint64_t)llround(RESTART_FIRST * 1e9 * (double)(1u << (w->shorts - 1))));
}

struct ts_worker *
ts_workers_find(struct ts_workers *ws, pid_t pid)
{
    struct ts_worker *w;

    for (w = ws != NULL ? ws->list : NULL; w != NULL; w = w->next)
        if (w->pid == pid && pid > 0)
            return w;
    return NULL;
}

uint64_t
ts_worker_holds(struct ts_worker *w, const char *text, size_t len, unsigned attempt)
{
    free(w->processing);
    w->processing = text != NULL ? ts_xstrndup(text, len) : NULL;
    w->attempt = attempt;
    return text != NULL ? ++w->g->seq : 0;
}

void
ts_worker_report(struct ts_worker *w, const char *outcome, int status)
{
    if (strcmp(outcome, "done") == 0) {
        w->g->done++;
        w->done++;
    } else if (strcmp(outcome, "failed") == 0) {
        w->g->failed++;
        w->failed++;
        report(w->ws, w, TS_WORKER_FAILED, status);
    } else {
        w->g->retried++;
    }
}

/* Tell the event hook; a failure carries the job the worker holds, if any. */
static void
report(struct ts_workers *ws, struct ts_worker *w, int what, int status)
{
    struct ts_worker_event e = {what, w->g->name, w->index, w->pid, status, NULL, 0};

    if (ws->hooks.event == NULL)
        return;
    if (what == TS_WORKER_FAILED && w->processing != NULL) {
        e.tuple = w->processing;
        e.len = strlen(w->processing);
    }
    ws->hooks.event(ws->hooks.arg, &e);
}

int
ts_worker_defer(struct ts_worker *w, json_t *tuples, int status)
{
    size_t i;

    if (w->spec->take != NULL)
        return 0;
    if (w->deferred == NULL)
        w->deferred = json_array();
    for (i = 0; i < json_array_size(tuples); i++)
        json_array_append(w->deferred, json_array_get(tuples, i));
    json_decref(tuples);
    w->reported = 1;
    w->status = status;
    return 1;
}

long
ts_workers_stop(struct ts_workers *ws, const char *name, double grace, void *token)
{
    struct ts_worker *w, *next;
    struct killreq *k;
    long count = 0;

    k = ts_xcalloc(1, sizeof *k);
    k->pids = ts_xcalloc(ws->count + 1, sizeof *k->pids);
    for (w = ws->list; w != NULL; w = next) {
        next = w->next;
        if (strcmp(w->g->name, name) != 0)
            continue;
        count++;
        if (w->state == RESTARTING) {
            /* Between runs: nothing to signal, nothing to wait for. */
            slot_free(ws, w);
            continue;
        }
        w->state = STOPPING;
        kill(-w->pid, SIGTERM);
        k->pids[k->npids++] = w->pid;
    }
    if (count == 0) {
        free(k->pids);
        free(k);
        return 0;
    }
    /* Answered from ts_workers_reap or ts_workers_check, never from here. */
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

    for (i = 0; i < k->npids; i++)
        if (k->pids[i] == w->pid && w->pid > 0)
            return 1;
    return 0;
}

/*
 * SIGKILL to a worker's process group, and first to the process group of
 * each of its children (its command has a group of its own): once the
 * worker is dead, they are no longer its children.
 */
static void
kill_tree(pid_t pid, int sig)
{
    char path[64], buf[4096], *p, *end;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        for (p = buf;; p = end) {
            long child = strtol(p, &end, 10);

            if (end == p)
                break;
            kill(-(pid_t)child, sig);
        }
    }
    kill(-pid, sig);
}

static void
on_kill_timer(struct ts_loop *loop, void *arg)
{
    struct killreq *k = arg;
    struct ts_worker *w;

    (void)loop;
    for (w = k->ws->list; w != NULL; w = w->next)
        if (kill_pending(k, w))
            kill_tree(w->pid, SIGKILL);
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

int
ts_workers_scale(struct ts_workers *ws, const char *name, long n, json_t *pids)
{
    struct group *g = group_find(ws, name);
    struct ts_worker *w, *victim;
    char err[300];
    long live = 0;

    if (g == NULL || g->nspecs == 0)
        return -1;
    for (w = ws->list; w != NULL; w = w->next)
        if (w->g == g && (w->state == RUNNING || w->state == RESTARTING))
            live++;
    for (; live < n; live++) {
        w = slot_new(ws, g, g->specs[g->nspecs - 1]);
        if (spawn(w, err, sizeof err) < 0) {
            ts_log("cannot start a worker %s: %s", name, err);
            slot_free(ws, w);
            break;
        }
        json_array_append_new(pids, json_integer(w->pid));
    }
    /*
     * The surplus stops after its current job: first the workers between
     * runs, then idle ones, then busy ones, the highest index first.
     */
    for (; live > n; live--) {
        victim = NULL;
        for (w = ws->list; w != NULL; w = w->next) {
            if (w->g != g || (w->state != RUNNING && w->state != RESTARTING))
                continue;
            if (victim == NULL || (w->state == RESTARTING) > (victim->state == RESTARTING) ||
                ((w->state == RESTARTING) == (victim->state == RESTARTING) &&
                 ((w->processing == NULL) > (victim->processing == NULL) ||
                  ((w->processing == NULL) == (victim->processing == NULL) &&
                   w->index > victim->index))))
                victim = w;
        }
        if (victim->state == RESTARTING) {
            slot_free(ws, victim);
            continue;
        }
        victim->state = DRAINING;
        kill(victim->pid, SIGUSR1);
    }
    if (n != live)
        return 0;
    ts_log("scaled workers '%s' to %ld", name, n);
    return 0;
}

int
ts_workers_wait(struct ts_workers *ws, const char *name, void *token)
{
    struct group *g = group_find(ws, name);
    struct waitreq *r;

    if (g == NULL)
        return -1;
    r = ts_xcalloc(1, sizeof *r);
    r->token = token;
    r->next = g->waits;
    g->waits = r;
    return 0;
}

/* How many jobs of g are stored (lent ones too if lent), up to limit, over its templates. */
static size_t
jobs(struct ts_workers *ws, struct group *g, int lent, size_t limit)
{
    size_t i, j, n = 0;

    for (i = 0; i < g->nspecs && n < limit; i++) {
        const struct ts_tmpl *tm = g->specs[i]->take;

        if (tm == NULL)
            continue;
        for (j = 0;
             j < i && (g->specs[j]->take == NULL || !json_equal(g->specs[j]->take->wire, tm->wire));
             j++)
            ;
        if (j == i) /* each distinct template once */
            n += ws->hooks.count(ws->hooks.arg, tm, lent, limit - n);
    }
    return n;
}

void
ts_workers_check(struct ts_workers *ws)
{
    struct group *g;

    check_kills(ws);

    for (g = ws->groups; g != NULL; g = g->next) {
        struct ts_waited r = {g->done, g->failed, 0};
        struct ts_worker *w;
        long once = 0, takers = 0;

        if (g->waits == NULL)
            continue;
        for (w = ws->list; w != NULL; w = w->next) {
            if (w->g != g)
                continue;
            if (w->spec->take == NULL)
                once++;
            else
                takers++;
        }
        if (once > 0)
            continue;
        r.left = jobs(ws, g, 1, 1);
        if (r.left > 0 && takers > 0)
            continue;
        if (r.left > 0)
            r.left = jobs(ws, g, 1, SIZE_MAX);
        while (g->waits != NULL) {
            struct waitreq *q = g->waits;

            g->waits = q->next;
            ws->hooks.waited(ws->hooks.arg, q->token, &r);
            free(q);
        }
    }
}

void
ts_workers_forget(struct ts_workers *ws, void *token)
{
    struct killreq *k;
    struct group *g;

    for (k = ws->kills; k != NULL; k = k->next)
        if (k->token == token)
            k->token = NULL;
    for (g = ws->groups; g != NULL; g = g->next) {
        struct waitreq **pp = &g->waits, *r;

        while ((r = *pp) != NULL) {
            if (r->token == token) {
                *pp = r->next;
                free(r);
            } else {
                pp = &r->next;
            }
        }
    }
}

int
ts_workers_log(struct ts_workers *ws, const char *name, struct ts_buf *out)
{
    struct group *g = group_find(ws, name);
    size_t i;

    if (g == NULL)
        return -1;
    for (i = 0; i < g->nlogs; i++)
        ts_buf_add(out, ts_buf_head(&g->logs[i]), ts_buf_len(&g->logs[i]));
    return 0;
}

void
ts_workers_tally(struct ts_workers *ws, json_t *names)
{
    struct group *g;

    for (g = ws != NULL ? ws->groups : NULL; g != NULL; g = g->next) {
        struct ts_worker *w;
        size_t queued = jobs(ws, g, 0, SIZE_MAX), once = 0;

        for (w = ws->list; w != NULL; w = w->next)
            once += w->g == g && w->spec->take == NULL;
        json_object_set_new(names, g->name,
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "workers",
                                      (json_int_t)g->slots, "done", (json_int_t)g->done, "failed",
                                      (json_int_t)g->failed, "retried", (json_int_t)g->retried,
                                      "inflight",
                                      (json_int_t)(jobs(ws, g, 1, SIZE_MAX) - queued + once),
                                      "queued", (json_int_t)queued));
    }
}

static const char *
state_name(enum state s)
{
    switch (s) {
    case RUNNING: return "running";
    case RESTARTING: return "restarting";
    case DRAINING: return "draining";
    default: return "stopping";
    }
}

void
ts_workers_dump(struct ts_workers *ws, struct ts_buf *out)
{
    double now = ts_wall_clock();
    struct ts_worker *w;

    for (w = ws->list; w != NULL; w = w->next) {
        json_t *proc = w->processing != NULL ? json_loads(w->processing, 0, NULL) : NULL;
        json_t *v = json_pack(
            "{s:{s:s, s:i, s:o, s:O, s:s, s:f, s:I, s:o}}", "worker", "name", w->g->name, "index",
            w->index, "pid", w->pid > 0 ? json_integer(w->pid) : json_null(), "argv", w->spec->cmd,
            "state", state_name(w->state), "started", w->started, "restarts",
            (json_int_t)w->restarts, "processing", proc != NULL ? proc : json_null());
        char *line;

        if (proc != NULL)
            json_object_set_new(json_object_get(v, "worker"), "attempt", json_integer(w->attempt));
        json_object_set_new(json_object_get(v, "worker"), "age",
                            json_real(round((now - w->started) * 1e3) / 1e3));
        json_object_set_new(json_object_get(v, "worker"), "done", json_integer(w->done));
        json_object_set_new(json_object_get(v, "worker"), "failed", json_integer(w->failed));
        line = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
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
        if (w->pid > 0)
            kill_tree(w->pid, SIGKILL);
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
    struct group *g;
    int killed = 0;

    ws->stopping = 1;
    for (w = ws->list; w != NULL; w = w->next) {
        w->state = STOPPING;
        if (w->pid > 0)
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
    while (ws->list != NULL)
        slot_free(ws, ws->list);
    while ((k = ws->kills) != NULL) {
        ws->kills = k->next;
        ts_timer_cancel(ws->loop, &k->timer);
        free(k->pids);
        free(k);
    }
    while ((g = ws->groups) != NULL) {
        ws->groups = g->next;
        group_free(g);
    }
    free(ws->socket);
    free(ws->helper);
    free(ws);
}
