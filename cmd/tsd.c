/*
 * tsd: the tuple space daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "journal.h"
#include "log.h"
#include "mem.h"
#include "server.h"

#define USAGE                                                                                      \
    "tsd [-dhk] [-D dir] [-l logfile] [-m bytes] [-s socket] [--batch-ms ms]\n"                    \
    "           [--compact-min bytes] [--sync always|batch|none]\n"                                \
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
    "                /tmp/ts-UID/default)\n"
    "  --batch-ms ms with --sync batch: longest a change waits for its sync (default 100)\n"
    "  --check dir   describe the durable space in dir; exit 1 if it is damaged\n"
    "  --compact-min bytes\n"
    "                rewrite the log only once it is at least this big (default 1048576)\n"
    "  --fix         with --check: truncate a damaged log at its first bad record\n"
    "  --sync always|batch|none\n"
    "                with -D: reply once the change is on disk (always, the default), sync\n"
    "                every --batch-ms (batch), or leave syncing to the system (none)\n"
    "  --version     show the version\n"
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
    const char *sock = NULL, *logfile = NULL, *data = NULL, *checkdir = NULL;
    char path[TS_PATH_MAX + 1], err[400], helper[4096];
    unsigned long long maxline = TS_MAXLINE_DEFAULT;
    struct ts_journal_opts jo = {TS_JOURNAL_ALWAYS, 0, 0, 0, 0};
    struct ts_server *srv;
    int ch, dflag = 0, kflag = 0, fix = 0, durable_opts = 0, logfd = -1;
    pid_t pid;

    ts_cli_init("tsd");
    argv[0] = "tsd"; /* getopt's messages name the command */
    while ((ch = getopt_long(argc, argv, "D:dhkl:m:s:", longopts, NULL)) != -1) {
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
    if (optind != argc || (kflag && dflag))
        ts_usage(USAGE);
    if (checkdir != NULL) {
        if (dflag || kflag || data != NULL || logfile != NULL || sock != NULL || durable_opts)
            ts_die(TS_EXIT_USAGE, "--check takes no other option but --fix");
        return check(checkdir, fix);
    }
    if (fix)
        ts_die(TS_EXIT_USAGE, "--fix goes with --check");
    if (durable_opts && data == NULL)
        ts_die(TS_EXIT_USAGE, "--batch-ms, --compact-min and --sync go with -D");
    if (kflag && data != NULL)
        ts_die(TS_EXIT_USAGE, "-k takes no -D");
    /*
     * Whatever else the caller left open (a test runner's pipe, say) is not
     * the background daemon's; closed now, before the journal opens its own.
     */
    if (dflag)
        close_range(3, ~0u, 0);
    if (ts_socket_path(sock, path, err, sizeof err) != TS_EXIT_OK)
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
    if (srv == NULL)
        ts_die(TS_EXIT_USAGE, "%s", err);
    /* Replayed before the fork: a directory that cannot be used fails tsd -d itself. */
    if (data != NULL && ts_server_durable(srv, data, &jo, err, sizeof err) < 0) {
        unlink(path);
        ts_server_detach(srv);
        ts_die(TS_EXIT_USAGE, "%s", err);
    }
    if (dflag) {
        /* The socket already listens: a client may connect as soon as we print. */
        fflush(stdout);
        pid = fork();
        if (pid < 0)
            ts_die(TS_EXIT_FAIL, "fork: %s", strerror(errno));
        if (pid > 0) {
            int rc;

            printf("TS_SOCKET=");
            print_quoted(path);
            printf("; export TS_SOCKET; TSD_PID=%ld; export TSD_PID;\n", (long)pid);
            rc = fflush(stdout) == 0 ? TS_EXIT_OK : TS_EXIT_FAIL;
            /* The caller's eval need not wait while a replayed space is freed. */
            fclose(stdout);
            ts_server_detach(srv);
            return rc;
        }
        setsid();
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(logfd >= 0 ? logfd : null, 2);
            if (null > 2)
                close(null);
        }
        if (logfd > 2)
            close(logfd);
        if (chdir("/") < 0)
            (void)0;
    } else if (logfd >= 0) {
        dup2(logfd, 2);
        close(logfd);
    }
    /* From here on the daemon logs, and running out of memory is logged there. */
    ts_mem_fatal(ts_log_oom);
    if (ts_server_run(srv, err, sizeof err) < 0)
        ts_die(TS_EXIT_FAIL, "%s", err);
    return TS_EXIT_OK;
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
