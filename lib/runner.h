/*
 * runner.h: the loop a worker process runs (see worker.h for the daemon's
 * side), and the placeholders of ts-eval.
 *
 * A worker is an ordinary client of the daemon.  With a take template it
 * loops: take a tuple, run COMMAND with the placeholders filled in and the
 * tuple as its stdin, put the --put tuple, and only then confirm the taken
 * tuple, so a worker that dies mid-job gives its tuple back.  A command
 * that fails is not a dead worker: the worker puts
 * ["ts.error", NAME, PID, STATUS, STDERR_TAIL, TUPLE] and goes on.
 * Without a take template it runs COMMAND once, puts the --put tuple, and
 * exits with COMMAND's status.
 *
 * Placeholders: {N} field N (from 1) of the taken tuple, {} the whole tuple
 * as JSON, {status} the exit status (128+N for signal N), {stdout} the
 * standard output less its final newline; {{ is a literal {.  In COMMAND's
 * arguments only {N} and {} may appear.  A --put word that is exactly one
 * placeholder keeps the value's JSON type; any other word with a
 * placeholder becomes a string; words without one are read as usual.
 */
#ifndef TS_RUNNER_H
#define TS_RUNNER_H

#include <jansson.h>
#include <stddef.h>

#define TS_TAIL_MAX 4096          /* bytes of stderr kept for ts.error */
#define TS_STDOUT_MAX (4u << 20)  /* bytes of stdout kept for {stdout} */

struct ts_runspec {
    const char *name;   /* the workers' name */
    int index;          /* this worker's index, from 0 */
    const char *socket; /* the daemon's socket */
    char **argv;        /* COMMAND, NULL-terminated, may hold placeholders */
    json_t *take;       /* wire template, or NULL */
    char **put;         /* --put words, NULL-terminated, or NULL */
};

/*
 * Check the placeholders of a command and a --put word list against the
 * arity of the take template (0 without one).  -1 with err if misused.
 */
int ts_placeholders_check(char *const *argv, char *const *put, size_t take_arity, char *err,
                          size_t errlen);

/* Run the worker; the process exits from here. */
void ts_runner_main(const struct ts_runspec *spec) __attribute__((noreturn));

#endif
