/*
 * ts-worker: take tuples and run a command on each (what ts-eval's workers
 * run; also usable on its own, under any supervisor).
 *
 * With --take it loops: take a job (a tuple), run COMMAND on it with the
 * placeholders filled in and the tuple as its stdin, and hand in the
 * outcome in one request that also confirms the job, so that a worker
 * that dies at any moment either has handed in everything or nothing (and
 * the job goes back).  A run fails when COMMAND exits with a status other
 * than 0, dies of a signal, or outlives --timeout.  A failed run is tried
 * again, up to --retries times, after a pause of --backoff seconds that
 * doubles each time: the job goes back to the daemon, which holds it
 * hidden for the pause and counts the failure in the tuple (see block.h).
 * Only the final outcome puts the --put tuple; after the last failed
 * attempt it is preceded by the job's dead letter,
 * ["ts.error", NAME, PID, STATUS, STDERR_TAIL, TUPLE], in the same request.
 *
 * Without --take it runs COMMAND once (and again on failure, up to
 * --retries times), hands the --put tuple of the final run to the daemon,
 * and exits with COMMAND's status.  Placeholders: placeholder.h.
 *
 * COMMAND runs in a process group of its own, so that a timeout can stop
 * all of it without stopping the worker; a SIGTERM to the worker is passed
 * on to that group.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"
#include "placeholder.h"
#include "tuple.h"
#include "wire.h"

#define USAGE                                                                                      \
    "ts-worker [-h] [--backoff seconds] [--grace seconds] [--joblog file] [--name name]\n"         \
    "                 [--put fields] [--retries count] [-s socket] [--stdin tuple|null]\n"         \
    "                 [--take fields] [--timeout seconds] -- command [arg ...]"

#define STDOUT_MAX (4u << 20) /* bytes of stdout kept for {stdout} */
#define RETRIES_MAX 1000

static const char help_text[] =
    "  --backoff seconds   wait this long before the first retry, twice as long before\n"
    "                      each later one (default 0)\n"
    "  --grace seconds     at a timeout: time between SIGTERM and SIGKILL (default 5)\n"
    "  -h, --help          show this help\n"
    "  --joblog file       append a line per finished run, as GNU parallel's --joblog\n"
    "  --name name         the name in ts.error tuples (default: $TS_WORKER_NAME, or the\n"
    "                      command's base name)\n"
    "  --put fields        put this tuple after the final run of a job\n"
    "  --put-json array    the same, as a JSON array of words\n"
    "  --retries count     run a failed job again, up to count more times (default 0)\n"
    "  -s socket           the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "                      /tmp/ts-UID/default)\n"
    "  --stdin tuple|null  the command's standard input: the taken tuple (default) or\n"
    "                      /dev/null\n"
    "  --take fields       loop: take a tuple matching this template, run the command on it\n"
    "  --take-json array   the same, as a JSON array (a wire template)\n"
    "  --timeout seconds   a run that takes longer fails: SIGTERM to its process group,\n"
    "                      SIGKILL after the grace period; status 124, or 137\n"
    "  --version           show the version\n"
    "\nPlaceholders: {N} field N of the taken tuple, {} the whole tuple as JSON; in --put\n"
    "also {status}, {stdout}, {stdout:L} and {stdout:L:F}.  Exit: without --take the\n"
    "command's status; with it, 143 when stopped by SIGTERM, 0 when asked by SIGUSR1 to\n"
    "stop after its job, 2 usage, 3 daemon unreachable or gone, 4 other failure.\n";

/* What one run of COMMAND left behind. */
struct result {
    int status;         /* exit status, 128+N for signal N, 124/137 for a timeout */
    int sig;            /* the signal it died of, or 0 */
    int timedout;       /* it outlived --timeout */
    struct ts_buf out;  /* stdout, if captured */
    int out_over;       /* more stdout than STDOUT_MAX came */
    size_t received;    /* bytes of stdout read */
    struct ts_buf tail; /* the end of stderr, if captured */
    double start;       /* wall clock */
    double runtime;     /* seconds */
    char *cmdline;      /* the command as run, shell-quoted, for the job log */
};

struct spec {
    const char *name; /* for ts.error */
    char **argv;      /* COMMAND, NULL-terminated, may hold placeholders */
    json_t *take;     /* wire template, or NULL */
    char **put;       /* --put words, NULL-terminated, or NULL */
    long retries;     /* runs after the first, per job */
    double backoff;   /* seconds before the first retry */
    double timeout;   /* seconds, 0 for none */
    double grace;     /* seconds between SIGTERM and SIGKILL at the timeout */
    int stdin_null;   /* the command reads /dev/null */
    int joblog;       /* descriptor of the job log, or -1 */
    int capture_out;  /* --put uses {stdout} */
};

/*
 * SIGTERM (ts-eval -k, shutdown) reaches the worker's process group.  An
 * idle worker exits at once; a busy one passes it on to its command's
 * group, lets the command finish (or die of it), hands in the result, and
 * exits then.  SIGUSR1 (ts-eval --scale) asks it to stop after its job:
 * an idle one exits at once, with 0.
 */
static volatile sig_atomic_t busy, stop_asked, drain_asked;
static volatile pid_t running; /* the command's process group, while it runs */

/*
 * The connection and last result live as long as the process and are left
 * to _exit, which may come from the signal handler: kept here, they stay
 * reachable (and leak checkers agree).
 */
static struct ts_conn *the_conn;
static struct result the_result;

static void on_term(int sig);
static void on_drain(int sig);
static void parse_words(const char *what, const char *text, int json, int tmpl, char ***words,
                        json_t **tmplv);
static double parse_seconds(const char *what, const char *s, double max);
static json_t *put_value(const char *word, const json_t *tuple, const struct result *r);
static json_t *put_tuple(const struct spec *spec, const json_t *taken, const struct result *r);
static void run(const struct spec *spec, const json_t *tuple, int capture_err, struct result *r);
static int take_job(struct ts_conn *conn, const json_t *tmpl, json_t **tuple, uint64_t *id,
                    long *attempt, uint64_t *seq);
static void send_job(struct ts_conn *conn, json_t *req);
static void job_reply(struct ts_conn *conn);
static void joblog_open(struct spec *spec, const char *path);
static void joblog_line(const struct spec *spec, uint64_t seq, const struct result *r);
static int uses_stdout(char *const *put);
static pid_t start_command(char **argv, int in, int out, int err, int *failed);
static void pause_for(double seconds);

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"backoff", required_argument, NULL, 'B'},
        {"grace", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {"joblog", required_argument, NULL, 'J'},
        {"name", required_argument, NULL, 'N'},
        {"put", required_argument, NULL, 'P'},
        {"put-json", required_argument, NULL, 'Q'},
        {"retries", required_argument, NULL, 'R'},
        {"stdin", required_argument, NULL, 'I'},
        {"take", required_argument, NULL, 'T'},
        {"take-json", required_argument, NULL, 'U'},
        {"timeout", required_argument, NULL, 'O'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *take = NULL, *putw = NULL, *joblog = NULL;
    struct spec spec = {NULL, NULL, NULL, NULL, 0, 0, 0, TS_GRACE_DEFAULT, 0, -1, 0};
    struct result *rp = &the_result;
    int ch, take_json = 0, put_json = 0, pending = 0;
    char **takew = NULL, err[400], *base, *end;
    struct sigaction sa;
    uint64_t seq = 0, own_seq = 0;
    long attempt;

    ts_cli_init("ts-worker");
    argv[0] = "ts-worker"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+hs:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'B': spec.backoff = parse_seconds("backoff", optarg, 86400); break;
        case 'G': spec.grace = parse_seconds("grace period", optarg, TS_GRACE_MAX); break;
        case 'h': ts_help(USAGE, help_text);
        case 'I':
            if (strcmp(optarg, "null") != 0 && strcmp(optarg, "tuple") != 0)
                ts_die(TS_EXIT_USAGE, "bad --stdin '%s': tuple or null", optarg);
            spec.stdin_null = strcmp(optarg, "null") == 0;
            break;
        case 'J': joblog = optarg; break;
        case 'N': spec.name = optarg; break;
        case 'O': spec.timeout = parse_seconds("timeout", optarg, 1e9); break;
        case 'P': putw = optarg, put_json = 0; break;
        case 'Q': putw = optarg, put_json = 1; break;
        case 'R':
            errno = 0;
            spec.retries = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || spec.retries < 0 ||
                spec.retries > RETRIES_MAX)
                ts_die(TS_EXIT_USAGE, "bad retry count '%s': 0 to %d", optarg, RETRIES_MAX);
            break;
        case 's': sock = optarg; break;
        case 'T': take = optarg, take_json = 0; break;
        case 'U': take = optarg, take_json = 1; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    argc -= optind;
    argv += optind;
    if (argc == 0)
        ts_usage(USAGE);
    spec.argv = argv;
    if (take != NULL)
        parse_words("--take", take, take_json, 1, &takew, &spec.take);
    if (putw != NULL)
        parse_words("--put", putw, put_json, 0, &spec.put, NULL);
    if (ts_placeholders_check((const char *const *)spec.argv, (const char *const *)spec.put,
                              spec.take != NULL ? json_array_size(spec.take) : 0, err,
                              sizeof err) < 0)
        ts_die(TS_EXIT_USAGE, "%s", err);
    if (spec.name == NULL && (spec.name = getenv("TS_WORKER_NAME")) == NULL) {
        base = ts_xstrdup(argv[0]);
        spec.name = ts_xstrdup(basename(base));
        free(base);
    }
    spec.capture_out = uses_stdout(spec.put);
    if (joblog != NULL)
        joblog_open(&spec, joblog);

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_drain;
    sigaction(SIGUSR1, &sa, NULL);
    /* The daemon starts us with SIGUSR1 blocked until now (worker.c). */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
    busy = 1;
    if (spec.take == NULL) {
        /* A run-once job; its sequence number in the job log is the worker's index + 1. */
        const char *index = getenv("TS_WORKER_INDEX");

        seq = index != NULL ? strtoull(index, NULL, 10) + 1 : 1;
        for (attempt = 1;; attempt++) {
            if (stop_asked) /* stopped before the command started */
                _exit(attempt == 1 ? 128 + SIGTERM : rp->status);
            ts_buf_reset(&rp->out);
            ts_buf_reset(&rp->tail);
            run(&spec, NULL, 0, rp);
            joblog_line(&spec, seq, rp);
            if (rp->status == 0 || attempt > spec.retries || stop_asked || drain_asked)
                break;
            busy = 0;
            pause_for(spec.backoff * ldexp(1, (int)attempt - 1));
            busy = 1;
        }
        if (spec.put != NULL) {
            json_t *req = json_pack("{s:s, s:s, s:i, s:[o]}", "op", "job", "outcome",
                                    rp->status == 0 ? "done" : "failed", "status", rp->status,
                                    "tuples", put_tuple(&spec, NULL, rp));

            the_conn = ts_cli_connect(sock, NULL, 0);
            send_job(the_conn, req);
            job_reply(the_conn);
        }
        _exit(rp->status);
    }
    the_conn = ts_cli_connect(sock, NULL, 0);
    for (;;) {
        json_t *tuple, *req, *tuples;
        uint64_t id;

        /*
         * The outcome of the last job went out just before this take, and
         * its answer comes first: one round trip per job.  Until it is in,
         * a signal only leaves a note.
         */
        if (!stop_asked && !drain_asked)
            take_job(the_conn, spec.take, NULL, NULL, NULL, NULL);
        if (pending)
            job_reply(the_conn);
        pending = 0;
        busy = 0;
        if (stop_asked)
            _exit(128 + SIGTERM);
        if (drain_asked)
            _exit(0);
        take_job(the_conn, NULL, &tuple, &id, &attempt, &seq);
        busy = 1;
        if (stop_asked) /* before the command started: the job goes back untouched */
            _exit(128 + SIGTERM);
        if (seq == 0) /* not the daemon's worker: number the jobs ourselves */
            seq = ++own_seq;
        ts_buf_reset(&rp->out);
        ts_buf_reset(&rp->tail);
        run(&spec, tuple, 1, rp);
        /* Stopped mid-job and the command died of it: the job goes back, unconfirmed. */
        if (stop_asked && rp->status > 128 && !rp->timedout)
            _exit(128 + SIGTERM);
        joblog_line(&spec, seq, rp);
        if (rp->status == 0) {
            tuples = json_array();
            if (spec.put != NULL)
                json_array_append_new(tuples, put_tuple(&spec, tuple, rp));
            req = json_pack("{s:s, s:I, s:s, s:o}", "op", "job", "id", (json_int_t)id, "outcome",
                            "done", "tuples", tuples);
        } else if (attempt <= spec.retries) {
            req = json_pack("{s:s, s:I, s:s, s:f}", "op", "job", "id", (json_int_t)id, "outcome",
                            "retry", "delay", spec.backoff * ldexp(1, (int)attempt - 1));
        } else {
            /* The dead letter first: whoever sees the result can see the error. */
            tuples = json_array();
            json_array_append_new(
                tuples,
                json_pack("[s, s, I, i, o, O]", "ts.error", spec.name, (json_int_t)getpid(),
                          rp->status, ts_text_string(ts_buf_head(&rp->tail), ts_buf_len(&rp->tail)),
                          tuple));
            if (spec.put != NULL)
                json_array_append_new(tuples, put_tuple(&spec, tuple, rp));
            req = json_pack("{s:s, s:I, s:s, s:o}", "op", "job", "id", (json_int_t)id, "outcome",
                            "failed", "tuples", tuples);
        }
        send_job(the_conn, req);
        pending = 1;
        json_decref(tuple);
    }
}

static void
on_term(int sig)
{
    if (!busy)
        _exit(128 + sig);
    stop_asked = 1;
    if (running > 0)
        kill(-running, SIGTERM);
}

static void
on_drain(int sig)
{
    (void)sig;
    if (!busy)
        _exit(0);
    drain_asked = 1;
}

static double
parse_seconds(const char *what, const char *s, double max)
{
    double v;

    if (ts_parse_seconds(s, &v) < 0 || v > max)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': seconds from 0 to %g", what, s, max);
    return v;
}

/* FIELDS: one shell word of blank-separated fields, or a JSON array (--*-json). */
static void
parse_words(const char *what, const char *text, int json, int tmpl, char ***words, json_t **tmplv)
{
    char err[400];
    size_t i;
    int n;

    if (json && tmpl) {
        if ((*tmplv = ts_json_template(text, err, sizeof err)) == NULL)
            ts_die(TS_EXIT_USAGE, "%s-json: %s", what, err);
        return;
    }
    if (json) {
        json_t *a = json_loads(text, 0, NULL);

        if (!json_is_array(a) || json_array_size(a) == 0)
            ts_die(TS_EXIT_USAGE, "bad %s-json '%s': not a non-empty JSON array", what, text);
        *words = ts_xcalloc(json_array_size(a) + 1, sizeof **words);
        for (i = 0; i < json_array_size(a); i++) {
            const char *s = json_string_value(json_array_get(a, i));

            if (s == NULL)
                ts_die(TS_EXIT_USAGE, "bad %s-json '%s': words must be strings", what, text);
            (*words)[i] = ts_xstrdup(s);
        }
        json_decref(a);
        return;
    }
    n = ts_split_words(text, words, err, sizeof err);
    if (n < 0)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': %s", what, text, err);
    if (n == 0)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': no fields", what, text);
    if (tmpl && (*tmplv = ts_words_template(*words, n, err, sizeof err)) == NULL)
        ts_die(TS_EXIT_USAGE, "%s: %s", what, err);
}

/*
 * Take one job: with tmpl, send the request; without, read its answer.
 * The daemon says which attempt this is, and numbers the jobs of the name.
 */
static int
take_job(struct ts_conn *conn, const json_t *tmpl, json_t **tuple, uint64_t *id, long *attempt,
         uint64_t *seq)
{
    json_t *req, *reply, *t;
    char err[400];
    int rc;

    if (tmpl != NULL) {
        req = json_pack("{s:s, s:O, s:b}", "op", "in", "tmpl", tmpl, "job", 1);
        rc = ts_conn_send(conn, req, err, sizeof err);
        json_decref(req);
        if (rc != TS_EXIT_OK)
            ts_die(rc, "take: %s", err);
        return 0;
    }
    rc = ts_conn_recv(conn, &reply, err, sizeof err);
    if (rc != TS_EXIT_OK)
        ts_die(rc, "take: %s", err);
    if ((t = json_object_get(reply, "tuple")) == NULL) {
        rc = ts_conn_status(reply, err, sizeof err);
        ts_die(rc == TS_EXIT_OK ? TS_EXIT_CONN : rc, "take: %s",
               rc == TS_EXIT_OK ? "no tuple in the answer" : err);
    }
    *tuple = json_incref(t);
    *id = (uint64_t)json_integer_value(json_object_get(reply, "id"));
    *attempt = (long)json_integer_value(json_object_get(reply, "attempt"));
    *seq = (uint64_t)json_integer_value(json_object_get(reply, "seq"));
    if (*attempt < 1)
        *attempt = 1;
    json_decref(reply);
    rc = ts_conn_recv(conn, &reply, err, sizeof err);
    if (rc == TS_EXIT_OK)
        rc = ts_conn_status(reply, err, sizeof err);
    json_decref(reply);
    if (rc != TS_EXIT_OK)
        ts_die(rc, "take: %s", err);
    return 0;
}

static void
send_job(struct ts_conn *conn, json_t *req)
{
    char err[400];
    int rc;

    if (req == NULL)
        ts_die(TS_EXIT_FAIL, "out of memory");
    rc = ts_conn_send(conn, req, err, sizeof err);
    json_decref(req);
    if (rc != TS_EXIT_OK)
        ts_die(rc, "job: %s", err);
}

static void
job_reply(struct ts_conn *conn)
{
    json_t *reply;
    char err[400];
    int rc = ts_conn_recv(conn, &reply, err, sizeof err);

    if (rc == TS_EXIT_OK)
        rc = ts_conn_status(reply, err, sizeof err);
    json_decref(reply);
    if (rc != TS_EXIT_OK)
        ts_die(rc, "job: %s", err);
}

/*
 * A --put word that is exactly one placeholder keeps the value's JSON
 * type; any other word with a placeholder becomes a string; words without
 * one are read as usual.
 */
static json_t *
put_value(const char *word, const json_t *tuple, const struct result *r)
{
    struct ts_buf b = TS_BUF_INIT;
    struct ts_ph_arg a;
    const char *part;
    size_t len, partlen;
    enum ts_ph kind = ts_placeholder(word, &len, &a);
    json_t *v;

    if (kind != TS_PH_NONE && word[len] == '\0') {
        switch (kind) {
        case TS_PH_FIELD: return json_incref(json_array_get(tuple, (size_t)a.field - 1));
        case TS_PH_TUPLE: return json_deep_copy(tuple);
        case TS_PH_STATUS: return json_integer(r->status);
        default: break;
        }
        ts_stdout_part(ts_buf_head(&r->out), ts_buf_len(&r->out), &a, &part, &partlen);
        /* The daemon takes no NUL in a string (nor does a shell in a word). */
        if (memchr(part, '\0', partlen) != NULL)
            return json_string("(output holds a NUL byte)");
        v = json_stringn(part, partlen);
        return v != NULL ? v : json_string("(output is not UTF-8)");
    }
    if (!ts_has_placeholder(word))
        return ts_word_value(word); /* '{"a":1}' is an object, as with ts-out */
    ts_placeholder_fill(word, tuple, r->status, ts_buf_head(&r->out), ts_buf_len(&r->out), &b);
    v = memchr(ts_buf_head(&b), '\0', ts_buf_len(&b)) != NULL
            ? json_string("(holds a NUL byte)")
            : json_stringn(ts_buf_head(&b), ts_buf_len(&b));
    ts_buf_free(&b);
    return v != NULL ? v : json_string("(not UTF-8)");
}

static json_t *
put_tuple(const struct spec *spec, const json_t *taken, const struct result *r)
{
    json_t *t = json_array();
    char **w;

    for (w = spec->put; *w != NULL; w++)
        json_array_append_new(t, put_value(*w, taken, r));
    return t;
}

static int
uses_stdout(char *const *put)
{
    for (; put != NULL && *put != NULL; put++)
        if (strstr(*put, "{stdout") != NULL)
            return 1;
    return 0;
}

/* The tuple as one JSON line, in a memory file: a command that never reads it cannot block us. */
static int
tuple_stdin(const json_t *tuple)
{
    struct ts_buf text = TS_BUF_INIT;
    int fd;

    ts_canon(tuple, &text);
    ts_buf_add(&text, "\n", 1);
    fd = memfd_create("tuple", MFD_CLOEXEC);
    if (fd >= 0 &&
        (write(fd, ts_buf_head(&text), ts_buf_len(&text)) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
        close(fd);
        fd = -1;
    }
    ts_buf_free(&text);
    return fd;
}

static double
wall_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
mono_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep, a signal notwithstanding (the handlers decide whether to exit). */
static void
pause_for(double seconds)
{
    double until = mono_clock() + seconds, left;

    while ((left = until - mono_clock()) > 0 && !stop_asked && !drain_asked) {
        struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};

        nanosleep(&ts, NULL);
    }
}

/* A word as a POSIX shell would read it back: bare if safe, else '...'. */
static void
shell_quote(struct ts_buf *b, const char *w)
{
    const char *p;

    if (*w != '\0' && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "%+,-./:=@_") == strlen(w)) {
        ts_buf_addstr(b, w);
        return;
    }
    ts_buf_add(b, "'", 1);
    for (p = w; *p != '\0'; p++) {
        if (*p == '\'')
            ts_buf_add(b, "'\"'\"'", 5);
        else if (*p == '\n')
            ts_buf_add(b, "'$'\\n''", 7); /* keeps the job log one line per run */
        else
            ts_buf_add(b, p, 1);
    }
    ts_buf_add(b, "'", 1);
}

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/*
 * Start the command in a process group of its own, with in, out and err
 * (those not -1) as its descriptors 0, 1 and 2.  vfork: the child borrows
 * our memory until it execs, which saves copying page tables on every
 * job; it only makes system calls, with every signal blocked until its
 * handlers are the defaults again, and leaves the errno of a failed exec
 * in *failed.
 */
static pid_t
start_command(char **argv, int in, int out, int err, int *failed)
{
    volatile int *fail = failed;
    sigset_t all, old;
    pid_t pid;

    *fail = 0;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = vfork();
    if (pid == 0) {
        /* The command dies with its worker, whatever the command does with signals. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, 0);
        signal(SIGTERM, SIG_DFL);
        signal(SIGUSR1, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0)
            dup2(out, 1);
        if (err >= 0)
            dup2(err, 2);
        execvp(argv[0], argv);
        *fail = errno;
        _exit(127);
    }
    /* Known before any signal can come: the handler passes SIGTERM on to it. */
    if (pid > 0)
        running = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
}

/*
 * Run COMMAND once, in a process group of its own.  Its stdin is the
 * tuple (or /dev/null); stdout is captured for {stdout}, and stderr is
 * captured when asked and passed on (to the daemon's log).  At the
 * timeout the group gets SIGTERM, and SIGKILL after the grace period.
 */
static void
run(const struct spec *spec, const json_t *tuple, int capture_err, struct result *r)
{
    struct ts_buf arg = TS_BUF_INIT, line = TS_BUF_INIT;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, in = -1, st = 0, i, argc, pidfd, exited = 0;
    int capture_out = spec->capture_out, termed = 0, killed = 0, failed = 0;
    double deadline = spec->timeout > 0 ? mono_clock() + spec->timeout : 0;
    char **argv;
    pid_t pid;

    for (argc = 0; spec->argv[argc] != NULL; argc++)
        ;
    argv = ts_xcalloc((size_t)argc + 1, sizeof *argv);
    for (i = 0; i < argc; i++) {
        ts_buf_reset(&arg);
        ts_placeholder_fill(spec->argv[i], tuple, r->status, NULL, 0, &arg);
        argv[i] = ts_xstrndup(ts_buf_head(&arg), ts_buf_len(&arg));
        if (spec->joblog >= 0) {
            if (i > 0)
                ts_buf_add(&line, " ", 1);
            shell_quote(&line, argv[i]);
        }
    }
    ts_buf_free(&arg);
    free(r->cmdline);
    r->cmdline = ts_xstrndup(ts_buf_head(&line), ts_buf_len(&line));
    ts_buf_free(&line);
    if (tuple != NULL && !spec->stdin_null)
        in = tuple_stdin(tuple);
    else if (tuple != NULL)
        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if ((capture_out && pipe2(outp, O_CLOEXEC) < 0) || (capture_err && pipe2(errp, O_CLOEXEC) < 0))
        ts_die(TS_EXIT_FAIL, "pipe: %s", strerror(errno));
    r->out_over = 0;
    r->received = 0;
    r->timedout = 0;
    r->start = wall_clock();
    pid = start_command(argv, in, capture_out ? outp[1] : -1, capture_err ? errp[1] : -1, &failed);
    if (pid < 0)
        ts_die(TS_EXIT_FAIL, "fork: %s", strerror(errno));
    if (failed != 0) {
        char msg[600];
        int n = snprintf(msg, sizeof msg, "ts-worker: %s: cannot run %s: %s\n", spec->name, argv[0],
                         strerror(failed));

        /* In the log, and in the tail of what the command wrote, as if it had said so. */
        if (write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
            (void)0;
        if (capture_err)
            ts_buf_add_tail(&r->tail, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1,
                            TS_TAIL_MAX);
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    for (i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    if (in >= 0)
        close(in);
    if (capture_out)
        close(outp[1]);
    if (capture_err)
        close(errp[1]);
    pidfd = open_pidfd(pid);
    {
        struct pollfd pfd[3] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
        char buf[65536];

        /* Until the command has exited and its output is all read. */
        while (pfd[0].fd >= 0 || pfd[1].fd >= 0 || !exited) {
            int wait_ms = -1, n;

            if (deadline > 0) {
                double left = deadline - mono_clock();

                if (left <= 0) {
                    if (!termed) {
                        termed = r->timedout = 1;
                        kill(-pid, SIGTERM);
                        deadline = mono_clock() + spec->grace;
                    } else {
                        killed = 1;
                        kill(-pid, SIGKILL);
                        deadline = 0;
                    }
                    continue;
                }
                wait_ms = (int)ceil(left * 1000);
            }
            if (pidfd < 0 && !exited && (wait_ms < 0 || wait_ms > 20))
                wait_ms = 20; /* no pidfd: look now and then */
            if (!exited && pidfd < 0 && waitpid(pid, &st, WNOHANG) == pid)
                exited = 1;
            if (exited && pfd[0].fd < 0 && pfd[1].fd < 0)
                break;
            n = poll(pfd, 3, wait_ms);
            if (n < 0 && errno != EINTR)
                break;
            if (n <= 0)
                continue;
            if (pfd[2].fd >= 0 && pfd[2].revents != 0) {
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                    ;
                exited = 1;
                close(pfd[2].fd);
                pfd[2].fd = -1;
            }
            for (i = 0; i < 2; i++) {
                ssize_t got;

                if (pfd[i].fd < 0 || pfd[i].revents == 0)
                    continue;
                got = read(pfd[i].fd, buf, sizeof buf);
                if (got <= 0) {
                    if (got < 0 && errno == EINTR)
                        continue;
                    close(pfd[i].fd);
                    pfd[i].fd = -1;
                } else if (i == 0) {
                    size_t room = STDOUT_MAX - ts_buf_len(&r->out);

                    r->received += (size_t)got;
                    if ((size_t)got > room && !r->out_over) {
                        r->out_over = 1;
                        ts_warn("%s: standard output past %u bytes is left out of {stdout}",
                                spec->name, STDOUT_MAX);
                    }
                    ts_buf_add(&r->out, buf, (size_t)got < room ? (size_t)got : room);
                } else {
                    ts_buf_add_tail(&r->tail, buf, (size_t)got, TS_TAIL_MAX);
                    if (write(2, buf, (size_t)got) < 0)
                        (void)0;
                }
            }
        }
        for (i = 0; i < 3; i++)
            if (pfd[i].fd >= 0)
                close(pfd[i].fd);
    }
    if (!exited)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    running = 0;
    r->runtime = wall_clock() - r->start;
    r->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (termed)
        r->status = killed ? 128 + SIGKILL : 124;
}

/* The job log: GNU parallel's columns, and its header when the file is new. */
static void
joblog_open(struct spec *spec, const char *path)
{
    static const char header[] =
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";
    struct stat st;

    spec->joblog = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (spec->joblog < 0)
        ts_die(TS_EXIT_FAIL, "cannot open the job log %s: %s", path, strerror(errno));
    /* Several workers share it: one writes the header. */
    flock(spec->joblog, LOCK_EX);
    if (fstat(spec->joblog, &st) == 0 && st.st_size == 0 &&
        write(spec->joblog, header, sizeof header - 1) < 0)
        ts_warn("cannot write the job log %s: %s", path, strerror(errno));
    flock(spec->joblog, LOCK_UN);
}

/*
 * One line per finished run, written at once (O_APPEND): Exitval and
 * Signal as GNU parallel has them, -1 and the signal for a timeout.
 */
static void
joblog_line(const struct spec *spec, uint64_t seq, const struct result *r)
{
    struct ts_buf b = TS_BUF_INIT;

    if (spec->joblog < 0)
        return;
    ts_buf_printf(&b, "%llu\t:\t%.3f\t%10.3f\t0\t%zu\t%d\t%d\t", (unsigned long long)seq, r->start,
                  r->runtime, r->received,
                  r->timedout ? -1
                  : r->sig    ? 0
                              : r->status,
                  r->timedout ? (r->status == 124 ? SIGTERM : SIGKILL) : r->sig);
    ts_buf_addstr(&b, r->cmdline != NULL ? r->cmdline : "");
    ts_buf_add(&b, "\n", 1);
    if (write(spec->joblog, ts_buf_head(&b), ts_buf_len(&b)) < 0)
        ts_warn("cannot write the job log: %s", strerror(errno));
    ts_buf_free(&b);
}
