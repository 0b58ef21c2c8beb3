/*
 * notify.c: the sd_notify protocol, sender side (see notify.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int
ts_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t n;
    ssize_t sent;
    int fd, saved;

    if (path == NULL || path[0] == '\0')
        return 0;
    n = strlen(path);
    /* A path, or an abstract address; systemd's other kinds (vsock) are not ours. */
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the name is the n bytes, without a NUL after */
    else
        n++;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    do
        sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    while (sent < 0 && errno == EINTR);
    saved = errno;
    close(fd);
    errno = saved;
    return sent < 0 ? -1 : 1;
}
