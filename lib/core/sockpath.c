/*
 * sockpath.c: socket path resolution, directory checks, connect and listen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockpath.h"

static int check_dir(const char *dir, char *err, size_t errlen);
static int make_addr(const char *path, struct sockaddr_un *sa);

int
ts_sock_path(const char *explicit, char *out, char *err, size_t errlen)
{
    const char *env, *rt;
    int n;

    if (explicit != NULL)
        n = snprintf(out, TS_PATH_MAX + 1, "%s", explicit);
    else if ((env = getenv("TS_SOCKET")) != NULL && *env != '\0')
        n = snprintf(out, TS_PATH_MAX + 1, "%s", env);
    else if ((rt = getenv("XDG_RUNTIME_DIR")) != NULL && *rt == '/')
        n = snprintf(out, TS_PATH_MAX + 1, "%s/ts/default", rt);
    else
        n = snprintf(out, TS_PATH_MAX + 1, "/tmp/ts-%lu/default", (unsigned long)getuid());
    if (n < 0 || n > TS_PATH_MAX) {
        snprintf(err, errlen, "socket path too long (at most %d bytes)", TS_PATH_MAX);
        return -1;
    }
    if (*out == '\0') {
        snprintf(err, errlen, "empty socket path");
        return -1;
    }
    return 0;
}

static int
make_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) > TS_PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

int
ts_sock_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd, saved;

    if (make_addr(path, &sa) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno == EINTR)
            continue;
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* The directory must be ours, real, and closed to others. */
static int
check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(dir, &st) < 0) {
        if (errno != ENOENT || mkdir(dir, 0700) < 0 || lstat(dir, &st) < 0) {
            snprintf(err, errlen, "socket directory %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "socket directory %s is a symbolic link", dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "socket directory %s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != getuid()) {
        snprintf(err, errlen, "socket directory %s is owned by uid %lu, not by us (%lu)", dir,
                 (unsigned long)st.st_uid, (unsigned long)getuid());
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen, "socket directory %s is writable by group or others (mode %03o)", dir,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

int
ts_sock_listen(const char *path, char *err, size_t errlen)
{
    char dir[TS_PATH_MAX + 1], *slash;
    struct sockaddr_un sa;
    struct stat st;
    mode_t mask;
    int fd, rc;

    if (make_addr(path, &sa) < 0) {
        snprintf(err, errlen, "socket path too long (at most %d bytes)", TS_PATH_MAX);
        return -1;
    }
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        strcpy(dir, ".");
    if (check_dir(dir, err, errlen) < 0)
        return -1;

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return -1;
        }
        fd = ts_sock_connect(path);
        if (fd >= 0) {
            close(fd);
            snprintf(err, errlen, "a daemon is already listening on %s", path);
            return -1;
        }
        if (errno != ECONNREFUSED) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        unlink(path); /* stale: its daemon died without removing it */
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    mask = umask(0177);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(mask);
    if (rc < 0 || listen(fd, SOMAXCONN) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
