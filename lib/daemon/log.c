/*
 * log.c: the daemon's log (see log.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

/*
 * A log in a shared directory could be a file another user made first, or
 * a link to one: the daemon would then write there, its workers' output
 * included.  O_NONBLOCK keeps a FIFO from holding us up until we refuse it.
 */
int
ts_log_open(const char *path, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);

    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, errlen, "log %s: is a symbolic link", path);
        else if (errno == ENXIO)
            snprintf(err, errlen, "log %s: not a regular file", path);
        else
            snprintf(err, errlen, "cannot open log %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot open log %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "log %s: not a regular file", path);
    } else if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "log %s: owned by uid %lu, not by us", path,
                 (unsigned long)st.st_uid);
    } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen, "log %s: writable by group or others (chmod go-w)", path);
    } else if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) < 0) {
        snprintf(err, errlen, "cannot open log %s: %s", path, strerror(errno));
    } else {
        return fd;
    }
    close(fd);
    return -1;
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
