/*
 * hold.c: ts-in --run and --hold: take a tuple and run a command while it
 * is lent, as flock(1) runs a command while it holds a lock.
 *
 * The tuple is taken and left unconfirmed: it is lent to this process's
 * connection (the confirm-before-taken rule), and goes back to the space
 * when the connection closes, however it closes.  The command inherits the
 * connection, as flock's command inherits the locked file: the hold lasts
 * until ts-in and the command, and whatever the command left running with
 * it, are all gone.  The command gets a parent-death signal, so killing
 * ts-in ends it too.
 *
 * --run confirms the take when the command exits 0: the tuple is then
 * gone for good.  --hold never confirms: the tuple always goes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"
#include "template.h"
#include "tuple.h"

static pid_t child;

static void
forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* The command's arguments: COMMAND [ARG...] and the values, or the tuple (-j). */
static char **
arguments(char **cmd, int ncmd, const json_t *tmpl, const json_t *tuple, int whole)
{
    size_t n = json_array_size(tuple), i, k = 0;
    char **v = ts_xcalloc((size_t)ncmd + n + 2, sizeof *v);
    int j;

    for (j = 0; j < ncmd; j++)
        v[k++] = ts_xstrdup(cmd[j]);
    for (i = 0; i < n; i++) {
        const json_t *f = json_array_get(tuple, i);
        struct ts_buf b = TS_BUF_INIT;

        if (!whole && !ts_tmpl_binds(json_array_get(tmpl, i)))
            continue;
        if (!whole && json_is_string(f)) {
            if (strlen(json_string_value(f)) != json_string_length(f))
                return NULL;
            v[k++] = ts_xstrdup(json_string_value(f));
            continue;
        }
        ts_canon(whole ? tuple : f, &b);
        v[k++] = ts_xstrndup(ts_buf_head(&b), ts_buf_len(&b));
        ts_buf_free(&b);
        if (whole)
            break;
    }
    return v;
}

/* In the child: follow ts-in in death, keep the connection, become the command. */
static void
become(char **argv, int connfd, pid_t parent, const char *tuple)
{
    int flags = fcntl(connfd, F_GETFD);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(128 + SIGKILL); /* ts-in died before we could ask to follow it */
    if (flags >= 0)
        fcntl(connfd, F_SETFD, flags & ~FD_CLOEXEC);
    setenv("TS_TUPLE", tuple, 1);
    execvp(argv[0], argv);
    dprintf(2, "ts-in: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

int
ts_cli_hold(int run, int argc, char **argv, const char *sock, double timeout, int whole, int flags,
            const char *usage)
{
    struct sigaction fwd, ign;
    struct ts_conn *conn;
    struct ts_buf text = TS_BUF_INIT;
    json_t *tmpl, *tuple;
    char err[400], **args;
    uint64_t id;
    int nfields, rc, st;
    pid_t parent = getpid();

    for (nfields = 0; nfields < argc && strcmp(argv[nfields], "--") != 0; nfields++)
        ;
    if (nfields == 0 || nfields >= argc - 1)
        ts_usage(usage);
    if (whole && nfields == 1 && argv[0][0] == '[') {
        if (flags & TS_WORDS_STRINGS)
            ts_die(TS_EXIT_USAGE, "-S and a -j template cannot be used together");
        tmpl = ts_json_template(argv[0], err, sizeof err);
    } else {
        tmpl = ts_words_template_flags(argv, nfields, flags, err, sizeof err);
    }
    if (tmpl == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    conn = ts_cli_connect(sock, NULL, 0);
    rc = ts_take(conn, tmpl, timeout, &tuple, &id, err, sizeof err);
    if (rc != TS_EXIT_OK) {
        if (rc != TS_EXIT_NOMATCH)
            ts_warn("%s", err);
        return rc;
    }
    args = arguments(argv + nfields + 1, argc - nfields - 1, tmpl, tuple, whole);
    if (args == NULL)
        ts_die(TS_EXIT_FAIL, "a value holds a NUL byte and cannot be an argument; the tuple "
                             "goes back");
    ts_canon(tuple, &text);
    ts_buf_add(&text, "", 1);
    fflush(stdout);
    fflush(stderr);
    child = fork();
    if (child < 0)
        ts_die(TS_EXIT_FAIL, "fork: %s", strerror(errno));
    if (child == 0)
        become(args, ts_conn_fd(conn), parent, ts_buf_head(&text));
    /* As system(3): the terminal's ^C and ^\ are for the command; the others we pass on. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGQUIT, &ign, NULL);
    memset(&fwd, 0, sizeof fwd);
    fwd.sa_handler = forward;
    sigaction(SIGTERM, &fwd, NULL);
    sigaction(SIGHUP, &fwd, NULL);
    while (waitpid(child, &st, 0) < 0)
        if (errno != EINTR)
            ts_die(TS_EXIT_FAIL, "waitpid: %s", strerror(errno));
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (run && rc == 0 && ts_confirm(conn, id, err, sizeof err) != TS_EXIT_OK) {
        ts_warn("the command succeeded, but the take cannot be confirmed: %s", err);
        rc = TS_EXIT_CONN;
    }
    ts_conn_close(conn);
    json_decref(tuple);
    json_decref(tmpl);
    ts_buf_free(&text);
    for (nfields = 0; args[nfields] != NULL; nfields++)
        free(args[nfields]);
    free(args);
    return rc;
}
