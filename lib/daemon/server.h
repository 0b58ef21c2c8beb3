/*
 * server.h: the daemon: a listening socket, the clients, the space, the
 * workers, and the event loop that drives them.  One thread; every socket
 * non-blocking.
 *
 * The server is the top of the daemon's modules: it owns the others and
 * wires them together, so that none of them calls upward.  The session
 * serves requests through ops; ops stops the daemon through a hook; the
 * workers report through hooks; see the README's Architecture section.
 */
#ifndef TS_SERVER_H
#define TS_SERVER_H

#include <stddef.h>

#include "events.h"
#include "journal.h"
#include "loop.h"
#include "ops.h"
#include "session.h"
#include "sockpath.h"
#include "space.h"
#include "worker.h"

/* sync always: the group commit's state (see commit in server.c). */
struct ts_commit {
    uint64_t last;   /* journal writes the last sync covered */
    uint64_t gather; /* how long a smaller group may wait for more, in ns */
    uint64_t since;  /* ts_now() when this group was first ready, or 0 */
};

struct ts_rebind;

struct ts_server {
    char path[TS_PATH_MAX + 1]; /* the socket */
    char *helper;               /* the program workers run (ts-worker) */
    int lfd;                    /* listening socket */
    int sigfd;                  /* signalfd: TERM, INT, HUP, CHLD */
    struct ts_loop *loop;
    struct ts_space space;
    struct ts_events events; /* the event stream: the space, the waiters, the workers */
    struct ts_clients clients;
    struct ts_ops ops;             /* what serving requests needs */
    struct ts_workers *workers;    /* processes started by eval */
    int stopping;                  /* shutdown asked for */
    struct ts_timer accept_timer;  /* resumes accepting after running out of fds */
    struct ts_journal *journal;    /* the durable space (tsd -D), or NULL */
    enum ts_journal_sync sync;     /* its policy */
    struct ts_timer journal_timer; /* its next batch sync, compaction or look at the child */
    char *replayed;                /* what the replay found, for the log once running */
    int failed;                    /* the journal failed to sync: stop, replying to nobody */
    struct ts_commit commit;       /* sync always: the group commit */
    struct ts_rebind *rebind;      /* replayed tuples with a lease, tied to the loop by run */
    size_t nrebind, rebindcap;
};

/*
 * Create the listening socket; nothing runs yet.  helper is the path of the
 * ts-worker program.  NULL with err on failure.
 */
struct ts_server *ts_server_new(const char *path, size_t maxline, const char *helper, char *err,
                                size_t errlen);

/*
 * Keep the space durably in dir (tsd -D; see journal.h): lock the directory
 * and replay it into the space.  Call it after ts_server_new and before any
 * fork, so that a damaged or busy directory fails the command that started
 * the daemon.  The walk callback of o is the server's own.  -1 with err on
 * failure; the server is then still to be detached or run in memory.
 */
int ts_server_durable(struct ts_server *srv, const char *dir, const struct ts_journal_opts *o,
                      char *err, size_t errlen);

/*
 * Run until asked to stop (SIGTERM, SIGINT, a shutdown request), then stop
 * the workers, remove the socket and free everything.  Returns 0, or -1
 * with err when the loop could not be set up or the journal failed.
 */
int ts_server_run(struct ts_server *srv, char *err, size_t errlen);

/*
 * Forget the server in a process that will not run it (the parent of a
 * background daemon): closes this process's listening descriptor and frees
 * the memory, leaving the socket file to the process that runs it.
 */
void ts_server_detach(struct ts_server *srv);

/* The listening descriptor (a daemon closes every other one it inherited). */
int ts_server_fd(const struct ts_server *srv);

/*
 * In a daemon that has left its caller (tsd -d, tsd -- command): close every
 * descriptor from 3 up but the server's own, its listening socket and its
 * journal's files.
 */
void ts_server_close_others(const struct ts_server *srv);

#endif
