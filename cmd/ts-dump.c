/*
 * ts-dump: show what is in the space, for debugging; or follow what
 * happens in it (-f).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define USAGE                                                                                      \
    "ts-dump [-hSw] [-s socket] [--strings] [field ...]\n"                                         \
    "       ts-dump -f [-n count] [-s socket] [--strings] [-t seconds] [field ...]"

static const char help_text[] =
    "  -f          follow: print events as they happen, one JSON object per line\n"
    "  -h, --help  show this help\n"
    "  -n count    with -f: stop after count events\n"
    "  -S          counts instead: tuples, lent, bytes, clients, waiters, workers, ops, ...,\n"
    "              then per worker name: workers, done, failed, retried, inflight, queued\n"
    "  -s socket   the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "              /tmp/ts-UID/default)\n"
    "  --strings   every field word is a string (42 is \"42\"); ?-formals stay formals\n"
    "  -t seconds  with -f: stop after this long\n"
    "  -w          every line an object: tuples with their leases, lent tuples with their\n"
    "              holders, waiters with why nothing matches them, workers\n"
    "  --version   show the version\n"
    "\nWith fields, only what matches that template.  Exit: 0 done, 2 usage,\n"
    "3 daemon unreachable, 4 other failure.\n";

static volatile sig_atomic_t stop;

static int stats(struct ts_conn *conn);
static int dump(struct ts_conn *conn, json_t *tmpl, int wflag);
static int follow(struct ts_conn *conn, json_t *tmpl, long count, double seconds);

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"strings", no_argument, NULL, 'T'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *lastarg = NULL;
    struct ts_conn *conn;
    json_t *tmpl = NULL;
    char err[400];
    int ch, fflag = 0, sflag = 0, wflag = 0, flags = 0, rc;
    long count = -1;
    double seconds = -1;

    ts_cli_init("ts-dump");
    argv[0] = "ts-dump"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+fhn:Ss:t:w", longopts, NULL)) != -1) {
        lastarg = optarg;
        switch (ch) {
        case 'f': fflag = 1; break;
        case 'h': ts_help(USAGE, help_text);
        case 'n': count = ts_parse_count(optarg); break;
        case 'S': sflag = 1; break;
        case 's': sock = optarg; break;
        case 'T': flags |= TS_WORDS_STRINGS; break;
        case 't':
            if (ts_parse_seconds(optarg, &seconds) < 0)
                ts_die(TS_EXIT_USAGE, "bad time '%s': seconds from 0 to 1e9 are needed", optarg);
            break;
        case 'w': wflag = 1; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    ts_cli_fields(argc, argv, optind, lastarg);
    argc -= optind;
    argv += optind;
    if (sflag && (wflag || fflag || argc > 0))
        ts_die(TS_EXIT_USAGE, "-S takes neither -f, -w nor fields");
    if (fflag && wflag)
        ts_die(TS_EXIT_USAGE, "-f and -w cannot be used together");
    if (!fflag && (count >= 0 || seconds >= 0))
        ts_die(TS_EXIT_USAGE, "-n and -t are for -f");
    if (argc > 0 && (tmpl = ts_words_template_flags(argv, argc, flags, err, sizeof err)) == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    conn = ts_cli_connect(sock, NULL, 0);
    if (sflag)
        rc = stats(conn);
    else if (fflag)
        rc = follow(conn, tmpl, count, seconds);
    else
        rc = dump(conn, tmpl, wflag);
    ts_conn_close(conn);
    json_decref(tmpl);
    return rc;
}

/*
 * The daemon's lines as they come: with -w all of them, else only the
 * tuples, bare.
 */
static int
dump(struct ts_conn *conn, json_t *tmpl, int wflag)
{
    json_t *req = json_pack("{s:s, s:b, s:b}", "op", "dump", "waiters", wflag, "explain", wflag);
    json_t *reply;
    const char *line;
    char err[400];
    size_t len;
    int rc;

    if (tmpl != NULL)
        json_object_set(req, "tmpl", tmpl);
    rc = ts_conn_send(conn, req, err, sizeof err);
    json_decref(req);
    while (rc == TS_EXIT_OK && (rc = ts_conn_recv_text(conn, &line, &len, err, sizeof err)) == 0) {
        if (strncmp(line, "{\"ok\":", 6) == 0) {
            reply = json_loadb(line, len, 0, NULL);
            rc = ts_conn_status(reply, err, sizeof err);
            json_decref(reply);
            break;
        }
        if (wflag || strncmp(line, "{\"tuple\":", 9) != 0) {
            fwrite(line, 1, len, stdout);
            putchar('\n');
            continue;
        }
        reply = json_loadb(line, len, 0, NULL);
        ts_print_json(stdout, json_object_get(reply, "tuple"));
        json_decref(reply);
    }
    if (rc != TS_EXIT_OK)
        ts_warn("%s", err);
    return rc;
}

static double
monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Print each event line as it comes, flushed, until count events, the
 * time is up, a signal (^C), or the daemon shuts down: all of which are
 * a normal end.
 */
static int
follow(struct ts_conn *conn, json_t *tmpl, long count, double seconds)
{
    json_t *req = json_pack("{s:s}", "op", "follow"), *reply;
    double until = seconds >= 0 ? monotonic() + seconds : 0;
    struct sigaction sa;
    int rc, shutdown = 0;
    const char *line;
    char err[400];
    size_t len;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (tmpl != NULL)
        json_object_set(req, "tmpl", tmpl);
    rc = ts_conn_send(conn, req, err, sizeof err);
    json_decref(req);
    while (rc == TS_EXIT_OK && count != 0 && !stop) {
        if (!ts_conn_ready(conn)) {
            struct pollfd p = {ts_conn_fd(conn), POLLIN, 0};
            int ms = -1, n;

            if (seconds >= 0) {
                double left = until - monotonic();

                if (left <= 0)
                    break;
                ms = (int)ceil(left * 1e3);
            }
            n = poll(&p, 1, ms);
            if (n < 0 && errno != EINTR) {
                snprintf(err, sizeof err, "poll: %s", strerror(errno));
                rc = TS_EXIT_FAIL;
            }
            if (n <= 0)
                continue;
        }
        rc = ts_conn_recv_text(conn, &line, &len, err, sizeof err);
        if (rc != TS_EXIT_OK) {
            if (shutdown)
                rc = TS_EXIT_OK; /* the daemon said it stops, and did */
            break;
        }
        if (strncmp(line, "{\"ok\":", 6) == 0) {
            reply = json_loadb(line, len, 0, NULL);
            rc = ts_conn_status(reply, err, sizeof err);
            json_decref(reply);
            break;
        }
        fwrite(line, 1, len, stdout);
        putchar('\n');
        if (fflush(stdout) != 0 || ferror(stdout)) {
            snprintf(err, sizeof err, "cannot write output: %s", strerror(errno));
            rc = TS_EXIT_FAIL;
            break;
        }
        if (strncmp(line, "{\"event\":", 9) == 0 && count > 0)
            count--;
        if (strncmp(line, "{\"event\":\"shutdown\"", 19) == 0)
            shutdown = 1;
    }
    if (rc != TS_EXIT_OK)
        ts_warn("%s", err);
    return rc;
}

/* One "name value" line per counter: easy to read, easy to awk. */
static int
stats(struct ts_conn *conn)
{
    json_t *req = json_pack("{s:s}", "op", "stats"), *reply, *v;
    const char *key;
    char err[400];
    int rc = ts_conn_call(conn, req, &reply, err, sizeof err);

    json_decref(req);
    if (rc != TS_EXIT_OK) {
        ts_warn("%s", err);
        json_decref(reply);
        return rc;
    }
    json_object_foreach (json_object_get(reply, "stats"), key, v) {
        if (json_is_integer(v))
            printf("%s %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
        else
            printf("%s %.3f\n", key, json_number_value(v));
    }
    /* Then a line per worker name: "name NAME workers 4 done 12 ...". */
    json_object_foreach (json_object_get(reply, "names"), key, v) {
        const char *k;
        json_t *n;

        printf("name %s", key);
        json_object_foreach (v, k, n)
            printf(" %s %" JSON_INTEGER_FORMAT, k, json_integer_value(n));
        printf("\n");
    }
    json_decref(reply);
    return TS_EXIT_OK;
}
