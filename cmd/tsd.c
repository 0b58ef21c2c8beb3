/*
 * tsd: the tuple space daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "journal.h"
#include "log.h"
#include "mem.h"
#include "notify.h"
#include "server.h"

#define USAGE                                                                                      \
    "tsd [-dhk] [-D dir] [-l logfile] [-m bytes] [-s socket] [--batch-ms ms]\n"                    \
    "           [--compact-min bytes] [--sync always|batch|none]\n"                                \
    "       tsd [-l logfile] [-m bytes] [-s socket] -- command [arg ...]\n"                        \
    "       tsd --check dir [--fix]"

static const char help_text[] =
    "  -D, --data dir\n"
    "                keep the space durably in dir (created mode 0700), replaying it at start\n"
    "  -d            run in the background; print shell commands that set TS_SOCKET and\n"
    "                TSD_PID (use: eval \"$(tsd -d)\")\n"
    "  -h, --help    show this help\n"
    "  -k            stop the daemon on the socket and wait until it is gone\n"
    "  -l, --log logfile\n"
    "                where a background daemon and its workers log (default: nowhere)\n"
    "  -m bytes      longest request line accepted (default 16777216)\n"
    "  -s socket     the socket (default: $TS_SOCKET, $XDG_RUNTIME_DIR/ts/default,\n"
    "                /tmp/ts-UID/default; with -- command, a new private one)\n"
    "  --batch-ms ms with --sync batch: longest a change waits for its sync (default 100)\n"
    "  --check dir   describe the durable space in dir; exit 1 if it is damaged\n"
    "  --compact-min bytes\n"
    "                rewrite the log only once it is at least this big (default 1048576)\n"
    "  --fix         with --check: truncate a damaged log at its first bad record\n"
    "  --sync always|batch|none\n"
    "                with -D: reply once the change is on disk (always, the default), sync\n"
    "                every --batch-ms (batch), or leave syncing to the system (none)\n"
    "  --version     show the version\n"
    "  -- command    run command with TS_SOCKET set to a space of its own, which stops\n"
    "                when it exits; tsd exits with the command's status\n"
    "\nExit: 0 done, 1 damaged (--check), 2 usage, socket or directory refused, 3 no daemon\n"
    "to stop, 4 other failure.\n";

enum { OPT_BATCH = 256, OPT_CHECK, OPT_COMPACT, OPT_FIX, OPT_SYNC };

static int check(const char *dir, int fix);
static unsigned long long number(const char *s, unsigned long long lo, unsigned long long hi,
                                 const char *what);
static int stop_daemon(const char *path);
static void worker_program(char *out, size_t outlen);
static void print_quoted(const char *s);
static int absolute(char *path);
static void detach(struct ts_server *srv, int logfd);
static void private_socket(char *path, size_t pathlen, char *dir, size_t dirlen);
static int run_command(struct ts_server *srv, const char *path, const char *dir, int logfd,
                       char **cmd);
static void failed_eval(int status, void *arg);
static int stop_quietly(const char *path);

/* Set once the parent of tsd -d has printed its assignments, or in the daemon itself. */
static int eval_done;

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"batch-ms", required_argument, NULL, OPT_BATCH},
        {"check", required_argument, NULL, OPT_CHECK},
        {"compact-min", required_argument, NULL, OPT_COMPACT},
        {"data", required_argument, NULL, 'D'},
        {"fix", no_argument, NULL, OPT_FIX},
        {"help", no_argument, NULL, 'h'},
        {"log", required_argument, NULL, 'l'},
        {"sync", required_argument, NULL, OPT_SYNC},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const char optstring[] = "+D:dhkl:m:s:";
    const char *sock = NULL, *logfile = NULL, *data = NULL, *checkdir = NULL;
    char path[TS_PATH_MAX + 1], dir[TS_PATH_MAX + 1] = "", err[400], helper[4096];
    unsigned long long maxline = TS_MAXLINE_DEFAULT;
    struct ts_journal_opts jo = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    struct ts_server *srv;
    int ch, dflag = 0, kflag = 0, fix = 0, durable_opts = 0, logfd = -1, dashdash;
    pid_t pid;

    ts_cli_init("tsd");
    argv[0] = "tsd"; /* getopt's messages name the command */
    /*
     * eval "$(tsd -d)" runs whatever tsd prints: when tsd -d fails, it
     * prints a command that fails too, or eval would return 0 (see
     * failed_eval).  -d is looked for first, so that even a usage error
     * in the options before it is seen by eval.
     */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1)
        dflag |= ch == 'd';
    opterr = 1;
    optind = 0;
    if (dflag && !isatty(STDOUT_FILENO))
        on_exit(failed_eval, NULL);
    while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        switch (ch) {
        case 'D': data = optarg; break;
        case 'd': dflag = 1; break;
        case 'h': ts_help(USAGE, help_text);
        case 'k': kflag = 1; break;
        case 'l': logfile = optarg; break;
        case 'm': maxline = number(optarg, 64, 1ull << 32, "bytes"); break;
        case 's': sock = optarg; break;
        case OPT_BATCH:
            jo.batch_ms = (unsigned)number(optarg, 1, 60000, "milliseconds");
            durable_opts = 1;
            break;
        case OPT_CHECK: checkdir = optarg; break;
        case OPT_COMPACT:
            jo.compact_min = number(optarg, 1, 1ull << 50, "bytes");
            durable_opts = 1;
            break;
        case OPT_FIX: fix = 1; break;
        case OPT_SYNC:
            if (strcmp(optarg, "always") == 0)
                jo.sync = TS_JOURNAL_ALWAYS;
            else if (strcmp(optarg, "batch") == 0)
                jo.sync = TS_JOURNAL_BATCH;
            else if (strcmp(optarg, "none") == 0)
                jo.sync = TS_JOURNAL_NONE;
            else
                ts_die(TS_EXIT_USAGE, "bad sync policy '%s': always, batch or none", optarg);
            durable_opts = 1;
            break;
        case 'V': ts_version();
        default: ts_usage(USAGE);
        }
    }
    dashdash = optind > 1 && optind <= argc && strcmp(argv[optind - 1], "--") == 0 &&
               argv[optind - 1] != sock && argv[optind - 1] != logfile;
    if ((optind != argc && !dashdash) || (dashdash && optind == argc) || (kflag && dflag) ||
        (dashdash && (kflag || dflag)))
        ts_usage(USAGE);
    if (checkdir != NULL) {
        if (dflag || kflag || dashdash || data != NULL || logfile != NULL || sock != NULL ||
            durable_opts)
            ts_die(TS_EXIT_USAGE, "--check takes no other option but --fix");
        return check(checkdir, fix);
    }
    if (fix)
        ts_die(TS_EXIT_USAGE, "--fix goes with --check");
    if (durable_opts && data == NULL)
        ts_die(TS_EXIT_USAGE, "--batch-ms, --compact-min and --sync go with -D");
    if (kflag && data != NULL)
        ts_die(TS_EXIT_USAGE, "-k takes no -D");
    /* A command's private space goes with the command: there is nothing to keep. */
    if (dashdash && data != NULL)
        ts_die(TS_EXIT_USAGE, "-D does not go with -- command");
    if (dashdash && sock == NULL)
        private_socket(path, sizeof path, dir, sizeof dir);
    else if (ts_socket_path(sock, path, err, sizeof err) != TS_EXIT_OK)
        ts_die(TS_EXIT_USAGE, "%s", err);
    if (absolute(path) < 0)
        ts_die(TS_EXIT_USAGE,
               "socket path %s: too long once made absolute, or no current "
               "directory",
               path);
    if (kflag)
        return stop_daemon(path);

    if (logfile != NULL) {
        logfd = ts_log_open(logfile, err, sizeof err);
        if (logfd < 0)
            ts_die(TS_EXIT_USAGE, "%s", err);
    }
    worker_program(helper, sizeof helper);
    srv = ts_server_new(path, (size_t)maxline, helper, err, sizeof err);
    if (srv == NULL) {
        if (dir[0] != '\0')
            rmdir(dir);
        ts_die(TS_EXIT_USAGE, "%s", err);
    }
    /* Replayed before the fork: a directory that cannot be used fails tsd -d itself. */
    if (data != NULL && ts_server_durable(srv, data, &jo, err, sizeof err) < 0) {
        unlink(path);
        ts_server_detach(srv);
        ts_die(TS_EXIT_USAGE, "%s", err);
    }
    if (dashdash)
        return run_command(srv, path, dir, logfd, argv + optind);
    if (dflag) {
        /* The socket already listens: a client may connect as soon as we print. */
        fflush(stdout);
        pid = fork();
        if (pid < 0)
            ts_die(TS_EXIT_FAIL, "fork: %s", strerror(errno));
        if (pid > 0) {
            printf("TS_SOCKET=");
            print_quoted(path);
            printf("; export TS_SOCKET; TSD_PID=%ld; export TSD_PID;\n", (long)pid);
            if (fflush(stdout) != 0)
                return TS_EXIT_FAIL;
            eval_done = 1;
            /* The caller's eval need not wait while a replayed space is freed. */
            fclose(stdout);
            ts_server_detach(srv);
            return TS_EXIT_OK;
        }
        eval_done = 1;
        detach(srv, logfd);
    } else if (logfd >= 0) {
        dup2(logfd, 2);
        close(logfd);
    }
    /* From here on the daemon logs, and running out of memory is logged there. */
    ts_mem_fatal(ts_log_oom);
    /* Under a service manager (Type=notify): the socket accepts connections now. */
    if (!dflag) {
        snprintf(err, sizeof err, "READY=1\nSTATUS=listening on %s", path);
        if (ts_notify(err) < 0)
            ts_log("cannot notify $NOTIFY_SOCKET: %s", strerror(errno));
    }
    if (ts_server_run(srv, err, sizeof err) < 0)
        ts_die(TS_EXIT_FAIL, "%s", err);
    return TS_EXIT_OK;
}

/*
 * tsd -d failed before printing its assignments: print a command that
 * fails with the same status, so that eval "$(tsd -d)" fails too.  Only
 * when the output is not a terminal, which nobody evals.
 */
static void
failed_eval(int status, void *arg)
{
    (void)arg;
    if (status != 0 && !eval_done)
        printf("(exit %d)\n", status);
}

/*
 * Become a daemon in the background: a session of its own (no terminal's
 * signals), /dev/null for input and output, the log for errors, no other
 * descriptor of the caller's, and / as the directory.
 */
static void
detach(struct ts_server *srv, int logfd)
{
    int null;

    setsid();
    null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(logfd >= 0 ? logfd : null, 2);
        if (null > 2)
            close(null);
    }
    if (logfd > 2)
        close(logfd);
    /* Whatever else the caller left open (a test runner's pipe, say) is not ours. */
    ts_server_close_others(srv);
    if (chdir("/") < 0)
        (void)0;
}

/*
 * The socket of tsd -- command without -s: in a new directory of its own
 * (mode 0700), in $XDG_RUNTIME_DIR if that is an absolute path, else in
 * /tmp.  dir gets the directory, to be removed at the end.
 */
static void
private_socket(char *path, size_t pathlen, char *dir, size_t dirlen)
{
    const char *base = getenv("XDG_RUNTIME_DIR");
    int n;

    if (base == NULL || base[0] != '/')
        base = "/tmp";
    n = snprintf(dir, dirlen, "%s/tsd.XXXXXX", base);
    if ((n < 0 || (size_t)n >= dirlen - 6) && strcmp(base, "/tmp") != 0)
        n = snprintf(dir, dirlen, "/tmp/tsd.XXXXXX");
    if (n < 0 || (size_t)n >= dirlen - 6 || mkdtemp(dir) == NULL)
        ts_die(TS_EXIT_FAIL, "cannot make a private directory for the socket: %s", strerror(errno));
    n = snprintf(path, pathlen, "%s/sock", dir);
    if (n < 0 || (size_t)n >= pathlen) {
        rmdir(dir);
        ts_die(TS_EXIT_USAGE, "socket path %s/sock: too long", dir);
    }
}

/* Signals tsd -- command passes on to the command. */
static volatile sig_atomic_t command_pid;

static void
forward(int sig)
{
    if (command_pid > 0)
        kill((pid_t)command_pid, sig);
}

/*
 * tsd -- command: the daemon runs in a child process of its own, in the
 * background as with -d, and dies with this process (PR_SET_PDEATHSIG)
 * even if this one is killed.  This process runs the command with
 * TS_SOCKET and TSD_PID set, waits for it, stops the daemon (and its
 * workers) as tsd -k does, and exits with the command's status, 128 + N
 * for a command killed by signal N, as a shell reports it.
 */
static int
run_command(struct ts_server *srv, const char *path, const char *dir, int logfd, char **cmd)
{
    struct sigaction sa, ign, old_int, old_quit;
    pid_t self = getpid(), daemon, child;
    char num[32], err[400];
    int status = 0, code;

    fflush(NULL);
    daemon = fork();
    if (daemon < 0)
        ts_die(TS_EXIT_FAIL, "fork: %s", strerror(errno));
    if (daemon == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != self)
            _exit(0); /* the command's tsd is already gone */
        detach(srv, logfd);
        ts_mem_fatal(ts_log_oom);
        if (ts_server_run(srv, err, sizeof err) < 0)
            ts_die(TS_EXIT_FAIL, "%s", err);
        exit(TS_EXIT_OK);
    }
    ts_server_detach(srv);
    if (logfd >= 0)
        close(logfd);
    snprintf(num, sizeof num, "%ld", (long)daemon);
    setenv("TS_SOCKET", path, 1);
    setenv("TSD_PID", num, 1);
    /* As system(3) does: the command, in the foreground, takes ^C and ^\ itself. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    child = fork();
    if (child < 0) {
        ts_warn("fork: %s", strerror(errno));
        code = TS_EXIT_FAIL;
    } else if (child == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        execvp(cmd[0], cmd);
        code = errno == ENOENT ? 127 : 126;
        ts_warn("cannot run %s: %s", cmd[0], strerror(errno));
        _exit(code);
    } else {
        command_pid = child;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = forward;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    /* The space goes with the command: the daemon, then its workers. */
    if (stop_quietly(path) < 0)
        kill(daemon, SIGTERM);
    while (waitpid(daemon, &status, 0) < 0 && errno == EINTR)
        ;
    unlink(path); /* left if the daemon was killed */
    if (dir[0] != '\0')
        rmdir(dir);
    return code;
}

/*
 * tsd --check: the report on stdout; damage also gets a line on stderr, so
 * that it shows when the report goes elsewhere.
 */
static int
check(const char *dir, int fix)
{
    size_t cap = 1 << 16;
    char *report = ts_xmalloc(cap);
    int rc = ts_journal_check(dir, fix, report, cap);

    if (rc < 0) {
        /* The report says why (after what a failed fix did, if anything). */
        size_t n = strlen(report);

        while (n > 0 && report[n - 1] == '\n')
            report[--n] = '\0';
        ts_die(TS_EXIT_USAGE, "%s", report);
    }
    fputs(report, stdout);
    free(report);
    if (fflush(stdout) != 0)
        ts_die(TS_EXIT_FAIL, "cannot write the report: %s", strerror(errno));
    switch (rc) {
    case 0:
    case 2: return TS_EXIT_OK; /* 2: repaired, and the report says what was cut */
    default:
        ts_warn("%s is damaged%s", dir,
                fix ? " and cannot be repaired" : "; tsd --check --fix truncates its log there");
        return TS_EXIT_NOMATCH;
    }
}

/* A decimal option argument from lo to hi, or a usage error naming the unit. */
static unsigned long long
number(const char *s, unsigned long long lo, unsigned long long hi, const char *what)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < lo || v > hi)
        ts_die(TS_EXIT_USAGE, "bad %s '%s': %s from %llu to %llu are needed",
               strcmp(what, "bytes") == 0 ? "size" : "number", s, what, lo, hi);
    return v;
}

/* Gone, or a zombie waiting for its parent: either way, no longer running. */
static int
exited(pid_t pid)
{
    char path[64], stat[256], *p;
    FILE *fp;
    int gone = 1;

    if (kill(pid, 0) < 0)
        return errno == ESRCH;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return 1;
    if (fgets(stat, sizeof stat, fp) != NULL && (p = strrchr(stat, ')')) != NULL)
        gone = p[1] == ' ' && p[2] == 'Z';
    fclose(fp);
    return gone;
}

/*
 * Ask the daemon to stop, wait for it to close our connection (it has
 * removed its socket and stopped its workers by then), then for the
 * process itself to be gone.
 */
static int
stop_daemon(const char *path)
{
    json_t *req = json_pack("{s:s}", "op", "shutdown"), *reply;
    char err[400], buf[256];
    struct ts_conn *conn = ts_conn_open(path, err, sizeof err);
    pid_t pid = 0;
    int rc, i;

    if (conn == NULL) {
        json_decref(req);
        ts_die(TS_EXIT_CONN, "%s", err);
    }
    rc = ts_conn_call(conn, req, &reply, err, sizeof err);
    pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
    json_decref(req);
    json_decref(reply);
    if (rc != TS_EXIT_OK) {
        ts_conn_close(conn);
        ts_die(rc, "%s", err);
    }
    for (;;) {
        ssize_t n = read(ts_conn_fd(conn), buf, sizeof buf);

        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        break;
    }
    ts_conn_close(conn);
    for (i = 0; pid > 0 && i < 3000 && !exited(pid); i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    return TS_EXIT_OK;
}

/* Ask the daemon to shut down and wait until it closes the connection; -1 if none answers. */
static int
stop_quietly(const char *path)
{
    json_t *req = json_pack("{s:s}", "op", "shutdown"), *reply = NULL;
    char err[400], buf[256];
    struct ts_conn *conn = ts_conn_open(path, err, sizeof err);
    int rc = -1;

    if (conn != NULL && ts_conn_call(conn, req, &reply, err, sizeof err) == TS_EXIT_OK) {
        for (;;) {
            ssize_t n = read(ts_conn_fd(conn), buf, sizeof buf);

            if (n > 0 || (n < 0 && errno == EINTR))
                continue;
            break;
        }
        rc = 0;
    }
    ts_conn_close(conn);
    json_decref(req);
    json_decref(reply);
    return rc;
}

/*
 * Workers run ts-worker, from the directory tsd itself was run from: the
 * two are built and installed together.
 */
static void
worker_program(char *out, size_t outlen)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;

    if (n <= 0) {
        snprintf(out, outlen, "ts-worker");
        return;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    snprintf(out, outlen, "%.*s/ts-worker", (int)(slash - self), self);
}

/* Single quotes for the shell, so eval "$(tsd -d)" is safe with any path. */
static void
print_quoted(const char *s)
{
    putchar('\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

/* The daemon changes directory, and clients may start anywhere: no relative paths. */
static int
absolute(char *path)
{
    char cwd[4096], tmp[TS_PATH_MAX + 1];
    int n;

    if (path[0] == '/')
        return 0;
    if (getcwd(cwd, sizeof cwd) == NULL)
        return -1;
    n = snprintf(tmp, sizeof tmp, "%s/%s", cwd, path);
    if (n < 0 || n > TS_PATH_MAX)
        return -1;
    strcpy(path, tmp);
    return 0;
}
