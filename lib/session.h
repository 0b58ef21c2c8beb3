/*
 * session.h: one connected client of the daemon.
 *
 * A client's requests are served one at a time, in order.  A request that
 * must wait (an in or rd with nothing to take yet) blocks the client: its
 * later requests stay in the input buffer until the wait ends, except "ack"
 * lines, which are handled at once so a client taking many tuples can
 * confirm them as it goes.  A client is freed only before the loop's next
 * wait, never inside one of its own callbacks; every way of losing a client
 * goes through ts_client_lost, which also withdraws its waiter and returns
 * the tuples lent to it.
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
#include "server.h"
#include "waiter.h"

#define TS_CLIENT_PENDING 0x01 /* on srv->pending */
#define TS_CLIENT_RESUME 0x02  /* may have buffered requests to serve */
#define TS_CLIENT_EOF 0x04     /* peer shut down its sending side */
#define TS_CLIENT_CLOSING 0x08 /* close once the output is written */
#define TS_CLIENT_DEAD 0x10    /* lost; on srv->dead */
#define TS_CLIENT_BLOCKED 0x20 /* a request is waiting */
#define TS_CLIENT_THROTTLED 0x40 /* output over the high mark: not reading */

/* Output queued beyond this stops serving the client's requests (but acks). */
#define TS_OUT_HIGH (1u << 20)
/*
 * While a client is blocked or throttled, only acks are served, and its
 * input is read up to this much: enough to keep draining the acks of a
 * client that confirms as it reads (so neither side waits for the other),
 * little enough that requests piled up behind them cost nothing.
 */
#define TS_IN_PAUSED (64u << 10)

struct ts_lent {
    struct ts_tuple *t; /* the lent tuple */
    uint64_t id;        /* delivery id the client acks */
};

struct ts_client {
    int fd;
    pid_t pid;                 /* peer process, from SO_PEERCRED */
    struct ts_server *srv;
    unsigned flags;            /* TS_CLIENT_* */
    uint32_t events;           /* epoll interest registered now */
    struct ts_buf in;          /* received, not yet served */
    struct ts_buf out;         /* replies not yet written */
    size_t skip;               /* input bytes known to hold no newline */

    /* The request being served (in, rd), valid while BLOCKED or delivering. */
    struct ts_waiter w;        /* w.tm is the template, w.owner this client */
    char *tmpl_text;           /* the wire text w.tm was compiled from, if known */
    size_t tmpl_len;
    long want;                 /* tuples still to deliver; -1 for no limit */
    long got;                  /* tuples delivered for this request */
    struct ts_timer timer;     /* its deadline, if it has one */
    double since;              /* wall-clock time it started waiting */
    double timeout;            /* its timeout in seconds, -1 for none */

    struct ts_lent *lent;      /* tuples lent and not acked, by id */
    size_t lent0;              /* first live entry of lent */
    size_t nlent;              /* one past the last entry */
    size_t lentcap;
    uint64_t next_id;          /* last delivery id handed out */
    void *worker;              /* the eval worker this client is, or NULL */

    struct ts_client *prev;    /* srv->clients */
    struct ts_client *next;
    struct ts_client *pnext;   /* srv->pending, while TS_CLIENT_PENDING */
    struct ts_client *dnext;   /* srv->dead, once TS_CLIENT_DEAD */
};

/* Take over an accepted socket.  Returns NULL (fd closed) if it is refused. */
struct ts_client *ts_client_new(struct ts_server *srv, int fd);
void ts_client_free(struct ts_client *c);

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
int ts_clients_service(struct ts_server *srv);
/* The connection is gone or must go: withdraw everything, free later. */
void ts_client_lost(struct ts_client *c, const char *why);

#endif
