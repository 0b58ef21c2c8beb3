/*
 * ts-out: put tuples into the space.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define USAGE                                                                                      \
    "ts-out [-hj] [-s socket] field ... | ts-out [-s socket] -l [field ...] | ts-out [-s socket] " \
    "-"

static const char help_text[] =
    "  -          put one tuple per input line, each a JSON array\n"
    "  -h, --help  show this help\n"
    "  -j          the single argument is the whole tuple as a JSON array\n"
    "  -l          for each input line L put the tuple [field ..., L]\n"
    "  -s socket   the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "              /tmp/ts-UID/default)\n"
    "  --version   show the version\n"
    "\nFields: a JSON word is that value, any other word a string.  Exit: 0 done,\n"
    "2 usage or bad tuple, 3 daemon unreachable, 4 other failure.\n";

static int bulk(struct ts_conn *conn, char **prefix, int nprefix, int lines);

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL;
    struct ts_conn *conn;
    json_t *tuple;
    char err[400];
    int ch, jflag = 0, lflag = 0, rc;

    ts_cli_init("ts-out");
    argv[0] = "ts-out"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+hjls:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': ts_help(USAGE, help_text);
        case 'j': jflag = 1; break;
        case 'l': lflag = 1; break;
        case 's': sock = optarg; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    argc -= optind;
    argv += optind;
    if (lflag && jflag)
        ts_die(TS_EXIT_USAGE, "-j and -l cannot be used together");
    if (!lflag && argc == 1 && strcmp(argv[0], "-") == 0 && !jflag) {
        conn = ts_cli_connect(sock, NULL, 0);
        rc = bulk(conn, NULL, 0, 0);
        ts_conn_close(conn);
        return rc;
    }
    if (lflag) {
        /* Check the fields before reading anything. */
        tuple = argc > 0 ? ts_words_tuple(argv, argc, err, sizeof err) : json_array();
        if (tuple == NULL)
            ts_die(TS_EXIT_USAGE, "%s", err);
        json_decref(tuple);
        conn = ts_cli_connect(sock, NULL, 0);
        rc = bulk(conn, argv, argc, 1);
        ts_conn_close(conn);
        return rc;
    }
    if (argc == 0 || (jflag && argc != 1))
        ts_usage(USAGE);
    tuple = jflag ? ts_json_tuple(argv[0], err, sizeof err)
                  : ts_words_tuple(argv, argc, err, sizeof err);
    if (tuple == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    conn = ts_cli_connect(sock, NULL, 0);
    rc = ts_out(conn, tuple, err, sizeof err);
    if (rc != TS_EXIT_OK)
        ts_warn("%s", err);
    ts_conn_close(conn);
    json_decref(tuple);
    return rc;
}

/*
 * Read stdin and put its tuples in batches (see bulk.h).  A bad line stops
 * the run: every line before it has been put, none after.
 */
static int
bulk(struct ts_conn *conn, char **prefix, int nprefix, int lines)
{
    struct ts_bulk *b = ts_bulk_new(conn);
    char *line = NULL, err[400];
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = TS_EXIT_OK, rc2;

    if (lines && nprefix > 0) {
        json_t *fields = ts_words_tuple(prefix, nprefix, err, sizeof err);

        rc = ts_bulk_prefix(b, fields, err, sizeof err); /* checked by main */
        json_decref(fields);
    }
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (!lines && n == 0)
            continue;
        rc = lines ? ts_bulk_line(b, line, (size_t)n, err, sizeof err)
                   : ts_bulk_json(b, line, err, sizeof err);
        if (rc != TS_EXIT_OK) {
            ts_warn("line %ld: %s", lineno, err);
            break;
        }
        rc = ts_bulk_flush(b, err, sizeof err);
        if (rc != TS_EXIT_OK) {
            ts_warn("%s", err);
            break;
        }
    }
    if (ferror(stdin) && rc == TS_EXIT_OK) {
        ts_warn("cannot read input: %s", strerror(errno));
        rc = TS_EXIT_FAIL;
    }
    /* What was read before a bad line still goes in. */
    rc2 = ts_bulk_end(b, err, sizeof err);
    if (rc2 != TS_EXIT_OK)
        ts_warn("%s", err);
    free(line);
    return rc != TS_EXIT_OK ? rc : rc2;
}
