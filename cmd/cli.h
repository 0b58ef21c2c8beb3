/*
 * cli.h: what the commands share: diagnostics, option values, printing
 * tuples, and the body of ts-in and ts-rd (which differ only in the op).
 */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <jansson.h>
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

/* Print a value (a tuple) in canonical text, on a line of its own. */
void ts_print_json(FILE *fp, const json_t *v);

/* The whole of ts-in (take = 1) and ts-rd (take = 0). */
int ts_cli_query(int argc, char **argv, int take);

/*
 * ts-in --run (run = 1) or --hold: argv is "field ... -- command [arg ...]",
 * flags those of ts_words_template_flags (hold.c).  Returns the exit status.
 */
int ts_cli_hold(int run, int argc, char **argv, const char *sock, double timeout, int whole,
                int flags, const char *usage);

#endif
