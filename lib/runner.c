/*
 * runner.c: inside a worker process (see runner.h).
 */
#include <errno.h>
#include <fcntl.h>
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
#include "conn.h"
#include "field.h"
#include "runner.h"
#include "tuple.h"
#include "xmalloc.h"

/* What one run of COMMAND left behind. */
struct result {
    int status;         /* exit status, 128+N for signal N */
    struct ts_buf out;  /* stdout, if captured */
    struct ts_buf tail; /* the end of stderr, if captured */
};

enum ph { PH_NONE, PH_FIELD, PH_TUPLE, PH_STATUS, PH_STDOUT };

/*
 * SIGTERM (ts-eval -k, shutdown) reaches the whole process group.  An idle
 * worker exits at once; a busy one lets its command finish (or die of the
 * same signal), hands in the result, and exits then.
 */
static volatile sig_atomic_t busy, stop_asked;

/*
 * The worker's connection and last result live as long as the process and
 * are left to _exit, which may come from the signal handler: kept here, they
 * stay reachable (and leak checkers agree).
 */
static struct ts_conn *the_conn;
static struct result the_result;

static void
on_term(int sig)
{
    if (!busy)
        _exit(128 + sig);
    stop_asked = 1;
}

static enum ph placeholder(const char *s, size_t *len, long *field);
static void subst(const char *word, const json_t *tuple, const struct result *r,
                  struct ts_buf *out);
static json_t *put_value(const char *word, const json_t *tuple, const struct result *r);
static void run(const struct ts_runspec *spec, const json_t *tuple, int capture_out,
                int capture_err, struct result *r);
static int uses_stdout(char *const *put);
static int has_placeholder(const char *word);
static void die(const struct ts_runspec *spec, const char *what, const char *err)
    __attribute__((noreturn));

/*
 * Recognise a placeholder at s ("{"...): returns its kind and sets *len to
 * its length, or PH_NONE when s does not start one.
 */
static enum ph
placeholder(const char *s, size_t *len, long *field)
{
    const char *end;

    if (s[0] != '{')
        return PH_NONE;
    if (s[1] == '}') {
        *len = 2;
        return PH_TUPLE;
    }
    if (strncmp(s, "{status}", 8) == 0) {
        *len = 8;
        return PH_STATUS;
    }
    if (strncmp(s, "{stdout}", 8) == 0) {
        *len = 8;
        return PH_STDOUT;
    }
    for (end = s + 1; *end >= '0' && *end <= '9'; end++)
        ;
    if (end > s + 1 && *end == '}' && end - s < 12) {
        *field = strtol(s + 1, NULL, 10);
        *len = (size_t)(end - s) + 1;
        return PH_FIELD;
    }
    return PH_NONE;
}

int
ts_placeholders_check(char *const *argv, char *const *put, size_t take_arity, char *err,
                      size_t errlen)
{
    int pass;

    for (pass = 0; pass < 2; pass++) {
        char *const *w = pass == 0 ? argv : put;

        for (; w != NULL && *w != NULL; w++) {
            const char *s;

            for (s = *w; *s != '\0'; s++) {
                size_t len;
                long field = 0;
                enum ph kind;

                if (s[0] == '{' && s[1] == '{') {
                    s++;
                    continue;
                }
                kind = placeholder(s, &len, &field);
                if (kind == PH_NONE)
                    continue;
                if (pass == 0 && (kind == PH_STATUS || kind == PH_STDOUT)) {
                    snprintf(err, errlen, "placeholder %.*s can only be used in --put", (int)len,
                             s);
                    return -1;
                }
                if ((kind == PH_FIELD || kind == PH_TUPLE) && take_arity == 0) {
                    snprintf(err, errlen, "placeholder %.*s needs --take", (int)len, s);
                    return -1;
                }
                if (kind == PH_FIELD && (field < 1 || (size_t)field > take_arity)) {
                    snprintf(err, errlen, "placeholder %.*s but --take has %zu field%s",
                             (int)len, s, take_arity, take_arity == 1 ? "" : "s");
                    return -1;
                }
                s += len - 1;
            }
        }
    }
    return 0;
}

/* A value as command-line text: strings raw, anything else compact JSON. */
static void
value_text(const json_t *v, struct ts_buf *out)
{
    if (json_is_string(v))
        ts_buf_add(out, json_string_value(v), json_string_length(v));
    else
        ts_canon(v, out);
}

static void
stdout_text(const struct result *r, struct ts_buf *out)
{
    size_t n = ts_buf_len(&r->out);

    if (n > 0 && ts_buf_head(&r->out)[n - 1] == '\n')
        n--;
    ts_buf_add(out, ts_buf_head(&r->out), n);
}

static void
subst(const char *word, const json_t *tuple, const struct result *r, struct ts_buf *out)
{
    const char *s;

    for (s = word; *s != '\0'; s++) {
        size_t len;
        long field = 0;

        if (s[0] == '{' && s[1] == '{') {
            ts_buf_add(out, "{", 1);
            s++;
            continue;
        }
        switch (placeholder(s, &len, &field)) {
        case PH_NONE:
            ts_buf_add(out, s, 1);
            continue;
        case PH_FIELD: value_text(json_array_get(tuple, (size_t)field - 1), out); break;
        case PH_TUPLE: ts_canon(tuple, out); break;
        case PH_STATUS: ts_buf_printf(out, "%d", r->status); break;
        case PH_STDOUT: stdout_text(r, out); break;
        }
        s += len - 1;
    }
}

static json_t *
put_value(const char *word, const json_t *tuple, const struct result *r)
{
    struct ts_buf b = TS_BUF_INIT;
    size_t len;
    long field = 0;
    enum ph kind = placeholder(word, &len, &field);
    json_t *v;

    if (kind != PH_NONE && word[len] == '\0') {
        switch (kind) {
        case PH_FIELD: return json_incref(json_array_get(tuple, (size_t)field - 1));
        case PH_TUPLE: return json_deep_copy(tuple);
        case PH_STATUS: return json_integer(r->status);
        default: break;
        }
        stdout_text(r, &b);
        v = json_stringn(ts_buf_head(&b), ts_buf_len(&b));
        ts_buf_free(&b);
        return v != NULL ? v : json_string("(output is not UTF-8)");
    }
    if (!has_placeholder(word))
        return ts_word_value(word); /* '{"a":1}' is an object, as with ts-out */
    subst(word, tuple, r, &b);
    v = json_stringn(ts_buf_head(&b), ts_buf_len(&b));
    ts_buf_free(&b);
    return v != NULL ? v : json_string("(not UTF-8)");
}

static int
has_placeholder(const char *word)
{
    size_t len;
    long field;

    for (; *word != '\0'; word++) {
        if (word[0] == '{' && word[1] == '{')
            return 1; /* the escape counts: the word is text */
        if (placeholder(word, &len, &field) != PH_NONE)
            return 1;
    }
    return 0;
}

static int
uses_stdout(char *const *put)
{
    for (; put != NULL && *put != NULL; put++)
        if (strstr(*put, "{stdout}") != NULL)
            return 1;
    return 0;
}

/* Keep only the last TS_TAIL_MAX bytes. */
static void
keep_tail(struct ts_buf *tail, const char *p, size_t n)
{
    ts_buf_add(tail, p, n);
    if (ts_buf_len(tail) > TS_TAIL_MAX)
        ts_buf_consume(tail, ts_buf_len(tail) - TS_TAIL_MAX);
}

/*
 * Run COMMAND once.  Its stdin is the tuple as one JSON line (from a memory
 * file, so a command that never reads it cannot block us); stdout and
 * stderr are captured when asked, and stderr is passed on to the log.
 */
static void
run(const struct ts_runspec *spec, const json_t *tuple, int capture_out, int capture_err,
    struct result *r)
{
    struct ts_buf arg = TS_BUF_INIT;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, in = -1, st, i, argc;
    char **argv;
    pid_t pid;

    for (argc = 0; spec->argv[argc] != NULL; argc++)
        ;
    argv = xcalloc((size_t)argc + 1, sizeof *argv);
    for (i = 0; i < argc; i++) {
        ts_buf_reset(&arg);
        subst(spec->argv[i], tuple, r, &arg);
        argv[i] = xstrndup(ts_buf_head(&arg), ts_buf_len(&arg));
    }
    if (tuple != NULL) {
        ts_buf_reset(&arg);
        ts_canon(tuple, &arg);
        ts_buf_add(&arg, "\n", 1);
        in = memfd_create("tuple", MFD_CLOEXEC);
        if (in >= 0 && (write(in, ts_buf_head(&arg), ts_buf_len(&arg)) < 0 ||
                        lseek(in, 0, SEEK_SET) < 0)) {
            close(in);
            in = -1;
        }
    }
    ts_buf_free(&arg);
    if ((capture_out && pipe2(outp, O_CLOEXEC) < 0) || (capture_err && pipe2(errp, O_CLOEXEC) < 0))
        die(spec, "pipe", strerror(errno));
    pid = fork();
    if (pid < 0)
        die(spec, "fork", strerror(errno));
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
        fprintf(stderr, "%s: cannot run %s: %s\n", spec->name, argv[0], strerror(errno));
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
                    size_t room = TS_STDOUT_MAX - ts_buf_len(&r->out);

                    ts_buf_add(&r->out, buf, (size_t)n < room ? (size_t)n : room);
                } else {
                    keep_tail(&r->tail, buf, (size_t)n);
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
die(const struct ts_runspec *spec, const char *what, const char *err)
{
    fprintf(stderr, "%s: %s: %s\n", spec->name, what, err);
    _exit(111);
}

static void
put(const struct ts_runspec *spec, struct ts_conn *conn, json_t *tuple)
{
    char err[300];

    if (ts_out(conn, tuple, err, sizeof err) != TS_EXIT_OK) {
        json_decref(tuple);
        die(spec, "put", err);
    }
    json_decref(tuple);
}

static json_t *
put_tuple(const struct ts_runspec *spec, const json_t *taken, const struct result *r)
{
    json_t *t = json_array();
    char **w;

    for (w = spec->put; *w != NULL; w++)
        json_array_append_new(t, put_value(*w, taken, r));
    return t;
}

void
ts_runner_main(const struct ts_runspec *spec)
{
    int want_out = uses_stdout(spec->put);
    struct result *rp = &the_result;
    char err[300];

    signal(SIGTERM, on_term);
    busy = 1;
    if (spec->take == NULL) {
        run(spec, NULL, want_out, 0, rp);
        if (spec->put != NULL) {
            the_conn = ts_conn_open(spec->socket, err, sizeof err);
            if (the_conn == NULL)
                die(spec, "connect", err);
            put(spec, the_conn, put_tuple(spec, NULL, rp));
        }
        _exit(rp->status);
    }
    the_conn = ts_conn_open(spec->socket, err, sizeof err);
    if (the_conn == NULL)
        die(spec, "connect", err);
    for (;;) {
        json_t *req = json_pack("{s:s, s:O}", "op", "in", "tmpl", spec->take);

        busy = 0;
        if (stop_asked)
            _exit(128 + SIGTERM);
        json_t *reply = NULL, *final = NULL, *tuple;
        json_int_t id;
        char ack[64];
        int n;

        if (ts_conn_send(the_conn, req, err, sizeof err) != TS_EXIT_OK ||
            ts_conn_recv(the_conn, &reply, err, sizeof err) != TS_EXIT_OK ||
            ts_conn_recv(the_conn, &final, err, sizeof err) != TS_EXIT_OK)
            _exit(0); /* the daemon is gone: so are we */
        tuple = json_object_get(reply, "tuple");
        id = json_integer_value(json_object_get(reply, "id"));
        if (tuple == NULL)
            die(spec, "take", json_string_value(json_object_get(reply, "error")));
        busy = 1;
        ts_buf_reset(&rp->out);
        ts_buf_reset(&rp->tail);
        run(spec, tuple, want_out, 1, rp);
        /* Stopped mid-job and the command died of it: the job goes back, unconfirmed. */
        if (stop_asked && rp->status > 128)
            _exit(128 + SIGTERM);
        if (spec->put != NULL)
            put(spec, the_conn, put_tuple(spec, tuple, rp));
        if (rp->status != 0)
            put(spec, the_conn,
                json_pack("[s, s, I, i, o, O]", "ts.error", spec->name, (json_int_t)getpid(),
                          rp->status, ts_text_string(ts_buf_head(&rp->tail), ts_buf_len(&rp->tail)),
                          tuple));
        /* Done with it for good: only now is it confirmed. */
        n = snprintf(ack, sizeof ack, "{\"op\":\"ack\",\"id\":%" JSON_INTEGER_FORMAT "}\n", id);
        if (write(the_conn->fd, ack, (size_t)n) != n)
            _exit(0);
        json_decref(reply);
        json_decref(final);
        json_decref(req);
    }
}
