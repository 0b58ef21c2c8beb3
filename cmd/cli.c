/*
 * cli.c: what the commands share: diagnostics, option values, printing
 * tuples, and the body of ts-in and ts-rd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"
#include "template.h"
#include "tuple.h"
#include "wire.h"

static const char *progname = "ts";

static void oom(size_t size) __attribute__((noreturn));
static void help(int take) __attribute__((noreturn));

/* Out of memory in a command: say so and give up (mem.h). */
static void
oom(size_t size)
{
    char msg[120];
    int n = snprintf(msg, sizeof msg, "%s: out of memory allocating %zu bytes\n", progname, size);

    /* No stdio here: it might itself need memory. */
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(111);
    _exit(111);
}

/*
 * A command started with stdin, stdout or stderr closed would get its
 * socket as that descriptor and, say, print a tuple into the socket and
 * confirm it: the tuple would be lost.  Fill the gaps with /dev/null opened
 * read-only, so that writing to a closed stdout still fails (and ts-in
 * does not confirm) while reading a closed stdin is an empty input.
 */
void
ts_cli_init(const char *name)
{
    int fd;

    progname = name;
    ts_mem_fatal(oom);
    while ((fd = open("/dev/null", O_RDONLY)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        close(fd);
}

void
ts_warn(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
ts_die(int status, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

void
ts_usage(const char *usage)
{
    fprintf(stderr, "usage: %s\n", usage);
    exit(TS_EXIT_USAGE);
}

void
ts_help(const char *usage, const char *text)
{
    printf("usage: %s\n\n%s", usage, text);
    exit(TS_EXIT_OK);
}

void
ts_version(void)
{
    printf("%s %s\n", progname, TS_VERSION);
    exit(TS_EXIT_OK);
}

int
ts_parse_seconds(const char *s, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d) || d < 0 || d > TS_TIMEOUT_MAX)
        return -1;
    *out = d;
    return 0;
}

long
ts_parse_count(const char *s)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || n < 1)
        ts_die(TS_EXIT_USAGE, "bad count '%s': a positive integer is needed", s);
    return n;
}

/* A number as JSON writes one: the one kind of field word that may start with '-'. */
static int
json_number(const char *s)
{
    const char *p = s, *digits;

    if (*p == '-')
        p++;
    for (digits = p; *p >= '0' && *p <= '9'; p++)
        ;
    if (p == digits)
        return 0;
    if (*p == '.') {
        for (digits = ++p; *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return 0;
    }
    if (*p == 'e' || *p == 'E') {
        if (*++p == '+' || *p == '-')
            p++;
        for (digits = p; *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return 0;
    }
    return *p == '\0';
}

/*
 * Options end at the first field, so an option written after the fields
 * would become a field: ts-in job '?' -t 1 would wait for ever for a tuple
 * of four fields.  A field word that starts with '-' and is not a number
 * (nor "-" alone, never an option) is taken for such a mistake, unless "--"
 * said that everything after it is a field.
 */
void
ts_cli_fields(int argc, char **argv, int optind_, const char *lastarg)
{
    int i;

    if (optind_ > 1 && strcmp(argv[optind_ - 1], "--") == 0 && argv[optind_ - 1] != lastarg)
        return;
    for (i = optind_; i < argc; i++) {
        const char *w = argv[i];

        if (w[0] == '-' && w[1] != '\0' && !json_number(w))
            ts_die(TS_EXIT_USAGE,
                   "'%s' after the fields: options go before the fields; write -- before a "
                   "field that starts with -",
                   w);
    }
}

struct ts_conn *
ts_cli_connect(const char *explicit, char *path, size_t pathlen)
{
    char buf[TS_PATH_MAX + 1], err[300];
    struct ts_conn *conn;

    if (ts_socket_path(explicit, buf, err, sizeof err) != TS_EXIT_OK)
        ts_die(TS_EXIT_USAGE, "%s", err);
    if (path != NULL)
        snprintf(path, pathlen, "%s", buf);
    conn = ts_conn_open(buf, err, sizeof err);
    if (conn == NULL)
        ts_die(TS_EXIT_CONN, "%s", err);
    return conn;
}

/* A string raw but for tab, newline and backslash, so one value stays one field. */
static void
print_escaped(FILE *fp, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        switch (s[i]) {
        case '\t': fputs("\\t", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\\': fputs("\\\\", fp); break;
        default: fputc(s[i], fp);
        }
    }
}

void
ts_print_json(FILE *fp, const json_t *v)
{
    struct ts_buf b = TS_BUF_INIT;

    ts_canon(v, &b);
    ts_buf_add(&b, "\n", 1);
    fwrite(ts_buf_head(&b), 1, ts_buf_len(&b), fp);
    ts_buf_free(&b);
}

/* How ts-in and ts-rd print what they get. */
enum ts_outmode {
    TS_OUT_BOUND, /* values bound to formals, tab-separated, escaped strings */
    TS_OUT_JSON,  /* the whole tuple as compact JSON */
    TS_OUT_NUL,   /* each bound value raw, followed by NUL */
    TS_OUT_QUIET, /* nothing: the exit status says it all */
};

struct print_ctx {
    const json_t *tmpl;
    char *formal; /* formal[i]: field i of the template is a formal */
    uint32_t nformal;
    enum ts_outmode mode;
    int failed; /* a write failed, and was reported */
};

/*
 * One bound field of a tuple, printed from its canonical text: a string without escapes is its
 * bytes between the quotes, any other value but a string is its text; strings with escapes are
 * decoded.
 */
static void
print_field(FILE *fp, const char *text, size_t n, enum ts_outmode mode)
{
    json_t *v;

    if (text[0] != '"') {
        fwrite(text, 1, n, fp);
        return;
    }
    if (memchr(text, '\\', n) == NULL) {
        fwrite(text + 1, 1, n - 2, fp);
        return;
    }
    v = json_loadb(text, n, JSON_DECODE_ANY, NULL);
    if (mode == TS_OUT_NUL)
        fwrite(json_string_value(v), 1, json_string_length(v), fp);
    else
        print_escaped(fp, json_string_value(v), json_string_length(v));
    json_decref(v);
}

/*
 * Print each tuple; before the tuples are confirmed (got is NULL), flush,
 * and treat a write error as a stop: only what reached stdout is taken.
 */
static int
print_one(struct ts_got *got, void *arg)
{
    struct print_ctx *p = arg;
    uint32_t i, printed = 0;

    if (got == NULL) {
        if (fflush(stdout) == 0 && !ferror(stdout))
            return TS_EXIT_OK;
        ts_warn("cannot write output: %s", strerror(errno));
        p->failed = 1;
        return TS_EXIT_FAIL;
    }
    if (p->mode == TS_OUT_QUIET)
        return TS_EXIT_OK;
    if (p->mode == TS_OUT_JSON) {
        fwrite(got->text, 1, got->len, stdout);
        putchar('\n');
    } else {
        for (i = 0; i < got->arity; i++) {
            if (i >= p->nformal || !p->formal[i])
                continue;
            if (p->mode == TS_OUT_BOUND && printed++ > 0)
                putchar('\t');
            print_field(stdout, got->text + got->off[i],
                        ts_field_len(got->off, got->arity, got->len, i), p->mode);
            if (p->mode == TS_OUT_NUL)
                putchar('\0');
        }
        if (p->mode == TS_OUT_BOUND && printed > 0)
            putchar('\n');
    }
    if (ferror(stdout)) {
        ts_warn("cannot write output: %s", strerror(errno));
        p->failed = 1;
        return TS_EXIT_FAIL;
    }
    return TS_EXIT_OK;
}

static const char *const usage_in =
    "ts-in [-0ahjqS] [-n count] [-s socket] [-t seconds] field ...\n"
    "       ts-in {--hold | --run} [-jS] [-s socket] [-t seconds] field ... -- command [arg ...]";
static const char *const usage_rd = "ts-rd [-0ahjqS] [-n count] [-s socket] [-t seconds] field ...";

static const char help_head[] = "  -0          print each bound value raw, followed by a NUL byte\n"
                                "  -a          every match there is now, without waiting\n"
                                "  -h, --help  show this help\n";
static const char help_hold[] =
    "  --hold      run command while holding the tuple, then give it back\n";
static const char help_mid[] =
    "  -j          print whole tuples as JSON, one per line (a field may be given as -j JSON)\n"
    "  -n count    up to count tuples, one per line\n"
    "  -q          print nothing: the exit status tells whether a tuple matched\n";
static const char help_run[] =
    "  --run       run command on the tuple: its bound values are appended as arguments;\n"
    "              exit 0 confirms the take, anything else gives the tuple back\n";
static const char help_tail[] =
    "  -S, --strings\n"
    "              every field word is a string (42 is \"42\"); ?-formals stay formals\n"
    "  -s socket   the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "              /tmp/ts-UID/default)\n"
    "  -t seconds  wait at most this long (0: do not wait; fractions allowed)\n"
    "  --version   show the version\n"
    "\nFields: a JSON word is that value, any other word a string; ? ?str ?int ?num ?bool\n"
    "?null ?arr ?obj ?~ERE ?LO..HI are formals.  Options go before the fields.  Exit: 0\n"
    "done, 1 no match, 2 usage or bad template, 3 daemon unreachable, 4 other failure;\n"
    "with --run or --hold, the command's status.  See ts-tuples(7).\n";

/* The help of ts-in, with --hold and --run, or of ts-rd. */
static void
help(int take)
{
    char text[sizeof help_head + sizeof help_hold + sizeof help_mid + sizeof help_run +
              sizeof help_tail];

    snprintf(text, sizeof text, "%s%s%s%s%s", help_head, take ? help_hold : "", help_mid,
             take ? help_run : "", help_tail);
    ts_help(take ? usage_in : usage_rd, text);
}

int
ts_cli_query(int argc, char **argv, int take)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},    {"hold", no_argument, NULL, 'H'},
        {"run", no_argument, NULL, 'R'},     {"strings", no_argument, NULL, 'S'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    const char *usage = take ? usage_in : usage_rd;
    const char *sock = NULL, *jtext = NULL, *lastarg = NULL;
    struct ts_query q = {take ? "in" : "rd", NULL, -1, 1, 0};
    struct print_ctx p = {NULL, NULL, 0, TS_OUT_BOUND, 0};
    size_t i;
    struct ts_conn *conn;
    json_t *tmpl;
    char err[400];
    int ch, rc, jflag = 0, qflag = 0, flags = 0, hold = 0, run = 0, nfields;

    ts_cli_init(take ? "ts-in" : "ts-rd");
    argv[0] = take ? "ts-in" : "ts-rd"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+0ahjn:qSs:t:", longopts, NULL)) != -1) {
        lastarg = optarg;
        switch (ch) {
        case '0': p.mode = TS_OUT_NUL; break;
        case 'a': q.all = 1; break;
        case 'h': help(take);
        case 'H':
        case 'R':
            if (!take) {
                ts_warn("unrecognized option '--%s'", ch == 'H' ? "hold" : "run");
                ts_usage(usage);
            }
            *(ch == 'H' ? &hold : &run) = 1;
            break;
        case 'j': jflag = 1; break;
        case 'n': q.count = ts_parse_count(optarg); break;
        case 'q': qflag = 1; break;
        case 'S': flags |= TS_WORDS_STRINGS; break;
        case 's': sock = optarg; break;
        case 't':
            if (ts_parse_seconds(optarg, &q.timeout) < 0)
                ts_die(TS_EXIT_USAGE, "bad timeout '%s': seconds from 0 to 1e9 are needed", optarg);
            break;
        case 'V': ts_version();
        default: ts_usage(usage);
        }
    }
    /* With --run or --hold the fields end at "--": the command's words are its own. */
    for (nfields = optind; (hold || run) && nfields < argc && strcmp(argv[nfields], "--") != 0;
         nfields++)
        ;
    ts_cli_fields(hold || run ? nfields : argc, argv, optind, lastarg);
    argc -= optind;
    argv += optind;
    if (hold && run)
        ts_die(TS_EXIT_USAGE, "--hold and --run cannot be used together");
    if ((hold || run) && (q.all || q.count != 1 || p.mode == TS_OUT_NUL || qflag))
        ts_die(TS_EXIT_USAGE,
               "--%s takes one tuple and prints nothing: -0, -a, -n and -q do not apply",
               hold ? "hold" : "run");
    if (hold || run)
        return ts_cli_hold(run, argc, argv, sock, q.timeout, jflag, flags, usage);
    if (argc == 0)
        ts_usage(usage);
    /* -j with one argument that is a JSON array: the template itself. */
    if (jflag && argc == 1 && argv[0][0] == '[') {
        if (flags & TS_WORDS_STRINGS)
            ts_die(TS_EXIT_USAGE, "-S and a -j template cannot be used together");
        jtext = argv[0];
        tmpl = ts_json_template(jtext, err, sizeof err);
    } else {
        tmpl = ts_words_template_flags(argv, argc, flags, err, sizeof err);
    }
    if (tmpl == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    if (jflag && p.mode != TS_OUT_NUL)
        p.mode = TS_OUT_JSON;
    if (qflag)
        p.mode = TS_OUT_QUIET;
    q.tmpl = tmpl;
    p.tmpl = tmpl;
    p.formal = ts_xmalloc(json_array_size(tmpl));
    p.nformal = (uint32_t)json_array_size(tmpl);
    for (i = 0; i < json_array_size(tmpl); i++)
        p.formal[i] = (char)ts_tmpl_binds(json_array_get(tmpl, i));
    conn = ts_cli_connect(sock, NULL, 0);
    rc = ts_query(conn, &q, print_one, &p, err, sizeof err);
    if (rc != TS_EXIT_OK && rc != TS_EXIT_NOMATCH && !p.failed)
        ts_warn("%s", err);
    ts_conn_close(conn);
    json_decref(tmpl);
    free(p.formal);
    return rc;
}
