/*
 * ts-worker: take tuples and run a command on each (what ts-eval's workers
 * run; also usable on its own, under any supervisor).
 *
 * With --take it loops: take a tuple, run COMMAND with the placeholders
 * filled in and the tuple as its stdin, put the --put tuple, and only then
 * confirm the taken tuple, so a worker that dies mid-job gives its tuple
 * back.  A command that fails is not a dead worker: the worker puts
 * ["ts.error", NAME, PID, STATUS, STDERR_TAIL, TUPLE] and goes on.
 * Without --take it runs COMMAND once, puts the --put tuple, and exits
 * with COMMAND's status.  Placeholders: placeholder.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"
#include "placeholder.h"
#include "tuple.h"
#include "wire.h"

#define USAGE                                                                                      \
    "ts-worker [-h] [--name name] [--put fields] [-s socket] [--take fields] -- command "          \
    "[arg ...]"

#define STDOUT_MAX (4u << 20) /* bytes of stdout kept for {stdout} */

static const char help_text[] =
    "  -h, --help          show this help\n"
    "  --name name         the name in ts.error tuples (default: $TS_WORKER_NAME, or the\n"
    "                      command's base name)\n"
    "  --put fields        put this tuple when the command ends\n"
    "  --put-json array    the same, as a JSON array of words\n"
    "  -s socket           the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "                      /tmp/ts-UID/default)\n"
    "  --take fields       loop: take a tuple matching this template, run the command on it\n"
    "  --take-json array   the same, as a JSON array (a wire template)\n"
    "  --version           show the version\n"
    "\nPlaceholders: {N} field N of the taken tuple, {} the whole tuple as JSON; in --put\n"
    "also {status} and {stdout}.  Exit: without --take the command's status; with it,\n"
    "143 when stopped by SIGTERM, 2 usage, 3 daemon unreachable or gone, 4 other failure.\n";

/* What one run of COMMAND left behind. */
struct result {
    int status;         /* exit status, 128+N for signal N */
    struct ts_buf out;  /* stdout, if captured */
    struct ts_buf tail; /* the end of stderr, if captured */
};

struct spec {
    const char *name; /* for ts.error */
    char **argv;      /* COMMAND, NULL-terminated, may hold placeholders */
    json_t *take;     /* wire template, or NULL */
    char **put;       /* --put words, NULL-terminated, or NULL */
};

/*
 * SIGTERM (ts-eval -k, shutdown) reaches the whole process group.  An idle
 * worker exits at once; a busy one lets its command finish (or die of the
 * same signal), hands in the result, and exits then.
 */
static volatile sig_atomic_t busy, stop_asked;

/*
 * The connection and last result live as long as the process and are left
 * to _exit, which may come from the signal handler: kept here, they stay
 * reachable (and leak checkers agree).
 */
static struct ts_conn *the_conn;
static struct result the_result;

static void on_term(int sig);
static void parse_words(const char *what, const char *text, int json, int tmpl, char ***words,
                        json_t **tmplv);
static json_t *put_value(const char *word, const json_t *tuple, const struct result *r);
static json_t *put_tuple(const struct spec *spec, const json_t *taken, const struct result *r);
static void run(const struct spec *spec, const json_t *tuple, int capture_out, int capture_err,
                struct result *r);
static void put(struct ts_conn *conn, json_t *tuple);
static int uses_stdout(char *const *put);

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},       {"name", required_argument, NULL, 'N'},
        {"put", required_argument, NULL, 'P'},  {"put-json", required_argument, NULL, 'Q'},
        {"take", required_argument, NULL, 'T'}, {"take-json", required_argument, NULL, 'U'},
        {"version", no_argument, NULL, 'V'},    {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *take = NULL, *putw = NULL;
    struct spec spec = {NULL, NULL, NULL, NULL};
    struct result *rp = &the_result;
    int ch, take_json = 0, put_json = 0, want_out;
    char **takew = NULL, err[400], *base;

    ts_cli_init("ts-worker");
    argv[0] = "ts-worker"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+hs:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': ts_help(USAGE, help_text);
        case 'N': spec.name = optarg; break;
        case 'P': putw = optarg, put_json = 0; break;
        case 'Q': putw = optarg, put_json = 1; break;
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
    want_out = uses_stdout(spec.put);

    signal(SIGTERM, on_term);
    busy = 1;
    if (spec.take == NULL) {
        run(&spec, NULL, want_out, 0, rp);
        if (spec.put != NULL) {
            the_conn = ts_cli_connect(sock, NULL, 0);
            put(the_conn, put_tuple(&spec, NULL, rp));
        }
        _exit(rp->status);
    }
    the_conn = ts_cli_connect(sock, NULL, 0);
    for (;;) {
        json_t *tuple;
        uint64_t id;
        int rc;

        busy = 0;
        if (stop_asked)
            _exit(128 + SIGTERM);
        rc = ts_take(the_conn, spec.take, -1, &tuple, &id, err, sizeof err);
        if (rc != TS_EXIT_OK)
            ts_die(rc, "take: %s", err);
        busy = 1;
        ts_buf_reset(&rp->out);
        ts_buf_reset(&rp->tail);
        run(&spec, tuple, want_out, 1, rp);
        /* Stopped mid-job and the command died of it: the job goes back, unconfirmed. */
        if (stop_asked && rp->status > 128)
            _exit(128 + SIGTERM);
        if (spec.put != NULL)
            put(the_conn, put_tuple(&spec, tuple, rp));
        if (rp->status != 0)
            put(the_conn,
                json_pack("[s, s, I, i, o, O]", "ts.error", spec.name, (json_int_t)getpid(),
                          rp->status, ts_text_string(ts_buf_head(&rp->tail), ts_buf_len(&rp->tail)),
                          tuple));
        /* Done with it for good: only now is it confirmed. */
        if (ts_confirm(the_conn, id, err, sizeof err) != TS_EXIT_OK)
            ts_die(TS_EXIT_CONN, "confirm: %s", err);
        json_decref(tuple);
    }
}

static void
on_term(int sig)
{
    if (!busy)
        _exit(128 + sig);
    stop_asked = 1;
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

static void
stdout_text(const struct result *r, const char **p, size_t *n)
{
    *p = ts_buf_head(&r->out);
    *n = ts_buf_len(&r->out);
    if (*n > 0 && (*p)[*n - 1] == '\n')
        (*n)--;
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
    const char *out;
    size_t len, outlen;
    long field = 0;
    enum ts_ph kind = ts_placeholder(word, &len, &field);
    json_t *v;

    stdout_text(r, &out, &outlen);
    if (kind != TS_PH_NONE && word[len] == '\0') {
        switch (kind) {
        case TS_PH_FIELD: return json_incref(json_array_get(tuple, (size_t)field - 1));
        case TS_PH_TUPLE: return json_deep_copy(tuple);
        case TS_PH_STATUS: return json_integer(r->status);
        default: break;
        }
        v = json_stringn(out, outlen);
        return v != NULL ? v : json_string("(output is not UTF-8)");
    }
    if (!ts_has_placeholder(word))
        return ts_word_value(word); /* '{"a":1}' is an object, as with ts-out */
    ts_placeholder_fill(word, tuple, r->status, out, outlen, &b);
    v = json_stringn(ts_buf_head(&b), ts_buf_len(&b));
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
        if (strstr(*put, "{stdout}") != NULL)
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

/*
 * Run COMMAND once.  Its stdin is the tuple; stdout and stderr are
 * captured when asked, and stderr is passed on (to the daemon's log).
 */
static void
run(const struct spec *spec, const json_t *tuple, int capture_out, int capture_err,
    struct result *r)
{
    struct ts_buf arg = TS_BUF_INIT;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, in = -1, st, i, argc;
    char **argv;
    pid_t pid;

    for (argc = 0; spec->argv[argc] != NULL; argc++)
        ;
    argv = ts_xcalloc((size_t)argc + 1, sizeof *argv);
    for (i = 0; i < argc; i++) {
        ts_buf_reset(&arg);
        ts_placeholder_fill(spec->argv[i], tuple, r->status, NULL, 0, &arg);
        argv[i] = ts_xstrndup(ts_buf_head(&arg), ts_buf_len(&arg));
    }
    ts_buf_free(&arg);
    if (tuple != NULL)
        in = tuple_stdin(tuple);
    if ((capture_out && pipe2(outp, O_CLOEXEC) < 0) || (capture_err && pipe2(errp, O_CLOEXEC) < 0))
        ts_die(TS_EXIT_FAIL, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        ts_die(TS_EXIT_FAIL, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* The command dies with its worker, whatever the command does with signals. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (in >= 0)
            dup2(in, 0);
        if (capture_out)
            dup2(outp[1], 1);
        if (capture_err)
            dup2(errp[1], 2);
        execvp(argv[0], argv);
        ts_warn("%s: cannot run %s: %s", spec->name, argv[0], strerror(errno));
        _exit(127);
    }
    for (i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    if (in >= 0)
        close(in);
    if (capture_out)
        close(outp[1]);
    if (capture_err)
        close(errp[1]);
    {
        struct pollfd pfd[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
        char buf[65536];

        while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
            if (poll(pfd, 2, -1) < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            for (i = 0; i < 2; i++) {
                ssize_t n;

                if (pfd[i].fd < 0 || pfd[i].revents == 0)
                    continue;
                n = read(pfd[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    if (n < 0 && errno == EINTR)
                        continue;
                    close(pfd[i].fd);
                    pfd[i].fd = -1;
                } else if (i == 0) {
                    size_t room = STDOUT_MAX - ts_buf_len(&r->out);

                    ts_buf_add(&r->out, buf, (size_t)n < room ? (size_t)n : room);
                } else {
                    ts_buf_add_tail(&r->tail, buf, (size_t)n, TS_TAIL_MAX);
                    if (write(2, buf, (size_t)n) < 0)
                        (void)0;
                }
            }
        }
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
put(struct ts_conn *conn, json_t *tuple)
{
    char err[300];
    int rc = ts_out(conn, tuple, err, sizeof err);

    json_decref(tuple);
    if (rc != TS_EXIT_OK)
        ts_die(rc, "put: %s", err);
}
