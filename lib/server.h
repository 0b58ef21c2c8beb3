/*
 * server.h: the daemon: a listening socket, the clients, the space, and the
 * event loop that drives them.  One thread; every socket non-blocking.
 */
#ifndef TS_SERVER_H
#define TS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "loop.h"
#include "sockpath.h"
#include "space.h"

struct ts_client;
struct ts_workers;

#define TS_MAXLINE_DEFAULT (16u << 20)

struct ts_server {
    char path[TS_PATH_MAX + 1]; /* the socket */
    int lfd;                    /* listening socket */
    int sigfd;                  /* signalfd: TERM, INT, HUP, CHLD */
    struct ts_loop *loop;
    struct ts_space space;
    size_t maxline;             /* longest request line accepted, in bytes */
    struct ts_client *clients;  /* every connected client */
    size_t nclients;
    struct ts_client *pending;  /* clients with output to flush or input to resume */
    struct ts_client *dead;     /* lost clients, freed before the next wait */
    struct ts_workers *workers; /* processes started by eval */
    uint64_t ops;               /* requests served */
    struct timespec started;    /* wall clock at start, for uptime */
    int stopping;               /* shutdown asked for */
    struct ts_timer accept_timer; /* resumes accepting after running out of fds */
};

/* Create the listening socket; nothing runs yet.  NULL with err on failure. */
struct ts_server *ts_server_new(const char *path, size_t maxline, char *err, size_t errlen);

/*
 * Run until asked to stop (SIGTERM, SIGINT, a shutdown request), then stop
 * the workers, remove the socket and free everything.  Returns 0, or -1
 * with err when the loop could not be set up.
 */
int ts_server_run(struct ts_server *srv, char *err, size_t errlen);

/*
 * Forget the server in a process that will not run it (the parent of a
 * background daemon): closes this process's listening descriptor and frees
 * the memory, leaving the socket file to the process that runs it.
 */
void ts_server_detach(struct ts_server *srv);

/* Ask the server to stop at the next turn of the loop. */
void ts_server_stop(struct ts_server *srv);

/* Log a line to stderr with a timestamp. */
void ts_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
