/*
 * log.c: the daemon's log (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

void
ts_log(const char *fmt, ...)
{
    char stamp[32], msg[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tsd[%ld] %s.%03ldZ %s\n", (long)getpid(), stamp, ts.tv_nsec / 1000000, msg);
}

void
ts_log_oom(size_t size)
{
    char msg[80];
    int n = snprintf(msg, sizeof msg, "tsd: out of memory allocating %zu bytes\n", size);

    /* No stdio here: it might itself need memory. */
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(111);
    _exit(111);
}

double
ts_wall_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
