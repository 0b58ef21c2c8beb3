/*
 * fuzz-request.c: libFuzzer target for the daemon's request handling.
 *
 * The input is split into lines, and each line goes through the real
 * daemon's own ts_client_serve (lib/daemon/session.c) of an in-process
 * server: the space, the event loop object (for timers; nothing ever waits
 * on it) and clients with fd -1 that are never registered in the loop.
 * The session's serve and serve_ack hooks are the checked wrappers below
 * around ts_ops_serve and ts_ops_serve_ack, so every request the real code
 * serves passes through the checks.
 * Nothing is written anywhere: instead of ts_clients_service, which would
 * send on the descriptor, service() below checks and then discards each
 * client's queued output.
 *
 * Lines starting with '#' are not sent to the daemon but drive the harness
 * (a request is a JSON object, so such a line could only ever be malformed):
 *
 *   #0 .. #3   further lines come from client N (created on first use, and
 *              again after it was lost); client 0 is the default
 *   #x         the current client disconnects (ts_client_lost)
 *   #t         the current client's timer fires, if armed (a timeout)
 *   #e         the current client shuts down its sending side (EOF)
 *   #h         every job held for a retry is due: their timers fire
 *
 * Requests whose "op" is "eval" are skipped: they would fork workers.
 * A "follow" blocks its client for good (it gets event lines, no final
 * line); an out with "pid" watches real processes, with pidfds the space
 * closes when it is freed.
 *
 * Protocol oracle: every reply line is a JSON object; every request but a
 * blank line (only spaces, tabs, a CR) or an ack gets exactly one final line ({"ok":...}) -- at
 * once, or, for an in/rd that blocks, when the wait ends; a final
 * {"ok":true,"n":N} after tuple lines counts them; and every tuple sent,
 * in a tuple line or a dump's retry line, is in canonical form.  A violation aborts with a message,
 * so the fuzzer reports it.  The environment variable FUZZ_ORACLE=0 turns it off (crashes, leaks
 * and undefined behaviour only).
 *
 * With FUZZ_KNOWN=1 (see known.h) lines that could hold a regular
 * expression of a kind known to be costly are skipped, and so are acks
 * that wire.c's quick ack reader reads differently from jansson
 * (request-7).
 *
 * The workers: a real, empty worker set, made once and kept for the
 * process (it holds nothing per input).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "block.h"
#include "buf.h"
#include "events.h"
#include "loop.h"
#include "mem.h"
#include "ops.h"
#include "session.h"
#include "space.h"
#include "tuple.h"
#include "wire.h"
#include "worker.h"

#include "known.h"

#define NCLIENTS 4
#define MAX_ROUNDS 10000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cstate {
    struct ts_client *c; /* NULL when this slot has no live client */
    int awaiting;        /* a blocked request still owes its final line */
    long tuples;         /* tuple lines since the last {"ok":true} line */
};

static struct ts_loop *loop;
static struct ts_events events;
static struct ts_space space;
static struct ts_clients clients;
static struct ts_ops ops;
static struct ts_workers *workers; /* made once, empty for ever */
static struct cstate cs[NCLIENTS];
static int oracle = 1;
static FILE *diag; /* stderr, kept even when libFuzzer closes fd 2 */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(diag, "fuzz-request: ");
    va_start(ap, fmt);
    vfprintf(diag, fmt, ap);
    va_end(ap);
    fprintf(diag, "\n");
    fflush(diag);
    abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *e = getenv("FUZZ_ORACLE");
    int fd = dup(2);

    (void)argc;
    (void)argv;
    diag = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (diag == NULL)
        diag = stderr;
    if (e != NULL && strcmp(e, "0") == 0)
        oracle = 0;
    return 0;
}

/* ---- which client is which */

static struct cstate *
state_of(const struct ts_client *c)
{
    int i;

    for (i = 0; i < NCLIENTS; i++)
        if (cs[i].c == c)
            return &cs[i];
    fail("a client the harness does not know");
}

/* As ts_client_new and the server's accept, without a socket: fd -1, not in the loop. */
static struct ts_client *
client_new(void)
{
    struct ts_client *c = ts_xcalloc(1, sizeof *c);

    c->fd = -1;
    c->pid = getpid();
    c->all = &clients;
    c->ctx = ts_block_new(c, &ops.blocking);
    c->events = EPOLLIN | EPOLLRDHUP;
    c->next = clients.list;
    if (clients.list != NULL)
        clients.list->prev = c;
    clients.list = c;
    clients.count++;
    return c;
}

/* The server's lost hook. */
static void
lost(struct ts_client *c)
{
    ts_block_lost(c->ctx);
    c->ctx = NULL;
}

/* The server's drained hook. */
static void
drained(struct ts_client *c)
{
    ts_block_drained(c->ctx);
}

static void
no_put(void *arg, json_t *tuple)
{
    (void)arg;
    json_decref(tuple);
}

static void
no_stop(void *arg, void *token, long n)
{
    (void)arg;
    (void)token;
    (void)n;
    fail("workers stopped, but there are none");
}

static void
no_gone(void *arg, struct ts_worker *w)
{
    (void)arg;
    (void)w;
}

static void
no_wait(void *arg, void *token, const struct ts_waited *r)
{
    (void)arg;
    (void)token;
    (void)r;
    fail("a wait is over, but eval is never served");
}

static size_t
no_count(void *arg, const struct ts_tmpl *tm, int lent, size_t limit)
{
    (void)arg;
    (void)tm;
    (void)lent;
    (void)limit;
    return 0;
}

static void
no_shutdown(void *arg)
{
    (void)arg;
}

/* Forget the slots of clients that were lost (before they are freed). */
static void
forget_dead(void)
{
    int i;

    for (i = 0; i < NCLIENTS; i++)
        if (cs[i].c != NULL && (cs[i].c->flags & TS_CLIENT_DEAD))
            memset(&cs[i], 0, sizeof cs[i]);
}

/* ---- the output oracle */

/* The decoded "op" of a request line, checked with lenient parsing. */
static int
op_is(const char *line, size_t len, const char *name)
{
    json_t *req = json_loadb(line, len, 0, NULL);
    json_t *op = json_object_get(req, "op");
    int rc = json_is_string(op) && strcmp(json_string_value(op), name) == 0;

    json_decref(req);
    return rc;
}

/*
 * request-7: the shape ops.c's quick_ack takes for an ack without asking
 * jansson, with an id jansson refuses (a leading zero, or past INT64_MAX).
 */
static int
quick_ack_differs(const char *line, size_t len)
{
    static const char head[] = "{\"op\":\"ack\",\"id\":";
    size_t i = sizeof head - 1, digits;

    if (len < i + 2 || memcmp(line, head, i) != 0 || line[len - 1] != '}')
        return 0;
    for (digits = 0; i + digits < len - 1; digits++)
        if (line[i + digits] < '0' || line[i + digits] > '9')
            return 0;
    return (digits > 1 && line[i] == '0') || digits > 18;
}

/*
 * A tuple line's tuple must be canonical text.  It is the value after the
 * first "tuple":, which other members may follow (a dump's lease members,
 * the end of a retry line).
 */
static void
check_tuple_text(const char *line, size_t len)
{
    const char *p = memmem(line, len, "\"tuple\":", 8);
    struct ts_buf b = TS_BUF_INIT;
    json_error_t e;
    size_t tlen;
    json_t *v;

    if (p == NULL || line[len - 1] != '}')
        fail("odd tuple line: %.*s", (int)len, line);
    p += 8;
    v = json_loadb(p, (size_t)(line + len - p), JSON_DISABLE_EOF_CHECK, &e);
    if (v == NULL || !json_is_array(v) || json_array_size(v) == 0)
        fail("tuple line without a tuple: %.*s", (int)len, line);
    tlen = (size_t)e.position;
    ts_canon(v, &b);
    if (ts_buf_len(&b) != tlen || memcmp(ts_buf_head(&b), p, tlen) != 0)
        fail("tuple sent is not canonical: sent %.*s, canonical %.*s", (int)tlen, p,
             (int)ts_buf_len(&b), ts_buf_head(&b));
    ts_buf_free(&b);
    json_decref(v);
}

/* Check one reply line; returns 1 for a final line. */
static int
check_line(struct cstate *s, const char *line, size_t len)
{
    json_error_t e;
    json_t *v = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
    json_t *ok, *n;
    int final = 0;

    if (v == NULL || !json_is_object(v))
        fail("reply line is not a JSON object (%s): %.*s", v == NULL ? e.text : "not an object",
             (int)len, line);
    if ((ok = json_object_get(v, "ok")) != NULL) {
        if (!json_is_boolean(ok))
            fail("\"ok\" is not a boolean: %.*s", (int)len, line);
        final = 1;
        if (json_is_true(ok)) {
            n = json_object_get(v, "n");
            if (n != NULL && s->tuples > 0 && json_integer_value(n) != s->tuples)
                fail("final line counts %lld tuples after %ld tuple lines: %.*s",
                     (long long)json_integer_value(n), s->tuples, (int)len, line);
            s->tuples = 0;
        } else if (json_string_value(json_object_get(v, "error")) == NULL ||
                   json_string_value(json_object_get(v, "code")) == NULL) {
            fail("error line without code and error: %.*s", (int)len, line);
        } else if (strcmp(json_string_value(json_object_get(v, "code")), "costly") == 0) {
            /* It ends an in or rd after its tuples, if any.  (A "bad" one may
             * answer an ack sent while a request waits: its count goes on.) */
            s->tuples = 0;
        }
    } else if (json_object_get(v, "tuple") != NULL && json_object_get(v, "event") == NULL) {
        check_tuple_text(line, len);
        s->tuples++;
    } else if (json_object_get(v, "retry") != NULL) {
        /* A job held for a retry ({"retry":{...,"tuple":T}}): T is canonical too. */
        if (len < 2 || line[len - 2] != '}')
            fail("odd retry line: %.*s", (int)len, line);
        check_tuple_text(line, len - 1);
    } else if (json_object_get(v, "waiter") == NULL && json_object_get(v, "worker") == NULL &&
               json_object_get(v, "lent") == NULL && json_object_get(v, "event") == NULL &&
               json_object_get(v, "dropped") == NULL) {
        fail("unknown reply line: %.*s", (int)len, line);
    }
    json_decref(v);
    return final;
}

/* Check and discard what is queued for a client; returns its final lines. */
static int
take_output(struct cstate *s)
{
    struct ts_client *c = s->c;
    int finals = 0;
    char *line;
    long len;

    if (!oracle) {
        ts_buf_reset(&c->out);
        return 0;
    }
    while ((len = ts_buf_line(&c->out, &line)) >= 0) {
        finals += check_line(s, line, (size_t)len);
        ts_buf_consume(&c->out, (size_t)len + 1);
    }
    if (ts_buf_len(&c->out) != 0)
        fail("output does not end with a newline: %.*s", (int)ts_buf_len(&c->out),
             ts_buf_head(&c->out));
    return finals;
}

/* Output that no request of the client being served explains. */
static void
settle(void)
{
    int i;

    for (i = 0; i < NCLIENTS; i++) {
        struct cstate *s = &cs[i];
        int f;

        if (s->c == NULL || (s->c->flags & TS_CLIENT_DEAD))
            continue;
        f = take_output(s);
        if (!oracle)
            continue;
        if (f > 1)
            fail("client %d got %d final lines for one wait", i, f);
        if (f == 1) {
            if (!s->awaiting || (s->c->flags & TS_CLIENT_BLOCKED))
                fail("client %d got a final line it was not waiting for", i);
            s->awaiting = 0;
        } else if (s->awaiting && !(s->c->flags & TS_CLIENT_BLOCKED)) {
            fail("client %d stopped waiting without a final line", i);
        }
    }
}

/* ---- serving, as lib/daemon/session.c does it */

static void
checked_serve(struct ts_client *c, const char *line, size_t len)
{
    struct cstate *s = state_of(c);
    int ack, f;

    if (op_is(line, len, "eval"))
        return; /* would fork */
    if (fuzz_known() && (fuzz_risky_ere(line, len) || quick_ack_differs(line, len)))
        return; /* a known bug: see known.h */
    settle();
    ack = op_is(line, len, "ack");
    ts_ops_serve(c, line, len);
    f = take_output(s);
    if (oracle) {
        if (c->flags & TS_CLIENT_BLOCKED) {
            if (f != 0)
                fail("a final line, but the request blocks: %.*s", (int)len, line);
            s->awaiting = 1;
        } else if (ts_wire_blank(line, len) ? f != 0 : ack ? f > 1 : f != 1) {
            fail("%d final lines for the request: %.*s", f, (int)len, line);
        }
    }
    settle();
}

static int
checked_serve_ack(struct ts_client *c, const char *line, size_t len)
{
    struct cstate *s = state_of(c);
    int rc, f;

    settle();
    rc = ts_ops_serve_ack(c, line, len);
    f = take_output(s);
    /* Only a well-formed ack is served while blocked, and it has no reply. */
    if (oracle && f != 0)
        fail("%d final lines for an ack while blocked: %.*s", f, (int)len, line);
    if (oracle && !(c->flags & TS_CLIENT_BLOCKED))
        fail("an ack ended a wait: %.*s", (int)len, line);
    settle();
    return rc;
}

/* session.c's service(), with "write the output" being settle(). */
static void
service(struct ts_client *c)
{
    settle();
    if ((c->flags & (TS_CLIENT_RESUME | TS_CLIENT_THROTTLED)) && !(c->flags & TS_CLIENT_BLOCKED)) {
        if (c->flags & TS_CLIENT_DEAD)
            return;
        ts_client_serve(c);
        settle();
    }
    if ((c->flags & TS_CLIENT_CLOSING) && ts_buf_len(&c->out) == 0) {
        ts_client_lost(c, NULL);
        return;
    }
    if (c->flags & TS_CLIENT_BLOCKED) {
        clients.drained(c);
        settle();
    }
}

/* ts_clients_service without I/O, run until nothing is pending. */
static void
pump(void)
{
    struct ts_client *list, *c, **pp;
    int rounds = 0;

    while (clients.pending != NULL) {
        if (++rounds > MAX_ROUNDS)
            fail("clients stay pending for ever");
        list = clients.pending;
        clients.pending = NULL;
        while ((c = list) != NULL) {
            list = c->pnext;
            if (!(c->flags & TS_CLIENT_DEAD))
                service(c);
            c->flags &= ~TS_CLIENT_PENDING;
            if ((c->flags & TS_CLIENT_RESUME) && !(c->flags & TS_CLIENT_BLOCKED))
                ts_client_touch(c, 0);
        }
        for (pp = &clients.pending; *pp != NULL;) {
            c = *pp;
            if (c->flags & TS_CLIENT_DEAD) {
                *pp = c->pnext;
                c->flags &= ~TS_CLIENT_PENDING;
            } else {
                pp = &c->pnext;
            }
        }
    }
    settle();
    forget_dead();
    ts_clients_service(&clients); /* nothing pending: frees the lost ones */
}

/* ---- the input */

static struct ts_client *
current(int slot)
{
    if (cs[slot].c == NULL) {
        memset(&cs[slot], 0, sizeof cs[slot]);
        cs[slot].c = client_new();
    }
    return cs[slot].c;
}

static void
directive(int *slot, const char *line, size_t len)
{
    struct ts_client *c;

    if (len < 2)
        return;
    if (line[1] >= '0' && line[1] < '0' + NCLIENTS) {
        *slot = line[1] - '0';
        return;
    }
    c = cs[*slot].c;
    if (c == NULL)
        return;
    settle();
    switch (line[1]) {
    case 'x': ts_client_lost(c, NULL); break;
    case 't': {
        struct ts_block *b = c->ctx;

        /* As run_timers: disarm, then call. */
        if (b->timer.slot != SIZE_MAX && b->timer.fn != NULL) {
            ts_timer_cancel(loop, &b->timer);
            b->timer.fn(loop, b->timer.arg);
        }
        break;
    }
    case 'h':
        /* As run_timers: disarm, then call; a hold frees itself. */
        while (ops.blocking.holds != NULL) {
            struct ts_hold *h = ops.blocking.holds;

            ts_timer_cancel(loop, &h->timer);
            h->timer.fn(loop, h->timer.arg);
        }
        break;
    case 'e':
        /* As on_io after read_input saw the end of the stream. */
        c->flags |= TS_CLIENT_EOF;
        ts_client_serve(c);
        break;
    default: return;
    }
    settle();
    forget_dead();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct ts_client *c;
    int slot = 0;

    memset(&clients, 0, sizeof clients);
    memset(&ops, 0, sizeof ops);
    memset(cs, 0, sizeof cs);
    loop = ts_loop_new();
    if (loop == NULL)
        fail("ts_loop_new failed");
    ts_events_init(&events);
    ts_space_init(&space, loop, &events, ts_block_deliver, ts_block_costly, NULL);
    if (workers == NULL) {
        static const struct ts_worker_hooks hooks = {no_put,   no_stop, no_gone, no_wait,
                                                     no_count, NULL,    NULL};

        workers = ts_workers_new(loop, "/nonexistent", "/nonexistent", &hooks);
    }
    clients.loop = loop;
    clients.maxline = 1u << 20;
    clients.serve = checked_serve;
    clients.serve_ack = checked_serve_ack;
    clients.lost = lost;
    clients.drained = drained;
    clients.ctx = &ops;
    ops.clients = &clients;
    ops.blocking.space = &space;
    ops.blocking.loop = loop;
    ops.workers = ops.blocking.workers = workers;
    ops.started = 0;
    ops.shutdown = no_shutdown;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

        if (len > 0 && p[0] == '#') {
            directive(&slot, p, len);
        } else {
            /* As read_input: the bytes arrive, then ts_client_serve runs. */
            c = current(slot);
            ts_buf_add(&c->in, p, len);
            ts_buf_add(&c->in, "\n", 1);
            ts_client_serve(c);
        }
        pump();
        p += len + 1;
    }

    /* As the server's teardown: every client is lost, then freed. */
    settle();
    while (clients.list != NULL)
        ts_client_lost(clients.list, NULL);
    forget_dead();
    ts_clients_service(&clients);
    if (clients.list != NULL || clients.dead != NULL || clients.pending != NULL ||
        clients.count != 0)
        fail("clients left after teardown");
    if (space.waiters.count != 0)
        fail("%zu waiters left after every client was lost", space.waiters.count);
    {
        struct ts_store_stats st;

        ts_store_stats(space.store, &st);
        if (st.lent != ops.blocking.nholds)
            fail("%zu tuples still lent after every client was lost",
                 st.lent - ops.blocking.nholds);
    }
    if (events.n != 0)
        fail("%zu followers left after every client was lost", events.n);
    ts_blocking_free(&ops.blocking);
    ts_space_free(&space);
    ts_events_free(&events);
    ts_loop_free(loop);
    return 0;
}
