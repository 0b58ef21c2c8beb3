/*
 * ts-top: a live view of a tuple space, for people: tuple counts by first
 * field and length, waiters, lent tuples, workers and operations per
 * second, redrawn every second on a terminal; one snapshot otherwise.
 *
 * Plain terminal escapes (the alternate screen, home, clear to end of
 * line) and termios: nothing a terminal library would add is needed for
 * one screen that is redrawn whole.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"
#include "tuple.h"

#define USAGE "ts-top [-h] [-d seconds] [-n count] [-s socket]"

#define ROWS_PIPED 100 /* lines per section without a terminal */

static const char help_text[] =
    "  -d seconds  time between snapshots (default 1; fractions allowed)\n"
    "  -h, --help  show this help\n"
    "  -n count    stop after count snapshots (default: on a terminal, when q or ^C is\n"
    "              pressed; otherwise 1)\n"
    "  -s socket   the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "              /tmp/ts-UID/default)\n"
    "  --version   show the version\n"
    "\nExit: 0 done, 2 usage, 3 daemon unreachable or gone, 4 other failure.\n";

/* One snapshot of the daemon. */
struct snap {
    json_t *stats;   /* the "stats" object */
    json_t *groups;  /* [{"first":..,"arity":..,"n":..}] */
    json_t *lent;    /* the dump's {"lent":..} lines */
    json_t *waiters; /* its {"waiter":{..}} objects */
    json_t *workers; /* its {"worker":{..}} objects */
    double at;       /* monotonic seconds */
};

static volatile sig_atomic_t stop, resized;
static struct termios saved;
static int raw_input, on_screen;

static int take_snap(struct ts_conn *conn, size_t rows, struct snap *s);
static void free_snap(struct snap *s);
static void render(struct ts_buf *b, const char *sock, const struct snap *s,
                   const struct snap *prev, int width, int height);
static void restore(void);

static void
on_signal(int sig)
{
    if (sig == SIGWINCH)
        resized = 1;
    else
        stop = 1;
}

static double
monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL;
    char path[TS_PATH_MAX + 1];
    struct snap prev = {0}, cur;
    struct ts_buf screen = TS_BUF_INIT;
    struct ts_conn *conn;
    double delay = 1;
    long count = -1, frame;
    int ch, tty, rc = TS_EXIT_OK;

    ts_cli_init("ts-top");
    argv[0] = "ts-top"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+d:hn:s:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            if (ts_parse_seconds(optarg, &delay) < 0 || delay <= 0)
                ts_die(TS_EXIT_USAGE, "bad delay '%s': seconds above 0 are needed", optarg);
            break;
        case 'h': ts_help(USAGE, help_text);
        case 'n': count = ts_parse_count(optarg); break;
        case 's': sock = optarg; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    if (optind < argc)
        ts_usage(USAGE);
    tty = isatty(1);
    if (count < 0)
        count = tty ? -1 : 1;
    conn = ts_cli_connect(sock, path, sizeof path);
    if (tty) {
        struct sigaction sa;
        struct termios t;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGWINCH, &sa, NULL);
        if (isatty(0) && tcgetattr(0, &saved) == 0) {
            t = saved;
            t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
            t.c_cc[VMIN] = 0;
            t.c_cc[VTIME] = 0;
            raw_input = tcsetattr(0, TCSANOW, &t) == 0;
        }
        atexit(restore);
        fputs("\033[?1049h\033[?25l", stdout); /* the alternate screen, no cursor */
        on_screen = 1;
    }
    for (frame = 0; count < 0 || frame < count; frame++) {
        int width = 1 << 16, height = 1 << 16;
        struct winsize ws;
        double next;

        if (tty && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
            width = ws.ws_col;
            height = ws.ws_row;
        }
        rc = take_snap(conn, tty ? (size_t)height : ROWS_PIPED, &cur);
        if (rc != TS_EXIT_OK)
            break;
        ts_buf_reset(&screen);
        render(&screen, path, &cur, frame > 0 ? &prev : NULL, width, tty ? height : -1);
        if (tty)
            fputs("\033[H", stdout);
        else if (frame > 0)
            putchar('\n');
        fwrite(ts_buf_head(&screen), 1, ts_buf_len(&screen), stdout);
        if (tty)
            fputs("\033[J", stdout);
        fflush(stdout);
        free_snap(&prev);
        prev = cur;
        if (count >= 0 && frame + 1 >= count)
            break;
        /* Wait for the next frame, a key, a signal or a new size. */
        for (next = prev.at + delay; !stop && !resized;) {
            struct pollfd p = {0, POLLIN, 0};
            double left = next - monotonic();
            char key;

            if (left <= 0)
                break;
            if (poll(&p, raw_input ? 1 : 0, (int)ceil(left * 1e3)) > 0 && read(0, &key, 1) == 1 &&
                (key == 'q' || key == 'Q'))
                stop = 1;
        }
        resized = 0;
        if (stop)
            break;
    }
    free_snap(&prev);
    ts_buf_free(&screen);
    ts_conn_close(conn);
    restore();
    return rc;
}

static void
restore(void)
{
    if (on_screen) {
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        on_screen = 0;
    }
    if (raw_input) {
        tcsetattr(0, TCSANOW, &saved);
        raw_input = 0;
    }
}

static void
free_snap(struct snap *s)
{
    json_decref(s->stats);
    json_decref(s->groups);
    json_decref(s->lent);
    json_decref(s->waiters);
    json_decref(s->workers);
    memset(s, 0, sizeof *s);
}

/* The counters with the largest groups, then the lent tuples, waiters and workers. */
static int
take_snap(struct ts_conn *conn, size_t rows, struct snap *s)
{
    json_t *req, *reply, *v;
    char err[400];
    int rc;

    memset(s, 0, sizeof *s);
    s->lent = json_array();
    s->waiters = json_array();
    s->workers = json_array();
    req = json_pack("{s:s, s:I}", "op", "stats", "groups", (json_int_t)(rows < 1000 ? rows : 1000));
    rc = ts_conn_call(conn, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc == TS_EXIT_OK) {
        s->at = monotonic();
        s->stats = json_incref(json_object_get(reply, "stats"));
        s->groups = json_incref(json_object_get(reply, "groups"));
        if (s->groups == NULL)
            s->groups = json_array();
    }
    json_decref(reply);
    if (rc != TS_EXIT_OK) {
        ts_warn("%s", err);
        return rc;
    }
    req = json_pack("{s:s, s:b, s:b, s:I}", "op", "dump", "tuples", 0, "waiters", 1, "limit",
                    (json_int_t)rows);
    rc = ts_conn_send(conn, req, err, sizeof err);
    json_decref(req);
    while (rc == TS_EXIT_OK && (rc = ts_conn_recv(conn, &reply, err, sizeof err)) == TS_EXIT_OK) {
        if (json_object_get(reply, "ok") != NULL) {
            rc = ts_conn_status(reply, err, sizeof err);
            json_decref(reply);
            break;
        }
        if ((v = json_object_get(reply, "waiter")) != NULL)
            json_array_append(s->waiters, v);
        else if ((v = json_object_get(reply, "worker")) != NULL)
            json_array_append(s->workers, v);
        else if (json_object_get(reply, "lent") != NULL)
            json_array_append(s->lent, reply);
        json_decref(reply);
    }
    if (rc != TS_EXIT_OK)
        ts_warn("%s", err);
    return rc;
}

/* 0.5s, 42.0s, 3m07s, 2h05m: short enough for a column. */
static void
span(double s, char *out, size_t n)
{
    long t = (long)s;

    if (!(s >= 0))
        snprintf(out, n, "-");
    else if (s < 60)
        snprintf(out, n, "%.1fs", s);
    else if (t < 3600)
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(out, n, "%ldh%02ldm", t / 3600, t % 3600 / 60);
    else
        snprintf(out, n, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
}

static json_int_t
counter(const struct snap *s, const char *key)
{
    return json_integer_value(json_object_get(s->stats, key));
}

/* A JSON value in canonical text, into a NUL-terminated buffer. */
static const char *
text_of(const json_t *v, struct ts_buf *b)
{
    ts_buf_reset(b);
    if (v == NULL || json_is_null(v))
        ts_buf_add(b, "", 1);
    else {
        ts_canon(v, b);
        ts_buf_add(b, "", 1);
    }
    return ts_buf_head(b);
}

struct screen {
    struct ts_buf *b;
    int width;
    int left; /* lines still free, or -1: no limit */
};

static void put(struct screen *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line, cut to the width; nothing once the screen is full. */
static void
put(struct screen *sc, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    int n;

    if (sc->left == 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    if (n > sc->width)
        n = sc->width;
    ts_buf_add(sc->b, line, (size_t)n);
    ts_buf_add(sc->b, sc->width < (1 << 16) ? "\033[K\n" : "\n", sc->width < (1 << 16) ? 4 : 1);
    if (sc->left > 0)
        sc->left--;
}

static void
render(struct ts_buf *b, const char *sock, const struct snap *s, const struct snap *prev, int width,
       int height)
{
    struct screen sc = {b, width, height};
    struct ts_buf t = TS_BUF_INIT;
    char up[32], age[32], rate[48], clock[16];
    time_t now = time(NULL);
    struct tm tm;
    size_t i, n;
    int share;

    span(json_number_value(json_object_get(s->stats, "uptime")), up, sizeof up);
    localtime_r(&now, &tm);
    strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    if (prev != NULL && s->at > prev->at)
        /* Our own two requests a snapshot are not the space's work. */
        snprintf(
            rate, sizeof rate, "%.1f",
            fmax(0, (double)(counter(s, "ops") - counter(prev, "ops") - 2) / (s->at - prev->at)));
    else
        snprintf(rate, sizeof rate, "%.1f (average)",
                 (double)counter(s, "ops") /
                     fmax(1e-3, json_number_value(json_object_get(s->stats, "uptime"))));
    put(&sc, "ts-top: %s, pid %lld, up %s, %s", sock, (long long)counter(s, "pid"), up, clock);
    put(&sc, "tuples %lld  lent %lld  waiters %lld  clients %lld  workers %lld  followers %lld",
        (long long)counter(s, "tuples"), (long long)counter(s, "lent"),
        (long long)counter(s, "waiters"), (long long)counter(s, "clients"),
        (long long)counter(s, "workers"), (long long)counter(s, "followers"));
    put(&sc, "leases %lld  bound %lld  bytes %lld  ops/s %s", (long long)counter(s, "leases"),
        (long long)counter(s, "bound"), (long long)counter(s, "bytes"), rate);
    /* What is left of a terminal is shared: groups first, at least a few of each. */
    share = sc.left < 0 ? -1 : (sc.left - 8) / 4 > 3 ? (sc.left - 8) / 4 : 3;

    put(&sc, "%s", "");
    put(&sc, "%8s %5s %s", "COUNT", "ARITY", "FIRST FIELD");
    n = json_array_size(s->groups);
    for (i = 0; i < n && (share < 0 || (int)i < 2 * share); i++) {
        json_t *g = json_array_get(s->groups, i);

        put(&sc, "%8lld %5lld %s", (long long)json_integer_value(json_object_get(g, "n")),
            (long long)json_integer_value(json_object_get(g, "arity")),
            text_of(json_object_get(g, "first"), &t));
    }
    if (json_array_size(s->waiters) > 0) {
        put(&sc, "%s", "");
        put(&sc, "%8s %-3s %7s %s", "PID", "OP", "AGE", "WAITING FOR");
        n = json_array_size(s->waiters);
        for (i = 0; i < n && (share < 0 || (int)i < share); i++) {
            json_t *w = json_array_get(s->waiters, i);

            span(json_number_value(json_object_get(w, "age")), age, sizeof age);
            put(&sc, "%8lld %-3s %7s %s", (long long)json_integer_value(json_object_get(w, "pid")),
                json_string_value(json_object_get(w, "op")), age,
                text_of(json_object_get(w, "tmpl"), &t));
        }
    }
    if (json_array_size(s->lent) > 0) {
        put(&sc, "%s", "");
        put(&sc, "%8s %7s %s", "HOLDER", "AGE", "LENT TUPLE");
        n = json_array_size(s->lent);
        for (i = 0; i < n && (share < 0 || (int)i < share); i++) {
            json_t *l = json_array_get(s->lent, i);

            span(json_number_value(json_object_get(l, "age")), age, sizeof age);
            put(&sc, "%8lld %7s %s", (long long)json_integer_value(json_object_get(l, "holder")),
                age, text_of(json_object_get(l, "lent"), &t));
        }
    }
    if (json_array_size(s->workers) > 0) {
        put(&sc, "%s", "");
        put(&sc, "  %-12s %8s %-8s %7s %6s %6s %s", "WORKER", "PID", "STATE", "AGE", "DONE",
            "FAILED", "PROCESSING");
        n = json_array_size(s->workers);
        for (i = 0; i < n; i++) {
            json_t *w = json_array_get(s->workers, i);

            span(json_number_value(json_object_get(w, "age")), age, sizeof age);
            put(&sc, "  %-12s %8lld %-8s %7s %6lld %6lld %s",
                json_string_value(json_object_get(w, "name")),
                (long long)json_integer_value(json_object_get(w, "pid")),
                json_string_value(json_object_get(w, "state")), age,
                (long long)json_integer_value(json_object_get(w, "done")),
                (long long)json_integer_value(json_object_get(w, "failed")),
                text_of(json_object_get(w, "processing"), &t));
        }
    }
    ts_buf_free(&t);
}
