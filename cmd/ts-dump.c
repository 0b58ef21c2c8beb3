/*
 * ts-dump: show what is in the space, for debugging.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define USAGE "ts-dump [-hSw] [-s socket] [--strings] [field ...]"

static const char help_text[] =
    "  -h, --help  show this help\n"
    "  -S          counts instead: tuples, lent, bytes, clients, waiters, workers, ops, ...,\n"
    "              then per worker name: workers, done, failed, retried, inflight, queued\n"
    "  -s socket   the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "              /tmp/ts-UID/default)\n"
    "  --strings   every field word is a string (42 is \"42\"); ?-formals stay formals\n"
    "  -w          also the waiting clients and the workers, as JSON objects\n"
    "  --version   show the version\n"
    "\nWith fields, only the tuples matching that template.  Exit: 0 done, 2 usage,\n"
    "3 daemon unreachable, 4 other failure.\n";

static int stats(struct ts_conn *conn);

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
    json_t *req, *reply, *tmpl = NULL, *v;
    char err[400];
    int ch, sflag = 0, wflag = 0, flags = 0, rc;

    ts_cli_init("ts-dump");
    argv[0] = "ts-dump"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+hSs:w", longopts, NULL)) != -1) {
        lastarg = optarg;
        switch (ch) {
        case 'h': ts_help(USAGE, help_text);
        case 'S': sflag = 1; break;
        case 's': sock = optarg; break;
        case 'T': flags |= TS_WORDS_STRINGS; break;
        case 'w': wflag = 1; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    ts_cli_fields(argc, argv, optind, lastarg);
    argc -= optind;
    argv += optind;
    if (sflag && (wflag || argc > 0))
        ts_die(TS_EXIT_USAGE, "-S takes neither -w nor fields");
    if (argc > 0 && (tmpl = ts_words_template_flags(argv, argc, flags, err, sizeof err)) == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    conn = ts_cli_connect(sock, NULL, 0);
    if (sflag) {
        rc = stats(conn);
        ts_conn_close(conn);
        return rc;
    }
    req = json_pack("{s:s, s:b}", "op", "dump", "waiters", wflag);
    if (tmpl != NULL)
        json_object_set_new(req, "tmpl", tmpl);
    rc = ts_conn_send(conn, req, err, sizeof err);
    json_decref(req);
    while (rc == TS_EXIT_OK && (rc = ts_conn_recv(conn, &reply, err, sizeof err)) == 0) {
        if ((v = json_object_get(reply, "tuple")) != NULL) {
            ts_print_json(stdout, v);
        } else if (json_object_get(reply, "ok") == NULL) {
            char *line = json_dumps(reply, JSON_COMPACT);

            puts(line);
            free(line);
        } else {
            rc = ts_conn_status(reply, err, sizeof err);
            json_decref(reply);
            break;
        }
        json_decref(reply);
    }
    if (rc != TS_EXIT_OK)
        ts_warn("%s", err);
    ts_conn_close(conn);
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
