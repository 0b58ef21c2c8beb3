/*
 * notify.h: telling a service manager that the daemon is ready.
 *
 * systemd starts a Type=notify service with NOTIFY_SOCKET in its
 * environment, naming a Unix datagram socket: a path, or an abstract name
 * written with a leading '@'.  The service sends one datagram of
 * newline-separated NAME=value assignments, "READY=1" among them, once it
 * serves.  That is all of sd_notify(3) a daemon needs, so it is written
 * out here rather than linked from libsystemd.
 */
#ifndef TS_NOTIFY_H
#define TS_NOTIFY_H

/*
 * Send state (such as "READY=1\nSTATUS=...") to $NOTIFY_SOCKET.  Returns 1
 * when it was sent, 0 when NOTIFY_SOCKET is unset or empty, and -1 with
 * errno when it could not be sent.
 */
int ts_notify(const char *state);

#endif
