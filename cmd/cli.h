/*
 * cli.h: what the commands share: diagnostics, option values, printing
 * tuples, and the body of ts-in and ts-rd (which differ only in the op).
 */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "ts.h"

#define TS_VERSION "0.2.0"

/* Set the name diagnostics are prefixed with. */
void ts_cli_init(const char *name);
/* "name: message" on stderr. */
void ts_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ts_warn, then exit with status. */
void ts_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* "usage: USAGE" on stderr, exit 2. */
void ts_usage(const char *usage) __attribute__((noreturn));
/* USAGE and a description on stdout, exit 0. */
void ts_help(const char *usage, const char *text) __attribute__((noreturn));
/* "name VERSION" on stdout, exit 0. */
void ts_version(void) __attribute__((noreturn));

/* Parse a non-negative number of seconds (fractions allowed); -1 if bad. */
int ts_parse_seconds(const char *s, double *out);
/* The count of an -n option: a positive integer, or exit 2 naming it. */
long ts_parse_count(const char *s);

/*
 * The field words that follow the options: exits 2 when one looks like an
 * option given too late (ts-in job '?' -t 1), unless "--" ended the
 * options.  lastarg is the argument of the last option getopt returned
 * (NULL if none), so that "-s --" is not taken for the end of options.
 */
void ts_cli_fields(int argc, char **argv, int optind_, const char *lastarg);

/* Resolve -s PATH / $TS_SOCKET / defaults and connect; exits 3 on failure. */
struct ts_conn *ts_cli_connect(const char *explicit, char *path, size_t pathlen);

/* Seconds on the monotonic clock, for deadlines. */
double ts_cli_clock(void);
/* The timeout of poll(2) for left seconds: rounded up, 0 when none are left, at most INT_MAX. */
int ts_cli_poll_ms(double left);
/*
 * poll(2) that cannot miss a signal: the signals in caught are blocked
 * while woken() is asked whether one has come already (their handlers set
 * what it reads), and let in only during the wait itself, as ppoll(2)
 * does.  Returns as poll does, -1 with EINTR when woken() said yes.
 */
int ts_cli_poll(struct pollfd *p, nfds_t n, int ms, const sigset_t *caught, int (*woken)(void));

/* Flush stdout: TS_EXIT_OK, or TS_EXIT_FAIL once a write failed, after saying so. */
int ts_cli_flush(void);

/* Print a value (a tuple) in canonical text, on a line of its own. */
void ts_print_json(FILE *fp, const json_t *v);

/*
 * The wire template of ts-in's and ts-rd's field words, or of their one
 * -j JSON array (jflag); flags those of ts_words_template_flags.  Exits 2
 * when it is bad.
 */
json_t *ts_cli_template(int argc, char **argv, int jflag, int flags);

/* The whole of ts-in (take = 1) and ts-rd (take = 0). */
int ts_cli_query(int argc, char **argv, int take);

/*
 * ts-in --run (run = 1) or --hold: argv is "field ... -- command [arg ...]"
 * with nfields fields before the "--" (which may be missing), flags those of
 * ts_words_template_flags (hold.c).  Returns the exit status.
 */
int ts_cli_hold(int run, int argc, char **argv, int nfields, const char *sock, double timeout,
                int whole, int flags, const char *usage);

#endif
