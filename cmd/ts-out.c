/*
 * ts-out: put tuples into the space.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "tuple.h"

#define USAGE                                                                                      \
    "ts-out [-hjS] [--pid pid] [-s socket] [--ttl seconds] [--unless fields] field ...\n"          \
    "       ts-out [-S] [--pid pid] [-s socket] [--ttl seconds] -0 | -L | -l [field ...]\n"        \
    "       ts-out [--pid pid] [-s socket] [--ttl seconds] -"

static const char help_text[] =
    "  -           put one tuple per input line, each a JSON array\n"
    "  -0          for each NUL-terminated input record R put the tuple [field ..., R]\n"
    "  -h, --help  show this help\n"
    "  -j          the single argument is the whole tuple as a JSON array\n"
    "  -L          for each input line L put [field ..., L], L read as a field word\n"
    "  -l          for each input line L put the tuple [field ..., L], L a string\n"
    "  --pid pid   the tuples go when process pid ends\n"
    "  -S, --strings\n"
    "              every field word is a string (1.10 is \"1.10\", not the number 1.1)\n"
    "  -s socket   the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "              /tmp/ts-UID/default)\n"
    "  --ttl seconds\n"
    "              the tuples go after this long (fractions allowed; 0 puts nothing)\n"
    "  --unless fields\n"
    "              put the tuple only if no stored tuple matches this template (one word\n"
    "              of fields); exit 1 if one does\n"
    "  --version   show the version\n"
    "\nFields: a JSON word is that value, any other word a string.  Options go before the\n"
    "fields.  Exit: 0 done, 1 not put (--unless), 2 usage or bad tuple, 3 daemon\n"
    "unreachable, 4 other failure.\n";

/* What standard input holds, one tuple per line or record. */
enum input {
    IN_NONE,  /* nothing: the tuple is the words */
    IN_JSON,  /* -: each line a JSON array */
    IN_LINES, /* -l: each line a string */
    IN_WORDS, /* -L: each line a field word */
    IN_NUL,   /* -0: each NUL-terminated record a string */
};

static int bulk(struct ts_conn *conn, const json_t *prefix, enum input in,
                const struct ts_out_opts *o);
static json_t *unless_template(const char *text, int flags);
static void warn_respelled(char *const *words, int n, const json_t *tuple);
static void warn_line(long lineno, const char *line);

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"pid", required_argument, NULL, 'P'},
        {"strings", no_argument, NULL, 'S'},
        {"ttl", required_argument, NULL, 'T'},
        {"unless", required_argument, NULL, 'U'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *lastarg = NULL, *unless = NULL;
    struct ts_out_opts o = {-1, 0, NULL};
    enum input in = IN_NONE;
    struct ts_conn *conn;
    json_t *tuple;
    char err[400], *end;
    int ch, jflag = 0, flags = 0, rc;

    ts_cli_init("ts-out");
    argv[0] = "ts-out"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+0hjLlSs:", longopts, NULL)) != -1) {
        lastarg = optarg;
        switch (ch) {
        case '0':
        case 'L':
        case 'l':
            if (in != IN_NONE)
                ts_die(TS_EXIT_USAGE, "-0, -L and -l cannot be used together");
            in = ch == '0' ? IN_NUL : ch == 'L' ? IN_WORDS : IN_LINES;
            break;
        case 'h': ts_help(USAGE, help_text);
        case 'j': jflag = 1; break;
        case 'P':
            errno = 0;
            o.pid = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || o.pid < 1 || o.pid > INT_MAX)
                ts_die(TS_EXIT_USAGE, "bad --pid '%s': a process ID is needed", optarg);
            break;
        case 'S': flags |= TS_WORDS_STRINGS; break;
        case 's': sock = optarg; break;
        case 'T':
            if (ts_parse_seconds(optarg, &o.ttl) < 0)
                ts_die(TS_EXIT_USAGE, "bad --ttl '%s': seconds from 0 to 1e9 are needed", optarg);
            break;
        case 'U': unless = optarg; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    ts_cli_fields(argc, argv, optind, lastarg);
    argc -= optind;
    argv += optind;
    if (jflag && in != IN_NONE)
        ts_die(TS_EXIT_USAGE, "-j cannot be used with -0, -L or -l");
    if (jflag && (flags & TS_WORDS_STRINGS))
        ts_die(TS_EXIT_USAGE, "-j and -S cannot be used together");
    if (in == IN_WORDS && (flags & TS_WORDS_STRINGS))
        ts_die(TS_EXIT_USAGE, "-L reads lines as words, -S makes words strings: use -l instead");
    if (unless != NULL && (in != IN_NONE || (argc == 1 && strcmp(argv[0], "-") == 0 && !jflag)))
        ts_die(TS_EXIT_USAGE, "--unless puts one tuple: it cannot be used with -, -0, -L or -l");
    if (unless != NULL)
        o.unless = unless_template(unless, flags);
    if (in == IN_NONE && argc == 1 && strcmp(argv[0], "-") == 0 && !jflag) {
        if (flags & TS_WORDS_STRINGS)
            ts_die(TS_EXIT_USAGE, "-S and - cannot be used together: - reads JSON lines");
        conn = ts_cli_connect(sock, NULL, 0);
        rc = bulk(conn, NULL, IN_JSON, &o);
        ts_conn_close(conn);
        return rc;
    }
    if (in != IN_NONE) {
        /* Check the fields before reading anything. */
        tuple = argc > 0 ? ts_words_tuple_flags(argv, argc, flags, err, sizeof err) : json_array();
        if (tuple == NULL)
            ts_die(TS_EXIT_USAGE, "%s", err);
        if (!(flags & TS_WORDS_STRINGS))
            warn_respelled(argv, argc, tuple);
        conn = ts_cli_connect(sock, NULL, 0);
        rc = bulk(conn, tuple, in, &o);
        ts_conn_close(conn);
        json_decref(tuple);
        return rc;
    }
    if (argc == 0 || (jflag && argc != 1))
        ts_usage(USAGE);
    tuple = jflag ? ts_json_tuple(argv[0], err, sizeof err)
                  : ts_words_tuple_flags(argv, argc, flags, err, sizeof err);
    if (tuple == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    if (!jflag && !(flags & TS_WORDS_STRINGS))
        warn_respelled(argv, argc, tuple);
    conn = ts_cli_connect(sock, NULL, 0);
    rc = ts_out_with(conn, tuple, &o, err, sizeof err);
    /* Something matched --unless: the status says it, as ts-in's says "no match". */
    if (rc != TS_EXIT_OK && rc != TS_EXIT_NOMATCH)
        ts_warn("%s", err);
    ts_conn_close(conn);
    json_decref(tuple);
    json_decref((json_t *)o.unless);
    return rc;
}

/* --unless: one word of fields, as ts-eval's --take (strings all, with -S). */
static json_t *
unless_template(const char *text, int flags)
{
    char **words, err[400];
    json_t *tmpl;
    int n = ts_split_words(text, &words, err, sizeof err);

    if (n < 0)
        ts_die(TS_EXIT_USAGE, "bad --unless '%s': %s", text, err);
    if (n == 0)
        ts_die(TS_EXIT_USAGE, "bad --unless '%s': no fields", text);
    tmpl = ts_words_template_flags(words, n, flags, err, sizeof err);
    if (tmpl == NULL)
        ts_die(TS_EXIT_USAGE, "--unless: %s", err);
    ts_words_free(words);
    return tmpl;
}

/*
 * A word whose number is stored spelled otherwise (1.10 as 1.1) may have
 * been meant as text, a version or a price: say so once per word, and how
 * to keep the text.  Silent where nothing changed.
 */
static void
warn_respelled(char *const *words, int n, const json_t *tuple)
{
    struct ts_buf b = TS_BUF_INIT;
    int i;

    for (i = 0; i < n; i++) {
        if (!ts_word_respelled(words[i]))
            continue;
        ts_buf_reset(&b);
        ts_canon(json_array_get(tuple, (size_t)i), &b);
        ts_warn("field %d '%s' is stored as %.*s; to keep the text, write '\"%s\"' or use -S",
                i + 1, words[i], (int)ts_buf_len(&b), ts_buf_head(&b), words[i]);
    }
    ts_buf_free(&b);
}

/* The first line -L stores spelled otherwise, as warn_respelled says it for words. */
static void
warn_line(long lineno, const char *line)
{
    struct ts_buf b = TS_BUF_INIT;
    char err[300];
    json_t *v = ts_word_parse(line, 0, err, sizeof err);

    ts_canon(v, &b);
    ts_warn("line %ld '%s' is stored as %.*s; to keep lines as text, use -l", lineno, line,
            (int)ts_buf_len(&b), ts_buf_head(&b));
    ts_buf_free(&b);
    json_decref(v);
}

/*
 * Read stdin and put its tuples in batches (ts_bulk_new).  A bad line stops
 * the run: every line before it has been put, none after.  Errors name the
 * line (or, with -0, the record) they are about.
 */
static int
bulk(struct ts_conn *conn, const json_t *prefix, enum input in, const struct ts_out_opts *o)
{
    struct ts_bulk *b = ts_bulk_new(conn);
    const char *unit = in == IN_NUL ? "record" : "line";
    char *line = NULL, err[400];
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, respelled = 0, first = 0;
    int rc = TS_EXIT_OK, rc2, changed;

    if (b == NULL)
        ts_die(TS_EXIT_FAIL, "out of memory");
    if (ts_bulk_with(b, o, err, sizeof err) != TS_EXIT_OK)
        ts_die(TS_EXIT_FAIL, "%s", err);
    if (prefix != NULL)
        rc = ts_bulk_prefix(b, prefix, err, sizeof err);
    while (rc == TS_EXIT_OK &&
           (n = getdelim(&line, &cap, in == IN_NUL ? '\0' : '\n', stdin)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == (in == IN_NUL ? '\0' : '\n'))
            line[--n] = '\0';
        /* Blank lines separate nothing in JSON lines: skip them, as the daemon does. */
        if (in == IN_JSON && strspn(line, " \t\r") == (size_t)n)
            continue;
        ts_bulk_at(b, lineno);
        switch (in) {
        case IN_JSON: rc = ts_bulk_json(b, line, err, sizeof err); break;
        case IN_WORDS: rc = ts_bulk_word(b, line, (size_t)n, &changed, err, sizeof err); break;
        default: rc = ts_bulk_line(b, line, (size_t)n, err, sizeof err); break;
        }
        if (rc != TS_EXIT_OK) {
            ts_warn("%s %ld: %s", unit, lineno, err);
            break;
        }
        if (in == IN_WORDS && changed && respelled++ == 0) {
            first = lineno;
            warn_line(lineno, line);
        }
        rc = ts_bulk_flush(b, err, sizeof err);
        if (rc != TS_EXIT_OK)
            ts_warn("%s", err);
    }
    if (ferror(stdin) && rc == TS_EXIT_OK) {
        ts_warn("cannot read input: %s", strerror(errno));
        rc = TS_EXIT_FAIL;
    }
    /* What was read before a bad line still goes in. */
    rc2 = ts_bulk_end(b, err, sizeof err);
    if (rc2 != TS_EXIT_OK)
        ts_warn("%s", err);
    if (respelled > 1)
        ts_warn("%ld more lines after line %ld were stored in another form", respelled - 1, first);
    free(line);
    return rc != TS_EXIT_OK ? rc : rc2;
}
