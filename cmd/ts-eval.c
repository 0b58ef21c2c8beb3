/*
 * ts-eval: have the daemon start and supervise workers; stop them, scale
 * them, wait for their jobs, show their output.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"
#include "placeholder.h"
#include "tuple.h"
#include "wire.h"

#define USAGE                                                                                      \
    "ts-eval [-hS] [--backoff seconds] [-g seconds] [--joblog file] [-n count] [--name name]\n"    \
    "               [--put fields] [--restart always|on-failure|never] [--retries count]\n"        \
    "               [-s socket] [--stdin tuple|null] [--take fields] [--timeout seconds]\n"        \
    "               {--sh script | -- command [arg ...]}\n"                                        \
    "       ts-eval [-g seconds] [-s socket] -k name\n"                                            \
    "       ts-eval [-s socket] --log name\n"                                                      \
    "       ts-eval [-s socket] --scale name count\n"                                              \
    "       ts-eval [--progress] [-s socket] --wait name"

static const char help_text[] =
    "  --backoff seconds    wait this long before the first retry of a job, twice as long\n"
    "                       before each later one (default 0)\n"
    "  -g seconds           time between SIGTERM and SIGKILL, for -k and for --timeout\n"
    "                       (default 5)\n"
    "  -h, --help           show this help\n"
    "  --joblog file        write a line per finished run to file, in GNU parallel's\n"
    "                       --joblog columns\n"
    "  -k name              stop the workers called name and wait until they are gone\n"
    "  --log name           show the last output of the workers called name\n"
    "  -n count             start count workers (default 1)\n"
    "  --name name          call them name (default: the command's base name)\n"
    "  --progress           with --wait, on a terminal: a line of counts, rate and ETA\n"
    "  --put fields         put this tuple after the final run of a job\n"
    "  --restart policy     start a worker again when it ends on its own: always,\n"
    "                       on-failure or never (default: always with --take, else never)\n"
    "  --retries count      run a failed job again, up to count more times (default 0)\n"
    "  -s socket            the daemon's socket (default: $TS_SOCKET,\n"
    "                       $XDG_RUNTIME_DIR/ts/default, /tmp/ts-UID/default)\n"
    "  -S, --strings        every word of --take and --put is a string, but for formals\n"
    "                       and placeholders\n"
    "  --scale name count   make the workers called name count, while they run\n"
    "  --sh script          run script with /bin/sh -c, placeholders passed as \"$1\", ...\n"
    "  --stdin tuple|null   the command's standard input: the taken tuple (default)\n"
    "                       or /dev/null\n"
    "  --take fields        loop: take a tuple matching this template, run the command on it\n"
    "  --timeout seconds    a run that takes longer fails (status 124, or 137 if it had\n"
    "                       to be killed)\n"
    "  --version            show the version\n"
    "  --wait name          wait until the jobs of the workers called name are done\n"
    "\nPlaceholders in the command and --put: {N} field N of the taken tuple, {} the whole\n"
    "tuple as JSON; in --put also {status}, {stdout}, {stdout:L} (line L) and {stdout:L:F}\n"
    "(field F of line L).  Prints the name, then one pid per line.  Exit: 0 done, 1 no\n"
    "workers of that name, 2 usage or a command that cannot be run, 3 daemon unreachable,\n"
    "4 other failure.  With --wait: 0 if every job succeeded, else the number of jobs that\n"
    "failed (100 for 100 or more); 101 to 104 for the errors 1 to 4.\n";

extern char **environ;

/* With --wait, the exit status counts failed jobs; errors are 100 and more. */
static int waiting;

#define die(st, ...) ts_die(waiting ? (st) + 100 : (st), __VA_ARGS__)

static void usage(void) __attribute__((noreturn));
static int stop(struct ts_conn *conn, const char *name, double grace);
static int show_log(struct ts_conn *conn, const char *name);
static int scale(struct ts_conn *conn, const char *name, const char *count);
static int wait_for(const char *sock, const char *name, int progress);
static json_t *split(const char *what, const char *text, int tmpl, int flags, char ***words);
static double seconds(const char *what, const char *s, double max);
static int asks_wait(int argc, char **argv);

int
main(int argc, char **argv)
{
    enum {
        O_BACKOFF = 256,
        O_JOBLOG,
        O_LOG,
        O_PROGRESS,
        O_RESTART,
        O_RETRIES,
        O_SCALE,
        O_SH,
        O_STDIN,
        O_TIMEOUT,
        O_WAIT
    };
    static const struct option longopts[] = {
        {"backoff", required_argument, NULL, O_BACKOFF},
        {"help", no_argument, NULL, 'h'},
        {"joblog", required_argument, NULL, O_JOBLOG},
        {"log", required_argument, NULL, O_LOG},
        {"name", required_argument, NULL, 'N'},
        {"progress", no_argument, NULL, O_PROGRESS},
        {"put", required_argument, NULL, 'P'},
        {"restart", required_argument, NULL, O_RESTART},
        {"retries", required_argument, NULL, O_RETRIES},
        {"scale", required_argument, NULL, O_SCALE},
        {"sh", required_argument, NULL, O_SH},
        {"stdin", required_argument, NULL, O_STDIN},
        {"strings", no_argument, NULL, 'S'},
        {"take", required_argument, NULL, 'T'},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"version", no_argument, NULL, 'V'},
        {"wait", required_argument, NULL, O_WAIT},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *name = NULL, *kill = NULL, *take = NULL, *put = NULL;
    const char *restart = NULL, *in = NULL, *joblog = NULL, *log = NULL, *scaled = NULL;
    const char *wait = NULL, *script = NULL;
    char **putw = NULL, **takew = NULL, **params = NULL, err[600], cwd[PATH_MAX], *end, *base;
    char *defname = NULL, *shtext = NULL, *logpath = NULL;
    json_t *req, *reply, *env, *args, *tmpl = NULL, *putj = NULL, *v;
    double grace = -1, backoff = -1, timeout = -1;
    struct ts_conn *conn;
    long count = 1, retries = -1;
    int ch, rc, i, progress = 0, nflag = 0, flags = 0;
    size_t k;

    ts_cli_init("ts-eval");
    waiting = asks_wait(argc, argv);
    argv[0] = "ts-eval"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+g:hk:n:Ss:", longopts, NULL)) != -1) {
        switch (ch) {
        case O_BACKOFF: backoff = seconds("backoff", optarg, 86400); break;
        case 'g': grace = seconds("grace period", optarg, TS_GRACE_MAX); break;
        case 'h': ts_help(USAGE, help_text);
        case O_JOBLOG: joblog = optarg; break;
        case 'k': kill = optarg; break;
        case O_LOG: log = optarg; break;
        case 'n':
            errno = 0;
            count = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || count < 1 || count > TS_EVAL_MAX)
                die(TS_EXIT_USAGE, "bad count '%s': 1 to %d workers", optarg, TS_EVAL_MAX);
            nflag = 1;
            break;
        case 'N': name = optarg; break;
        case O_PROGRESS: progress = 1; break;
        case 'P': put = optarg; break;
        case 'S': flags |= TS_WORDS_STRINGS; break;
        case O_RESTART:
            if (strcmp(optarg, "always") != 0 && strcmp(optarg, "on-failure") != 0 &&
                strcmp(optarg, "never") != 0)
                die(TS_EXIT_USAGE, "bad --restart '%s': always, on-failure or never", optarg);
            restart = optarg;
            break;
        case O_RETRIES:
            errno = 0;
            retries = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || retries < 0 || retries > 1000)
                die(TS_EXIT_USAGE, "bad retry count '%s': 0 to 1000", optarg);
            break;
        case 's': sock = optarg; break;
        case O_SCALE: scaled = optarg; break;
        case O_SH: script = optarg; break;
        case O_STDIN:
            if (strcmp(optarg, "tuple") != 0 && strcmp(optarg, "null") != 0)
                die(TS_EXIT_USAGE, "bad --stdin '%s': tuple or null", optarg);
            in = optarg;
            break;
        case 'T': take = optarg; break;
        case O_TIMEOUT:
            timeout = seconds("timeout", optarg, 1e9);
            if (timeout == 0)
                die(TS_EXIT_USAGE, "bad timeout '%s': more than 0 seconds", optarg);
            break;
        case 'V': ts_version();
        case O_WAIT: wait = optarg; break;
        default: usage();
        }
    }
    argc -= optind;
    argv += optind;
    if ((kill != NULL) + (log != NULL) + (scaled != NULL) + (wait != NULL) > 1)
        die(TS_EXIT_USAGE, "-k, --log, --scale and --wait go one at a time");
    if (kill != NULL || log != NULL || scaled != NULL || wait != NULL) {
        if (argc > (scaled != NULL) || name != NULL || put != NULL || take != NULL || nflag ||
            script != NULL || restart != NULL || retries >= 0 || backoff >= 0 || timeout >= 0 ||
            in != NULL || joblog != NULL || (grace >= 0 && kill == NULL) ||
            (progress && wait == NULL))
            die(TS_EXIT_USAGE, "%s takes no command and no options of a start but %s",
                kill != NULL     ? "-k"
                : log != NULL    ? "--log"
                : scaled != NULL ? "--scale"
                                 : "--wait",
                kill != NULL   ? "-g and -s"
                : wait != NULL ? "--progress and -s"
                               : "-s");
        if (wait != NULL)
            return wait_for(sock, wait, progress);
        if (scaled != NULL && argc != 1)
            usage();
        conn = ts_cli_connect(sock, NULL, 0);
        rc = kill != NULL  ? stop(conn, kill, grace)
             : log != NULL ? show_log(conn, log)
                           : scale(conn, scaled, argv[0]);
        ts_conn_close(conn);
        return rc;
    }
    if (progress)
        die(TS_EXIT_USAGE, "--progress goes with --wait");
    if (grace >= 0 && timeout < 0)
        die(TS_EXIT_USAGE, "-g goes with -k or --timeout");
    if (script != NULL && argc > 0)
        die(TS_EXIT_USAGE, "--sh takes the place of the command: give one or the other");
    if (argc == 0 && script == NULL)
        usage();
    if (take != NULL)
        tmpl = split("--take", take, 1, flags, &takew);
    if (put != NULL)
        putj = split("--put", put, 0, flags, &putw);
    if (script != NULL) {
        const char *words[] = {script, NULL};

        if (ts_placeholders_check(words, (const char *const *)putw,
                                  tmpl != NULL ? json_array_size(tmpl) : 0, err, sizeof err) < 0)
            die(TS_EXIT_USAGE, "%s", err);
        if ((shtext = ts_sh_script(script, &params, err, sizeof err)) == NULL)
            die(TS_EXIT_USAGE, "%s", err);
    } else {
        if (ts_placeholders_check((const char *const *)argv, (const char *const *)putw,
                                  tmpl != NULL ? json_array_size(tmpl) : 0, err, sizeof err) < 0)
            die(TS_EXIT_USAGE, "%s", err);
        if (ts_shell_hazard((const char *const *)argv, err, sizeof err) < 0)
            die(TS_EXIT_USAGE, "%s", err);
    }
    if (getcwd(cwd, sizeof cwd) == NULL)
        die(TS_EXIT_FAIL, "cannot tell the current directory: %s", strerror(errno));
    if (name == NULL && script != NULL) {
        name = "sh";
    } else if (name == NULL) {
        base = ts_xstrdup(argv[0]);
        name = defname = ts_xstrdup(basename(base));
        free(base);
    }
    env = json_array();
    for (i = 0; environ[i] != NULL; i++)
        if ((v = json_string(environ[i])) != NULL) /* skip what is not UTF-8 */
            json_array_append_new(env, v);
    args = json_array();
    if (script != NULL) {
        json_array_append_new(args, json_string("/bin/sh"));
        json_array_append_new(args, json_string("-c"));
        if ((v = json_string(shtext)) == NULL)
            die(TS_EXIT_USAGE, "--sh: the script is not valid UTF-8");
        json_array_append_new(args, v);
        json_array_append_new(args, json_string("sh"));
        for (k = 0; params[k] != NULL; k++)
            json_array_append_new(args, json_string(params[k]));
    }
    for (i = 0; i < argc; i++) {
        if ((v = json_string(argv[i])) == NULL)
            die(TS_EXIT_USAGE, "argument '%s' is not valid UTF-8", argv[i]);
        json_array_append_new(args, v);
    }
    req = json_pack("{s:s, s:s, s:i, s:o, s:s, s:o}", "op", "eval", "name", name, "n", (int)count,
                    "argv", args, "cwd", cwd, "env", env);
    if (tmpl != NULL)
        json_object_set_new(req, "take", tmpl);
    if (putj != NULL)
        json_object_set_new(req, "put", putj);
    if (restart != NULL)
        json_object_set_new(req, "restart", json_string(restart));
    if (retries >= 0)
        json_object_set_new(req, "retries", json_integer(retries));
    if (backoff >= 0)
        json_object_set_new(req, "backoff", json_real(backoff));
    if (timeout >= 0)
        json_object_set_new(req, "timeout", json_real(timeout));
    if (grace >= 0)
        json_object_set_new(req, "grace", json_real(grace));
    if (in != NULL)
        json_object_set_new(req, "stdin", json_string(in));
    if (joblog != NULL) {
        /* Made new, header and all, as GNU parallel does; the workers append. */
        static const char header[] =
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";
        int fd;

        if (joblog[0] == '/') {
            logpath = ts_xstrdup(joblog);
        } else {
            logpath = ts_xmalloc(strlen(cwd) + strlen(joblog) + 2);
            sprintf(logpath, "%s/%s", cwd, joblog);
        }
        fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0 || write(fd, header, sizeof header - 1) < 0)
            die(TS_EXIT_FAIL, "cannot write the job log %s: %s", joblog, strerror(errno));
        close(fd);
        if ((v = json_string(logpath)) == NULL)
            die(TS_EXIT_USAGE, "--joblog: the path is not valid UTF-8");
        json_object_set_new(req, "joblog", v);
    }
    conn = ts_cli_connect(sock, NULL, 0);
    rc = ts_conn_call(conn, req, &reply, err, sizeof err);
    if (rc == TS_EXIT_OK) {
        printf("%s\n", name);
        for (k = 0; k < json_array_size(json_object_get(reply, "pids")); k++)
            printf("%" JSON_INTEGER_FORMAT "\n",
                   json_integer_value(json_array_get(json_object_get(reply, "pids"), k)));
    } else {
        ts_warn("%s", err);
    }
    json_decref(reply);
    json_decref(req);
    ts_words_free(putw);
    ts_words_free(takew);
    ts_free_words(params);
    free(shtext);
    free(logpath);
    free(defname);
    ts_conn_close(conn);
    return rc;
}

static void
usage(void)
{
    if (!waiting)
        ts_usage(USAGE);
    fprintf(stderr, "usage: %s\n", USAGE);
    exit(TS_EXIT_USAGE + 100);
}

/*
 * Is this a --wait?  Known before the options are read, so that a usage
 * error says so in the status too.  getopt takes any unambiguous prefix:
 * --w is one.
 */
static int
asks_wait(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        size_t len = strcspn(argv[i], "=");

        if (len >= 3 && len <= 6 && strncmp(argv[i], "--wait", len) == 0)
            return 1;
    }
    return 0;
}

static double
seconds(const char *what, const char *s, double max)
{
    double v;

    if (ts_parse_seconds(s, &v) < 0 || v > max)
        die(TS_EXIT_USAGE, "bad %s '%s': seconds from 0 to %g", what, s, max);
    return v;
}

/*
 * FIELDS is one shell word holding blank-separated fields.  The words of
 * --put go to the workers as words: one without a placeholder is checked
 * here as a field, and with -S written as a JSON string, so that the
 * worker reads it as that string.
 */
static json_t *
split(const char *what, const char *text, int tmpl, int flags, char ***words)
{
    struct ts_buf quoted = TS_BUF_INIT;
    char err[400];
    json_t *v;
    int n = ts_split_words(text, words, err, sizeof err), i;

    if (n < 0)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': %s", what, text, err);
    if (n == 0)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': no fields", what, text);
    if (tmpl) {
        v = ts_words_template_flags(*words, n, flags, err, sizeof err);
        if (v == NULL)
            ts_die(TS_EXIT_USAGE, "%s: %s", what, err);
        return v;
    }
    v = json_array();
    for (i = 0; i < n; i++) {
        const char *w = (*words)[i];
        json_t *s, *checked;

        if (!ts_has_placeholder(w)) {
            if ((checked = ts_word_parse(w, flags, err, sizeof err)) == NULL)
                ts_die(TS_EXIT_USAGE, "bad %s word '%s': %s", what, w, err);
            json_decref(checked);
            if (flags & TS_WORDS_STRINGS) {
                ts_buf_reset(&quoted);
                ts_canon_string(w, strlen(w), &quoted);
                ts_buf_add(&quoted, "", 1);
                w = ts_buf_head(&quoted);
            }
        }
        if ((s = json_string(w)) == NULL)
            ts_die(TS_EXIT_USAGE, "bad %s '%s': not valid UTF-8", what, text);
        json_array_append_new(v, s);
    }
    ts_buf_free(&quoted);
    return v;
}

static int
stop(struct ts_conn *conn, const char *name, double grace)
{
    json_t *req = json_pack("{s:s, s:s}", "op", "eval", "kill", name), *reply;
    char err[400];
    int rc;

    if (grace >= 0)
        json_object_set_new(req, "grace", json_real(grace));
    rc = ts_conn_call(conn, req, &reply, err, sizeof err);
    if (rc != TS_EXIT_OK)
        ts_warn("%s", err);
    json_decref(req);
    json_decref(reply);
    return rc;
}

static int
show_log(struct ts_conn *conn, const char *name)
{
    json_t *req = json_pack("{s:s, s:s}", "op", "eval", "log", name), *reply;
    const char *text;
    char err[400];
    int rc = ts_conn_call(conn, req, &reply, err, sizeof err);

    if (rc == TS_EXIT_OK) {
        text = json_string_value(json_object_get(reply, "log"));
        if (text != NULL)
            fwrite(text, 1, json_string_length(json_object_get(reply, "log")), stdout);
    } else {
        ts_warn("%s", err);
    }
    json_decref(req);
    json_decref(reply);
    return rc;
}

static int
scale(struct ts_conn *conn, const char *name, const char *count)
{
    json_t *req, *reply, *pids;
    char err[400], *end;
    long n;
    size_t k;
    int rc;

    errno = 0;
    n = strtol(count, &end, 10);
    if (*count == '\0' || *end != '\0' || errno != 0 || n < 0 || n > TS_EVAL_MAX)
        ts_die(TS_EXIT_USAGE, "bad count '%s': 0 to %d workers", count, TS_EVAL_MAX);
    req = json_pack("{s:s, s:s, s:i}", "op", "eval", "scale", name, "n", (int)n);
    rc = ts_conn_call(conn, req, &reply, err, sizeof err);
    if (rc == TS_EXIT_OK) {
        printf("%s\n", name);
        pids = json_object_get(reply, "pids");
        for (k = 0; k < json_array_size(pids); k++)
            printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(json_array_get(pids, k)));
    } else {
        ts_warn("%s", err);
    }
    json_decref(req);
    json_decref(reply);
    return rc;
}

/* One name's counts from a stats reply: done, failed, in flight, queued. */
static int
counts(struct ts_conn *conn, const char *name, json_int_t c[4])
{
    json_t *req = json_pack("{s:s}", "op", "stats"), *reply, *g;
    char err[400];
    int rc = ts_conn_call(conn, req, &reply, err, sizeof err);

    json_decref(req);
    g = json_object_get(json_object_get(reply, "names"), name);
    if (rc == TS_EXIT_OK && g != NULL) {
        c[0] = json_integer_value(json_object_get(g, "done"));
        c[1] = json_integer_value(json_object_get(g, "failed"));
        c[2] = json_integer_value(json_object_get(g, "inflight"));
        c[3] = json_integer_value(json_object_get(g, "queued"));
    }
    json_decref(reply);
    return rc == TS_EXIT_OK && g != NULL ? 0 : -1;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
progress_line(const char *name, const json_int_t c[4], double rate, int last)
{
    char eta[32] = "?";
    double left = (double)(c[2] + c[3]);

    if (rate > 0) {
        long s = lround(left / rate);

        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr,
            "\r%s: %" JSON_INTEGER_FORMAT " done, %" JSON_INTEGER_FORMAT
            " failed, %" JSON_INTEGER_FORMAT " in flight, %" JSON_INTEGER_FORMAT
            " queued, %.1f/s, ETA %s\033[K%s",
            name, c[0], c[1], c[2], c[3], rate, eta, last ? "\n" : "");
    fflush(stderr);
}

/*
 * --wait: one connection waits for the answer; with --progress, a second
 * asks for the counts twice a second meanwhile.
 */
static int
wait_for(const char *sock, const char *name, int progress)
{
    char path[TS_PATH_MAX + 1], err[400];
    struct ts_conn *conn, *poller = NULL;
    json_int_t c[4] = {0, 0, 0, 0}, first = -1;
    json_t *req, *reply = NULL, *failed;
    double start = now(), rate = 0;
    const char *code;
    int rc;

    rc = ts_socket_path(sock, path, err, sizeof err);
    if (rc != TS_EXIT_OK)
        die(rc, "%s", err);
    if ((conn = ts_conn_open(path, err, sizeof err)) == NULL)
        die(TS_EXIT_CONN, "%s", err);
    req = json_pack("{s:s, s:s}", "op", "eval", "wait", name);
    rc = ts_conn_send(conn, req, err, sizeof err);
    json_decref(req);
    if (rc != TS_EXIT_OK)
        die(rc, "%s", err);
    if (progress && isatty(2))
        poller = ts_conn_open(path, err, sizeof err);
    while (poller != NULL && !ts_conn_ready(conn)) {
        struct pollfd pfd = {ts_conn_fd(conn), POLLIN, 0};

        if (counts(poller, name, c) == 0) {
            if (first < 0)
                first = c[0] + c[1];
            if (now() - start > 0.5)
                rate = (double)(c[0] + c[1] - first) / (now() - start);
            progress_line(name, c, rate, 0);
        }
        if (poll(&pfd, 1, 500) > 0)
            break;
    }
    rc = ts_conn_recv(conn, &reply, err, sizeof err);
    if (rc != TS_EXIT_OK)
        die(rc, "%s", err);
    if (poller != NULL) {
        if (counts(poller, name, c) == 0)
            progress_line(name, c, rate, 1);
        ts_conn_close(poller);
    }
    ts_conn_close(conn);
    if (json_is_true(json_object_get(reply, "ok"))) {
        failed = json_object_get(reply, "failed");
        rc = json_integer_value(failed) > 100 ? 100 : (int)json_integer_value(failed);
        json_decref(reply);
        return rc;
    }
    code = json_string_value(json_object_get(reply, "code"));
    rc = ts_conn_status(reply, err, sizeof err);
    if (code != NULL && strcmp(code, "stalled") == 0)
        rc = TS_EXIT_NOMATCH;
    json_decref(reply);
    die(rc, "%s", err);
}
