/*
 * sockpath.h: where the socket is, and making it safely.
 *
 * The path is -s PATH, else $TS_SOCKET, else $XDG_RUNTIME_DIR/ts/default,
 * else /tmp/ts-UID/default.  The directory holding the socket must be a real
 * directory (not a symbolic link) owned by the user and not writable by group
 * or others; the daemon creates it, mode 0700, when it does not exist.  The
 * socket itself is created mode 0600.
 */
#ifndef TS_SOCKPATH_H
#define TS_SOCKPATH_H

#include <stddef.h>

/* Longest usable path: sun_path less its NUL. */
#define TS_PATH_MAX 107

/* Resolve the path into out (TS_PATH_MAX + 1 bytes); -1 with err if too long. */
int ts_sock_path(const char *explicit, char *out, char *err, size_t errlen);

/* Connect to the daemon at path; -1 with errno set. */
int ts_sock_connect(const char *path);

/*
 * Create the listening socket (non-blocking, close-on-exec) at path, after
 * checking (and if need be creating) its directory.  A socket file nobody
 * answers on is replaced; a live one is an error.  -1 with err on failure.
 */
int ts_sock_listen(const char *path, char *err, size_t errlen);

#endif
