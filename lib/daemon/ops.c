/*
 * ops.c: the requests of the wire protocol (see ts-protocol(7)).
 *
 * Every request is one JSON object with an "op"; every request but "ack"
 * gets exactly one final line with "ok", after any tuple lines it produced.
 * The common requests are read by wire.h's quick readers; whatever they do
 * not take goes through jansson and the table below.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "mem.h"
#include "ops.h"
#include "placeholder.h"
#include "wire.h"

typedef void op_fn(struct ts_client *c, json_t *req);

static op_fn op_ack, op_dump, op_eval, op_in, op_out, op_rd, op_shutdown, op_stats;
static int quick(struct ts_client *c, const char *line, size_t len);
static void serve_ask(struct ts_client *c, json_t *req, int take);
static void store_batch(struct ts_client *c, const struct ts_batch *b);
static int log_batch(struct ts_client *c, const struct ts_batch *b);
static void eval_start(struct ts_client *c, json_t *req);
static void eval_stop(struct ts_client *c, json_t *req);

/* Sorted by name, as documented. */
static const struct {
    const char *name;
    op_fn *fn;
} ops[] = {
    {"ack", op_ack}, {"dump", op_dump}, {"eval", op_eval},         {"in", op_in},
    {"out", op_out}, {"rd", op_rd},     {"shutdown", op_shutdown}, {"stats", op_stats},
};

static struct ts_ops *
ctx_of(const struct ts_client *c)
{
    return c->all->ctx;
}

static struct ts_block *
block_of(const struct ts_client *c)
{
    return c->ctx;
}

void
ts_ops_serve(struct ts_client *c, const char *line, size_t len)
{
    struct ts_ops *o = ctx_of(c);
    json_error_t e;
    json_t *req, *op;
    const char *name;
    char err[200];
    size_t i;

    if (len == 0 || ts_wire_blank(line, len))
        return; /* blank lines are allowed, for people typing at socat */
    if (quick(c, line, len)) {
        o->count++;
        return;
    }
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
    if (req == NULL) {
        ts_client_error(c, "bad", "malformed request at byte %d: %s", e.position, e.text);
        return;
    }
    if (!json_is_object(req)) {
        ts_client_error(c, "bad", "a request must be a JSON object");
        goto out;
    }
    if (ts_wire_version_of(req, err, sizeof err) < 0) {
        ts_client_error(c, "version", "%s", err);
        goto out;
    }
    op = json_object_get(req, "op");
    if (!json_is_string(op)) {
        ts_client_error(c, "bad", "a request needs an \"op\" string");
        goto out;
    }
    name = json_string_value(op);
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(name, ops[i].name) == 0) {
            o->count++;
            ops[i].fn(c, req);
            goto out;
        }
    }
    ts_client_error(c, "bad", "unknown op '%.64s'", name);
out:
    json_decref(req);
}

int
ts_ops_serve_ack(struct ts_client *c, const char *line, size_t len)
{
    uint64_t id;

    if (!ts_wire_is_ack(line, len, &id))
        return 0;
    ctx_of(c)->count++;
    ts_block_confirm(block_of(c), id);
    return 1;
}

/*
 * The requests clients send most, in the forms wire.h reads without
 * jansson.  A template the client used last time is not even parsed; a
 * new one is parsed on its own and compiled.  Whatever is not taken here
 * (and every error) goes the long way.
 */
static int
quick(struct ts_client *c, const char *line, size_t len)
{
    struct ts_block *b = block_of(c);
    struct ts_batch batch = TS_BATCH_INIT;
    struct ts_ask a;
    const char *t;
    size_t tlen;
    uint64_t id;
    int ok;

    if (ts_wire_quick_ack(line, len, &id)) {
        ts_block_confirm(b, id);
        return 1;
    }
    if ((ok = ts_wire_quick_out(line, len, &batch)))
        store_batch(c, &batch);
    ts_batch_free(&batch);
    if (ok)
        return 1;
    if (!ts_wire_quick_ask(line, len, &a, &t, &tlen))
        return 0;
    if (!ts_block_same_text(b, t, tlen)) {
        json_t *wire = json_loadb(t, tlen, 0, NULL);
        struct ts_tmpl *tm;
        char err[300];

        if (wire == NULL || (tm = ts_tmpl_compile(wire, err, sizeof err)) == NULL)
            return 0; /* the long way says what is wrong */
        ts_block_template(b, tm, t, tlen);
    }
    ts_block_ask(b, &a);
    return 1;
}

static void
store_batch(struct ts_client *c, const struct ts_batch *b)
{
    struct ts_space *space = ctx_of(c)->blocking.space;
    size_t i;

    if (ctx_of(c)->blocking.journal != NULL && log_batch(c, b) < 0)
        return;
    for (i = 0; i < b->n; i++) {
        const char *text;
        const uint32_t *off;
        uint32_t arity;
        size_t len;

        ts_batch_get(b, i, &text, &len, &off, &arity);
        ts_space_out(space, text, len, off, arity);
    }
    ts_wire_ok_n(&c->out, b->n);
    ts_client_touch(c, 0);
}

/*
 * The durable space: log the batch's outs, with the seqs the store is
 * about to give them, in one write, before anything is stored or answered.
 * If the write fails, nothing is stored and the client is told so.
 */
static int
log_batch(struct ts_client *c, const struct ts_batch *b)
{
    struct ts_blocking *bl = &ctx_of(c)->blocking;
    uint64_t seq = ts_store_seq(bl->space->store);
    const uint32_t *off;
    const char *text;
    uint32_t arity;
    size_t i, len;

    for (i = 0; i < b->n; i++) {
        ts_batch_get(b, i, &text, &len, &off, &arity);
        /* No deadline (0) until tuples have leases: then the tuple's, absolute. */
        if (ts_journal_out(bl->journal, seq + 1 + i, 0, text, len) < 0) {
            ts_journal_discard(bl->journal);
            ts_client_error(c, "storage", "nothing stored: tuple %zu cannot be logged: %s", i + 1,
                            errno == EMSGSIZE ? "longer than the journal's 1 GiB limit"
                                              : strerror(errno));
            return -1;
        }
    }
    if (b->n > 0 && ts_blocking_write(bl) < 0) {
        ts_client_error(c, "storage", "nothing stored: cannot write the journal: %s",
                        strerror(errno));
        return -1;
    }
    block_of(c)->need = bl->writes;
    return 0;
}

static void
op_out(struct ts_client *c, json_t *req)
{
    struct ts_batch b = TS_BATCH_INIT;
    char err[300];

    if (ts_wire_out_of(req, &b, err, sizeof err) < 0)
        ts_client_error(c, "bad", "%s", err);
    else
        store_batch(c, &b);
    ts_batch_free(&b);
}

static void
op_in(struct ts_client *c, json_t *req)
{
    serve_ask(c, req, 1);
}

static void
op_rd(struct ts_client *c, json_t *req)
{
    serve_ask(c, req, 0);
}

static void
serve_ask(struct ts_client *c, json_t *req, int take)
{
    struct ts_block *b = block_of(c);
    json_t *tmpl = json_object_get(req, "tmpl");
    struct ts_buf text = TS_BUF_INIT;
    struct ts_ask a;
    struct ts_tmpl *tm;
    char err[300];

    if (ts_wire_ask_of(req, take, &a, err, sizeof err) < 0) {
        ts_client_error(c, "bad", "%s", err);
        return;
    }
    /* The template is known by its wire text, however the request was read. */
    ts_wire_json(&text, tmpl);
    if (ts_buf_len(&text) == 0 || text.failed) {
        ts_client_error(c, "failed", "out of memory");
        return;
    }
    if (!ts_block_same_text(b, ts_buf_head(&text), ts_buf_len(&text) - 1)) {
        tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err);
        if (tm == NULL) {
            ts_client_error(c, "bad", "%s", err);
            ts_buf_free(&text);
            return;
        }
        ts_block_template(b, tm, ts_buf_head(&text), ts_buf_len(&text) - 1);
    }
    ts_buf_free(&text);
    ts_block_ask(b, &a);
}

static void
op_ack(struct ts_client *c, json_t *req)
{
    uint64_t id;
    char err[200];

    if (ts_wire_ack_of(req, &id, err, sizeof err) < 0)
        ts_client_error(c, "bad", "%s", err);
    else
        ts_block_confirm(block_of(c), id);
}

struct dump_ctx {
    struct ts_client *c;
    uint64_t n;
};

static void
dump_tuple(struct ts_tuple *t, void *arg)
{
    struct dump_ctx *d = arg;

    ts_wire_tuple(&d->c->out, 0, ts_tuple_text(t), t->len);
    d->n++;
}

/* A waiting in or rd, paused ones included (block.h), as ts-dump -w shows it. */
static json_t *
waiter_json(const struct ts_block *b)
{
    const struct ts_waiter *w = &b->w;

    return json_pack("{s:{s:I, s:s, s:O, s:f, s:o, s:b, s:I}}", "waiter", "pid",
                     (json_int_t)b->client->pid, "op", w->take ? "in" : "rd", "tmpl", w->tm->wire,
                     "since", b->since, "timeout",
                     b->timeout >= 0 ? json_real(b->timeout) : json_null(), "paused", b->paused,
                     "queued", (json_int_t)ts_buf_len(&b->client->out));
}

/* Those who have waited longest first. */
static int
by_since(const void *a, const void *b)
{
    const struct ts_block *x = *(const struct ts_block *const *)a;
    const struct ts_block *y = *(const struct ts_block *const *)b;

    if (x->since != y->since)
        return x->since < y->since ? -1 : 1;
    return (x->w.seq > y->w.seq) - (x->w.seq < y->w.seq);
}

static void
op_dump(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);
    struct ts_space *space = o->blocking.space;
    json_t *tmpl = json_object_get(req, "tmpl");
    struct dump_ctx d = {c, 0};
    char err[300];

    /* It may list tuples whose outs are not yet synced. */
    block_of(c)->need = o->blocking.writes;

    if (tmpl != NULL && !json_is_null(tmpl)) {
        struct ts_tmpl *tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err);
        struct ts_iter it;
        struct ts_tuple *t;

        if (tm == NULL) {
            ts_client_error(c, "bad", "%s", err);
            return;
        }
        ts_store_iter(space->store, tm, &it);
        while ((t = ts_iter_next(&it)) != NULL)
            dump_tuple(t, &d);
        ts_tmpl_free(tm);
    } else {
        ts_store_each(space->store, dump_tuple, &d);
    }
    if (json_is_true(json_object_get(req, "waiters"))) {
        struct ts_block **v = ts_xmalloc((o->clients->count + 1) * sizeof *v);
        struct ts_client *other;
        size_t i, n = 0;

        for (other = o->clients->list; other != NULL; other = other->next) {
            struct ts_block *b = other->ctx;

            if (b != NULL && b->why == TS_WAIT_TUPLES)
                v[n++] = b;
        }
        qsort(v, n, sizeof *v, by_since);
        for (i = 0; i < n; i++) {
            json_t *line = waiter_json(v[i]);

            ts_wire_json(&c->out, line);
            json_decref(line);
        }
        free(v);
        ts_workers_dump(o->workers, &c->out);
    }
    ts_wire_ok_n(&c->out, d.n);
    ts_client_touch(c, 0);
}

static void
op_stats(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);
    struct ts_space *space = o->blocking.space;
    struct ts_store_stats s;
    json_t *reply;

    (void)req;
    ts_store_stats(space->store, &s);
    reply = json_pack("{s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}}", "ok", 1, "stats",
                      "tuples", (json_int_t)(s.tuples - s.lent), "lent", (json_int_t)s.lent,
                      "bytes", (json_int_t)s.bytes, "clients", (json_int_t)o->clients->count,
                      "waiters", (json_int_t)space->waiters.count, "workers",
                      (json_int_t)ts_workers_count(o->workers), "ops", (json_int_t)o->count, "pid",
                      (json_int_t)getpid(), "uptime", ts_wall_clock() - o->started);
    if (o->blocking.journal != NULL) {
        struct ts_journal_stats js;
        json_t *st = json_object_get(reply, "stats");

        ts_journal_stats(o->blocking.journal, &js);
        json_object_set_new(st, "log_bytes", json_integer((json_int_t)js.log_bytes));
        json_object_set_new(st, "syncs", json_integer((json_int_t)js.syncs));
        json_object_set_new(st, "compactions", json_integer((json_int_t)js.compactions));
    }
    ts_wire_json(&c->out, reply);
    ts_client_touch(c, 0);
    json_decref(reply);
}

static void
op_shutdown(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);

    (void)req;
    /* Our pid: the one SO_PEERCRED tells is the process that called listen. */
    ts_wire_ok_pid(&c->out, (long)getpid());
    ts_client_touch(c, 0);
    ts_log("shutdown requested by pid %ld", (long)c->pid);
    o->shutdown(o->arg);
}

static void
op_eval(struct ts_client *c, json_t *req)
{
    if (json_object_get(req, "kill") != NULL)
        eval_stop(c, req);
    else
        eval_start(c, req);
}

static int
all_strings(json_t *a, int nonempty)
{
    size_t i;

    if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
        return 0;
    for (i = 0; i < json_array_size(a); i++)
        if (!json_is_string(json_array_get(a, i)))
            return 0;
    return 1;
}

/* The strings of a JSON array, as a NULL-terminated vector (borrowed). */
static const char **
string_vector(json_t *a)
{
    size_t i, n = json_array_size(a);
    const char **v = ts_xcalloc(n + 1, sizeof *v);

    for (i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(a, i));
    return v;
}

static void
eval_start(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);
    json_t *name = json_object_get(req, "name"), *n = json_object_get(req, "n");
    json_t *cwd = json_object_get(req, "cwd"), *pids, *reply;
    struct ts_eval e = {NULL,
                        1,
                        json_object_get(req, "argv"),
                        NULL,
                        json_object_get(req, "env"),
                        json_object_get(req, "take"),
                        json_object_get(req, "put")};
    const char **av, **pw;
    size_t arity = 0;
    char err[400];
    int rc, usage;

    if (!json_is_string(name) || json_string_length(name) == 0 || !all_strings(e.argv, 1) ||
        !json_is_string(cwd) || json_string_value(cwd)[0] != '/' || !all_strings(e.env, 0) ||
        (e.put != NULL && !all_strings(e.put, 1))) {
        ts_client_error(c, "bad",
                        "eval needs \"name\", \"argv\" (strings), \"cwd\" (absolute), "
                        "\"env\" (strings), and \"put\" (strings) if any");
        return;
    }
    e.name = json_string_value(name);
    e.cwd = json_string_value(cwd);
    if (n != NULL) {
        e.n = json_is_integer(n) ? (long)json_integer_value(n) : 0;
        if (e.n < 1 || e.n > TS_EVAL_MAX) {
            ts_client_error(c, "bad", "\"n\" must be an integer from 1 to %d", TS_EVAL_MAX);
            return;
        }
    }
    if (e.take != NULL) {
        struct ts_tmpl *tm = ts_tmpl_compile(json_incref(e.take), err, sizeof err);

        if (tm == NULL) {
            ts_client_error(c, "bad", "take: %s", err);
            return;
        }
        arity = tm->arity;
        ts_tmpl_free(tm);
    }
    av = string_vector(e.argv);
    pw = e.put != NULL ? string_vector(e.put) : NULL;
    rc = ts_placeholders_check(av, pw, arity, err, sizeof err);
    free(av);
    free(pw);
    if (rc < 0) {
        ts_client_error(c, "bad", "%s", err);
        return;
    }
    pids = json_array();
    if (ts_workers_start(o->workers, &e, pids, &usage, err, sizeof err) < 0) {
        if (usage)
            ts_client_error(c, "bad", "%s", err);
        else
            ts_client_error(c, "failed", "cannot start workers: %s", err);
        json_decref(pids);
        return;
    }
    reply = json_pack("{s:b, s:O, s:o}", "ok", 1, "name", name, "pids", pids);
    ts_wire_json(&c->out, reply);
    ts_client_touch(c, 0);
    json_decref(reply);
}

static void
eval_stop(struct ts_client *c, json_t *req)
{
    json_t *name = json_object_get(req, "kill"), *grace = json_object_get(req, "grace");
    double g = TS_GRACE_DEFAULT;

    if (!json_is_string(name)) {
        ts_client_error(c, "bad", "\"kill\" must be a worker name");
        return;
    }
    if (grace != NULL) {
        g = json_number_value(grace);
        if (!json_is_number(grace) || !(g >= 0) || g > TS_GRACE_MAX) {
            ts_client_error(c, "bad", "\"grace\" must be seconds from 0 to %g", TS_GRACE_MAX);
            return;
        }
    }
    /* The client waits until they are gone: the server's stopped hook answers. */
    if (ts_workers_stop(ctx_of(c)->workers, json_string_value(name), g, block_of(c)) == 0)
        ts_client_error(c, "nomatch", "no workers named '%s'", json_string_value(name));
    else
        ts_block_wait(block_of(c), TS_WAIT_WORKERS);
}
