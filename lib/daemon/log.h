/*
 * log.h: the daemon's log: one line per event on stderr, which tsd points
 * at its log file (tsd -l), with the time and the daemon's pid.
 *
 * This is also where the daemon's one fatal error lives: running out of
 * memory.  ts_log_oom is the handler tsd installs with ts_mem_fatal (mem.h);
 * it logs one line and exits 111.  No other daemon function exits.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stddef.h>

void ts_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Open (or create, mode 0600) the log file for appending, with the rules
 * of the socket's directory: not a symbolic link, a regular file, owned by
 * us, writable by nobody else.  Returns the descriptor, or -1 with err.
 */
int ts_log_open(const char *path, char *err, size_t errlen);

/* The daemon's out-of-memory handler. */
void ts_log_oom(size_t size) __attribute__((noreturn));

/* Wall-clock time in seconds since the epoch. */
double ts_wall_clock(void);

#endif
