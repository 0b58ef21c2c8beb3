/*
 * ts-eval: have the daemon start and supervise workers, or stop them.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mem.h"
#include "placeholder.h"
#include "wire.h"

#define USAGE                                                                                      \
    "ts-eval [-h] [-n count] [--name name] [--put fields] [-s socket] [--take fields] -- "         \
    "command [arg ...]\n       ts-eval [-g seconds] [-s socket] -k name"

static const char help_text[] =
    "  -g seconds     with -k: time between SIGTERM and SIGKILL (default 5)\n"
    "  -h, --help     show this help\n"
    "  -k name        stop the workers called name and wait until they are gone\n"
    "  -n count       start count workers (default 1)\n"
    "  --name name    call them name (default: the command's base name)\n"
    "  --put fields   put this tuple when the command ends\n"
    "  -s socket      the daemon's socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "                 /tmp/ts-UID/default)\n"
    "  --take fields  loop: take a tuple matching this template, run the command on it\n"
    "  --version      show the version\n"
    "\nPlaceholders in the command and --put: {N} field N of the taken tuple, {} the whole\n"
    "tuple as JSON; in --put also {status} and {stdout}.  Prints the name, then one pid per\n"
    "line.  Exit: 0 done, 1 no workers of that name, 2 usage or a command that cannot be\n"
    "run, 3 daemon unreachable, 4 other failure.\n";

extern char **environ;

static int stop(struct ts_conn *conn, const char *name, double grace);
static json_t *split(const char *what, const char *text, int tmpl, char ***words);

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},      {"name", required_argument, NULL, 'N'},
        {"put", required_argument, NULL, 'P'}, {"take", required_argument, NULL, 'T'},
        {"version", no_argument, NULL, 'V'},   {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *name = NULL, *kill = NULL, *take = NULL, *put = NULL;
    char **putw = NULL, **takew = NULL, err[400], cwd[PATH_MAX], *end, *base, *defname = NULL;
    json_t *req, *reply, *env, *args, *tmpl = NULL, *putj = NULL, *v;
    struct ts_conn *conn;
    double grace = -1;
    long count = 1;
    int ch, rc, i;
    size_t k;

    ts_cli_init("ts-eval");
    argv[0] = "ts-eval"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "+g:hk:n:s:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'g':
            if (ts_parse_seconds(optarg, &grace) < 0 || grace > TS_GRACE_MAX)
                ts_die(TS_EXIT_USAGE, "bad grace period '%s': seconds from 0 to %g", optarg,
                       TS_GRACE_MAX);
            break;
        case 'h': ts_help(USAGE, help_text);
        case 'k': kill = optarg; break;
        case 'n':
            errno = 0;
            count = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || count < 1 || count > TS_EVAL_MAX)
                ts_die(TS_EXIT_USAGE, "bad count '%s': 1 to %d workers", optarg, TS_EVAL_MAX);
            break;
        case 'N': name = optarg; break;
        case 'P': put = optarg; break;
        case 's': sock = optarg; break;
        case 'T': take = optarg; break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    argc -= optind;
    argv += optind;
    if (kill != NULL) {
        if (argc > 0 || name != NULL || put != NULL || take != NULL || count != 1)
            ts_die(TS_EXIT_USAGE, "-k takes no command, -n, --name, --put or --take");
        conn = ts_cli_connect(sock, NULL, 0);
        rc = stop(conn, kill, grace);
        ts_conn_close(conn);
        return rc;
    }
    if (grace >= 0)
        ts_die(TS_EXIT_USAGE, "-g goes with -k");
    if (argc == 0)
        ts_usage(USAGE);
    if (take != NULL)
        tmpl = split("--take", take, 1, &takew);
    if (put != NULL)
        putj = split("--put", put, 0, &putw);
    if (ts_placeholders_check((const char *const *)argv, (const char *const *)putw,
                              tmpl != NULL ? json_array_size(tmpl) : 0, err, sizeof err) < 0)
        ts_die(TS_EXIT_USAGE, "%s", err);
    if (getcwd(cwd, sizeof cwd) == NULL)
        ts_die(TS_EXIT_FAIL, "cannot tell the current directory: %s", strerror(errno));
    if (name == NULL) {
        base = ts_xstrdup(argv[0]);
        name = defname = ts_xstrdup(basename(base));
        free(base);
    }
    env = json_array();
    for (i = 0; environ[i] != NULL; i++)
        if ((v = json_string(environ[i])) != NULL) /* skip what is not UTF-8 */
            json_array_append_new(env, v);
    args = json_array();
    for (i = 0; i < argc; i++) {
        if ((v = json_string(argv[i])) == NULL)
            ts_die(TS_EXIT_USAGE, "argument '%s' is not valid UTF-8", argv[i]);
        json_array_append_new(args, v);
    }
    req = json_pack("{s:s, s:s, s:i, s:o, s:s, s:o}", "op", "eval", "name", name, "n", (int)count,
                    "argv", args, "cwd", cwd, "env", env);
    if (tmpl != NULL)
        json_object_set_new(req, "take", tmpl);
    if (putj != NULL)
        json_object_set_new(req, "put", putj);
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
    free(defname);
    ts_conn_close(conn);
    return rc;
}

/* FIELDS is one shell word holding blank-separated fields. */
static json_t *
split(const char *what, const char *text, int tmpl, char ***words)
{
    char err[400];
    json_t *v;
    int n = ts_split_words(text, words, err, sizeof err), i;

    if (n < 0)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': %s", what, text, err);
    if (n == 0)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': no fields", what, text);
    if (tmpl) {
        v = ts_words_template(*words, n, err, sizeof err);
        if (v == NULL)
            ts_die(TS_EXIT_USAGE, "%s: %s", what, err);
        return v;
    }
    v = json_array();
    for (i = 0; i < n; i++) {
        json_t *s = json_string((*words)[i]);

        if (s == NULL)
            ts_die(TS_EXIT_USAGE, "bad %s '%s': not valid UTF-8", what, text);
        json_array_append_new(v, s);
    }
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
