/*
 * session.h: the daemon's connected clients: reading requests, writing
 * replies, losing connections.
 *
 * This module moves bytes; what a request means is the business of the
 * layers above, which the server plugs in as the callbacks of struct
 * ts_clients.  A client's requests are served one at a time, in order.
 * While a request of the client waits (block.h), its later requests stay
 * in the input buffer, except acks, which are handled at once so a client
 * taking many tuples can confirm them as it goes.  A client is freed only
 * before the loop's next wait, never inside one of its own callbacks;
 * every way of losing a client goes through ts_client_lost, which calls
 * the lost callback (withdraw its waiter, return the tuples lent to it).
 *
 * A client whose unwritten replies pass TS_OUT_HIGH is throttled the same
 * way as a blocked one: acks are still read and served, other requests
 * wait until its output has drained.  Acks must keep flowing: a client
 * that confirms what it has read while the rest of a large reply is still
 * coming would otherwise fill its socket with acks nobody reads, stop
 * reading, and wait for us while we wait for it.
 */
#ifndef TS_SESSION_H
#define TS_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "loop.h"

#define TS_CLIENT_PENDING 0x01   /* on the pending list */
#define TS_CLIENT_RESUME 0x02    /* may have buffered requests to serve */
#define TS_CLIENT_EOF 0x04       /* peer shut down its sending side */
#define TS_CLIENT_CLOSING 0x08   /* close once the output is written */
#define TS_CLIENT_DEAD 0x10      /* lost; on the dead list */
#define TS_CLIENT_BLOCKED 0x20   /* a request waits: only acks are served (block.h) */
#define TS_CLIENT_THROTTLED 0x40 /* output over the high mark: not reading */
#define TS_CLIENT_HELD 0x80      /* output waits for what it answers to be durable */

/*
 * Output queued beyond this stops serving the client's requests (but acks)
 * and pauses its waiting request (block.h); below TS_OUT_LOW it resumes.
 */
#define TS_OUT_HIGH (1u << 20)
#define TS_OUT_LOW (TS_OUT_HIGH / 2)
/*
 * While a client is blocked or throttled, only acks are served, and its
 * input is read up to this much: enough to keep draining the acks of a
 * client that confirms as it reads (so neither side waits for the other),
 * little enough that requests piled up behind them cost nothing.
 */
#define TS_IN_PAUSED (64u << 10)

struct ts_client;

struct ts_clients {
    struct ts_loop *loop;
    size_t maxline;         /* longest request line accepted, in bytes */
    struct ts_client *list; /* every connected client */
    size_t count;
    struct ts_client *pending; /* clients with output to flush or input to resume */
    struct ts_client *dead;    /* lost clients, freed before the next wait */
    /* Serve one complete request line (NUL-terminated, newline removed). */
    void (*serve)(struct ts_client *c, const char *line, size_t len);
    /* While the client waits: serve the line if it is an ack (1), else leave it (0). */
    int (*serve_ack)(struct ts_client *c, const char *line, size_t len);
    /* The client is lost: withdraw whatever it waits for or holds, free c->ctx. */
    void (*lost)(struct ts_client *c);
    /* A waiting client has read its queued output down to TS_OUT_LOW. */
    void (*drained)(struct ts_client *c);
    /*
     * The durable space (journal.h) under sync always: a reply may not be
     * written before the records it depends on are synced.  ts_clients_service
     * calls commit once, before it writes anything, to sync what was
     * written (one sync for the replies of the whole loop iteration: a group
     * commit), then asks writable before each client's output is written.
     * Output that must wait (replies to requests served after the commit,
     * such as resumed ones) stays queued and the client pending, so the
     * loop comes back at once.  Both NULL in memory.
     */
    void (*commit)(void *arg);
    int (*writable)(void *arg, struct ts_client *c);
    void *commit_arg;
    void *ctx; /* the serving layer's own state */
};

struct ts_client {
    int fd;
    pid_t pid;              /* peer process, from SO_PEERCRED */
    struct ts_clients *all; /* the registry it is in */
    unsigned flags;         /* TS_CLIENT_* */
    uint32_t events;        /* epoll interest registered now */
    struct ts_buf in;       /* received, not yet served */
    struct ts_buf out;      /* replies not yet written */
    void *ctx;              /* the serving layer's state for this client */
    struct ts_client *prev; /* all->list */
    struct ts_client *next;
    struct ts_client *pnext; /* all->pending, while TS_CLIENT_PENDING */
    struct ts_client *dnext; /* all->dead, once TS_CLIENT_DEAD */
};

/* Take over an accepted socket.  Returns NULL (fd closed) if it is refused. */
struct ts_client *ts_client_new(struct ts_clients *all, int fd);

/*
 * Serve the complete request lines in c->in, as far as the client's state
 * allows (see above).  The event loop calls it after reading; so does the
 * fuzz target, which feeds c->in itself.
 */
void ts_client_serve(struct ts_client *c);
/* Queue bytes for the client; they are written before the loop waits. */
void ts_client_send(struct ts_client *c, const char *p, size_t n);
/* Queue a final error line {"ok":false,"code":code,"error":msg}. */
void ts_client_error(struct ts_client *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put the client on the pending list (flush output, resume requests). */
void ts_client_touch(struct ts_client *c, unsigned flags);
/*
 * The loop's pre-wait hook: write queued output and serve resumed requests
 * of every pending client, then free the lost ones.  Returns 1 if some
 * client already has more to do (the loop must not sleep).
 */
int ts_clients_service(struct ts_clients *all);
/* The connection is gone or must go: withdraw everything, free later. */
void ts_client_lost(struct ts_client *c, const char *why);
/* Write what can be written now to every client, without waiting (at shutdown). */
void ts_clients_flush_now(struct ts_clients *all);

#endif
