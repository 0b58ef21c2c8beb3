/*
 * ops.c: the requests of the wire protocol (see ts-protocol(7)).
 *
 * Every request is one JSON object with an "op"; every request but "ack"
 * gets exactly one final line with "ok", after any tuple lines it produced.
 * The common requests are read by wire.h's quick readers; whatever they do
 * not take goes through jansson and the table below.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "follow.h"
#include "journal.h"
#include "log.h"
#include "mem.h"
#include "ops.h"
#include "placeholder.h"
#include "tuple.h"
#include "wire.h"

#define RETRIES_MAX 1000 /* attempts after the first (TS_FAILED_MAX bounds the count) */
#define GROUPS_MAX 1000  /* groups a stats request may ask for */

typedef void op_fn(struct ts_client *c, json_t *req);

static op_fn op_ack, op_dump, op_eval, op_follow, op_in, op_job, op_out, op_rd, op_shutdown,
    op_stats;
static int quick(struct ts_client *c, const char *line, size_t len);
static void serve_ask(struct ts_client *c, json_t *req, int take);
static void store_batch(struct ts_client *c, const struct ts_batch *b, const struct ts_put *p);
static int store_quiet(struct ts_client *c, const struct ts_batch *b, const struct ts_put *p,
                       uint64_t *stored);
static int log_batch(struct ts_client *c, const struct ts_batch *b, const struct ts_put *p);
static void unlogged(struct ts_blocking *bl, uint64_t seq, size_t len);
static void eval_start(struct ts_client *c, json_t *req);
static void eval_stop(struct ts_client *c, json_t *req);
static void eval_wait(struct ts_client *c, json_t *req);
static void eval_log(struct ts_client *c, json_t *req);
static void eval_scale(struct ts_client *c, json_t *req);

/* Sorted by name, as documented. */
static const struct {
    const char *name;
    op_fn *fn;
} ops[] = {
    {"ack", op_ack},       {"dump", op_dump}, {"eval", op_eval},
    {"follow", op_follow}, {"in", op_in},     {"job", op_job},
    {"out", op_out},       {"rd", op_rd},     {"shutdown", op_shutdown},
    {"stats", op_stats},
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
    char err[400];
    size_t i;

    if (len == 0 || ts_wire_blank(line, len))
        return; /* blank lines are allowed, for people typing at socat */
    if (quick(c, line, len)) {
        o->count++;
        return;
    }
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
    if (req == NULL) {
        ts_client_error(c, "bad", "malformed request at byte %d: %s", e.position, ts_json_why(&e));
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
    /* jansson has read every number as a double or an int64: none may have changed. */
    if (ts_check_numbers(line, len, 0, NULL, err, sizeof err) < 0) {
        ts_client_error(c, "bad", "%s", err);
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
        store_batch(c, &batch, NULL);
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
    b->job = 0;
    ts_block_ask(b, &a);
    return 1;
}

/* Put a batch, all with the same lease if p is not NULL; the reply counts what was stored. */
static void
store_batch(struct ts_client *c, const struct ts_batch *b, const struct ts_put *p)
{
    uint64_t n;

    if (store_quiet(c, b, p, &n) < 0)
        return;
    ts_wire_ok_n(&c->out, n);
    ts_client_touch(c, 0);
}

/*
 * Put a batch's tuples into the space, in order, and count in *stored
 * those that were (a tuple that ends as it is put is not).  In a durable
 * space they are logged first; if they cannot be, nothing is put, the
 * client has its error, and -1 is returned.
 */
static int
store_quiet(struct ts_client *c, const struct ts_batch *b, const struct ts_put *p, uint64_t *stored)
{
    struct ts_blocking *bl = &ctx_of(c)->blocking;
    struct ts_space *space = bl->space;
    struct ts_put plain = {0, 0, c->pid};
    uint64_t n = 0, seq = ts_store_seq(space->store);
    size_t i;

    if (bl->journal != NULL && log_batch(c, b, p) < 0)
        return -1;
    for (i = 0; i < b->n; i++) {
        const char *text;
        const uint32_t *off;
        uint32_t arity;
        size_t len;

        ts_batch_get(b, i, &text, &len, &off, &arity);
        if (ts_space_put(space, text, len, off, arity, p != NULL ? p : &plain))
            n++;
        else if (bl->journal != NULL)
            unlogged(bl, seq + 1 + i, len);
    }
    *stored = n;
    return 0;
}

/*
 * The durable space: log the batch's outs, with the seqs the store is
 * about to give them and their lease (an absolute deadline, and the
 * process they live with, known by its pid and start time), in one write,
 * before anything is stored or answered.  If the write fails, nothing is
 * stored and the client is told so.
 */
static int
log_batch(struct ts_client *c, const struct ts_batch *b, const struct ts_put *p)
{
    struct ts_blocking *bl = &ctx_of(c)->blocking;
    uint64_t seq = ts_store_seq(bl->space->store);
    uint64_t deadline = p != NULL && p->deadline > 0 ? (uint64_t)p->deadline : 0;
    struct ts_journal_owner owner = {0, 0, 0};
    struct ts_proc_id id;
    const uint32_t *off;
    const char *text;
    uint32_t arity;
    size_t i, len;
    int r;

    if (p != NULL && p->owner != 0) {
        /* Watched already (op_out), so its identity is known; 0s if /proc could not tell. */
        if (ts_leases_owner_id(bl->space->leases, p->owner, &id) == 0) {
            owner.start = id.start;
            owner.boot = id.boot;
        }
        owner.pid = (uint32_t)p->owner;
    }
    for (i = 0; i < b->n; i++) {
        ts_batch_get(b, i, &text, &len, &off, &arity);
        if (owner.pid != 0)
            r = ts_journal_out_owned(bl->journal, seq + 1 + i, deadline, &owner, text, len);
        else
            r = ts_journal_out(bl->journal, seq + 1 + i, deadline, text, len);
        if (r < 0) {
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

/*
 * A tuple logged with seq but not stored: it ended as it was put (its
 * deadline passed in between).  The store must not give seq to the next
 * tuple, and the log gets its deletion.  If that cannot be written, a
 * restart does not bring it back all the same: its deadline has passed.
 */
static void
unlogged(struct ts_blocking *bl, uint64_t seq, size_t len)
{
    struct ts_store *st = bl->space->store;

    if (ts_store_seq(st) < seq)
        ts_store_set_seq(st, seq);
    if (ts_journal_del(bl->journal, seq, len) == 0)
        ts_blocking_write(bl);
}

/*
 * An out with options: "ttl" and "pid" give every tuple of the request a
 * lease; "unless" puts them only if no stored tuple, lent ones included,
 * matches that template: the check and the put are one step, since
 * nothing else runs in between.
 */
static void
op_out(struct ts_client *c, json_t *req)
{
    struct ts_space *space = ctx_of(c)->blocking.space;
    json_t *unless = json_object_get(req, "unless");
    struct ts_batch b = TS_BATCH_INIT;
    struct ts_put p = {0, 0, c->pid};
    struct ts_tmpl *tm = NULL;
    const struct ts_tuple *t;
    char err[300];
    double ttl;
    long pid;
    int found = 0;

    if (ts_wire_out_of(req, &b, err, sizeof err) < 0 ||
        ts_wire_put_of(req, &ttl, &pid, err, sizeof err) < 0) {
        ts_client_error(c, "bad", "%s", err);
        goto out;
    }
    if (unless != NULL && (tm = ts_tmpl_compile(json_incref(unless), err, sizeof err)) == NULL) {
        ts_client_error(c, "bad", "unless: %s", err);
        goto out;
    }
    if (pid != 0 && ts_space_watch(space, (pid_t)pid) < 0) {
        if (errno == ESRCH)
            ts_client_error(c, "bad", "no process %ld: cannot bind a tuple to it", pid);
        else
            ts_client_error(c, "failed", "cannot watch process %ld: %s", pid, strerror(errno));
        goto out;
    }
    if (tm != NULL && (found = ts_space_find(space, tm, &t)) == 1) {
        ts_client_error(c, "exists", "not put: %.*s matches the unless template",
                        (int)(t->len > 200 ? 200 : t->len), ts_tuple_text(t));
        goto unwatch;
    }
    if (found == TS_MATCH_COSTLY) {
        ts_tmpl_costly(tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, err, sizeof err);
        ts_client_error(c, "costly", "unless: %s", err);
        goto unwatch;
    }
    if (ttl == 0) {
        /* It would end as it is put: nothing is stored, and nobody sees it. */
        ts_wire_ok_n(&c->out, 0);
        ts_client_touch(c, 0);
        goto unwatch;
    }
    if (ttl > 0)
        p.deadline = ts_wall_ns() + (int64_t)llround(ttl * 1e9);
    p.owner = (pid_t)pid;
    store_batch(c, &b, &p);
unwatch:
    /* Nothing put (or an empty batch): no process to watch for it. */
    if (pid != 0)
        ts_space_unwatch(space, (pid_t)pid);
out:
    ts_tmpl_free(tm);
    ts_batch_free(&b);
}

/*
 * Follow the event stream: the client waits for ever, getting events, and
 * no final line; it ends by closing the connection.
 */
static void
op_follow(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);
    json_t *tmpl = json_object_get(req, "tmpl");
    struct ts_tmpl *tm = NULL;
    char err[300];

    if (tmpl != NULL && !json_is_null(tmpl) &&
        (tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err)) == NULL) {
        ts_client_error(c, "bad", "%s", err);
        return;
    }
    block_of(c)->follow = ts_follow_start(c, o->blocking.space->events, tm);
    ts_block_wait(block_of(c), TS_WAIT_EVENTS);
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
    json_t *tmpl = json_object_get(req, "tmpl"), *job = json_object_get(req, "job");
    struct ts_buf text = TS_BUF_INIT;
    struct ts_ask a;
    struct ts_tmpl *tm;
    char err[300];

    if (ts_wire_ask_of(req, take, &a, err, sizeof err) < 0) {
        ts_client_error(c, "bad", "%s", err);
        return;
    }
    if (job != NULL && !json_is_boolean(job)) {
        ts_client_error(c, "bad", "\"job\" must be true or false");
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
    b->job = json_is_true(job);
    ts_block_ask(b, &a);
}

/*
 * A worker is done with a job: in one step, put its tuples and confirm
 * the job ("done", "failed"), or give the job back for a retry after a
 * delay ("retry", block.h).  Without an id, the tuples are a run-once
 * worker's result: its supervisor puts them when it has ended (worker.h),
 * and anyone else's are put now.
 */
static void
op_job(struct ts_client *c, json_t *req)
{
    struct ts_block *b = block_of(c);
    json_t *id = json_object_get(req, "id"), *outcome = json_object_get(req, "outcome");
    json_t *delay = json_object_get(req, "delay"), *tuples = json_object_get(req, "tuples");
    json_t *status = json_object_get(req, "status");
    struct ts_batch batch = TS_BATCH_INIT;
    const char *oc = json_string_value(outcome);
    uint64_t lent = 0, stored;
    double d = 0;
    char err[300];

    if (oc == NULL ||
        (strcmp(oc, "done") != 0 && strcmp(oc, "failed") != 0 && strcmp(oc, "retry") != 0)) {
        ts_client_error(c, "bad", "job needs an \"outcome\": \"done\", \"failed\" or \"retry\"");
        return;
    }
    if (id != NULL && (!json_is_integer(id) || json_integer_value(id) < 1)) {
        ts_client_error(c, "bad", "\"id\" must be a positive integer");
        return;
    }
    lent = id != NULL ? (uint64_t)json_integer_value(id) : 0;
    if (delay != NULL) {
        d = json_number_value(delay);
        if (!json_is_number(delay) || !(d >= 0) || d > TS_TIMEOUT_MAX) {
            ts_client_error(c, "bad", "\"delay\" must be a number of seconds from 0 to 1e9");
            return;
        }
    }
    if (status != NULL && !json_is_integer(status)) {
        ts_client_error(c, "bad", "\"status\" must be an integer");
        return;
    }
    if (strcmp(oc, "retry") == 0) {
        if (id == NULL || tuples != NULL) {
            ts_client_error(c, "bad", "a retry needs an \"id\" and puts no tuples");
            return;
        }
    } else if (tuples != NULL && ts_wire_out_of(req, &batch, err, sizeof err) < 0) {
        ts_client_error(c, "bad", "%s", err);
        ts_batch_free(&batch);
        return;
    }
    if (id != NULL && !ts_block_lends(b, lent)) {
        ts_client_error(c, "nomatch", "no tuple is lent to this client as id %" PRIu64, lent);
        ts_batch_free(&batch);
        return;
    }
    if (strcmp(oc, "retry") == 0)
        ts_block_retry(b, lent, d);
    else if (id == NULL && b->worker != NULL && tuples != NULL &&
             ts_worker_defer(b->worker, json_incref(tuples),
                             status != NULL ? (int)json_integer_value(status) : 0))
        batch.n = 0; /* kept for later */
    else if (store_quiet(c, &batch, NULL, &stored) < 0) {
        /* Nothing stored, and the job not confirmed: it stays lent. */
        ts_batch_free(&batch);
        return;
    }
    if (id != NULL && strcmp(oc, "retry") != 0)
        ts_block_confirm(b, lent);
    if (b->worker != NULL && id != NULL)
        ts_worker_report(b->worker, oc, status != NULL ? (int)json_integer_value(status) : -1);
    ts_wire_ok_n(&c->out, batch.n);
    ts_client_touch(c, 0);
    ts_batch_free(&batch);
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

static void
op_dump(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);
    json_t *tmpl = json_object_get(req, "tmpl"), *limit = json_object_get(req, "limit");
    struct ts_dump_req r = {NULL, 1, 0, 0, SIZE_MAX};
    struct ts_dump_res res;
    const char *flags[] = {"tuples", "waiters", "explain"};
    int *flag[] = {&r.tuples, &r.waiters, &r.explain};
    struct ts_tmpl *tm = NULL;
    char err[300];
    size_t i;

    /* It may list tuples whose outs are not yet synced. */
    block_of(c)->need = o->blocking.writes;

    for (i = 0; i < 3; i++) {
        json_t *v = json_object_get(req, flags[i]);

        if (v != NULL && !json_is_boolean(v)) {
            ts_client_error(c, "bad", "\"%s\" must be true or false", flags[i]);
            return;
        }
        if (v != NULL)
            *flag[i] = json_is_true(v);
    }
    if (limit != NULL) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 0) {
            ts_client_error(c, "bad", "\"limit\" must be a non-negative integer");
            return;
        }
        r.limit = (size_t)json_integer_value(limit);
    }
    if (tmpl != NULL && !json_is_null(tmpl) &&
        (tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err)) == NULL) {
        ts_client_error(c, "bad", "%s", err);
        return;
    }
    r.tm = tm;
    ts_dump(o->clients, &o->blocking, o->workers, &r, &c->out, &res);
    if (res.costly != NULL) {
        const struct ts_tuple *t = res.costly;

        ts_tmpl_costly(tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, err, sizeof err);
        ts_client_error(c, "costly", "%s", err);
    } else {
        ts_wire_ok_n(&c->out, res.n);
        ts_client_touch(c, 0);
    }
    ts_tmpl_free(tm);
}

struct group {
    uint32_t arity;
    const char *first; /* canonical text, in a stored tuple */
    size_t len;
    size_t n;
};

/* The largest groups so far, a min-heap on n of at most cap entries. */
struct groups {
    struct group *v;
    size_t n, cap;
};

static int
smaller(const struct group *a, const struct group *b)
{
    return a->n < b->n || (a->n == b->n && a->arity > b->arity);
}

static void
sift_down(struct groups *g, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct group t;

        if (l < g->n && smaller(&g->v[l], &g->v[m]))
            m = l;
        if (r < g->n && smaller(&g->v[r], &g->v[m]))
            m = r;
        if (m == i)
            return;
        t = g->v[i];
        g->v[i] = g->v[m];
        g->v[m] = t;
        i = m;
    }
}

static void
add_group(uint32_t arity, const char *first, size_t len, size_t n, void *arg)
{
    struct groups *g = arg;
    struct group e = {arity, first, len, n};
    size_t i;

    if (g->n < g->cap) {
        /* Up the heap. */
        for (i = g->n++; i > 0 && smaller(&e, &g->v[(i - 1) / 2]); i = (i - 1) / 2)
            g->v[i] = g->v[(i - 1) / 2];
        g->v[i] = e;
    } else if (smaller(&g->v[0], &e)) {
        g->v[0] = e;
        sift_down(g, 0);
    }
}

static int
by_size(const void *a, const void *b)
{
    const struct group *x = a, *y = b;

    return smaller(x, y) ? 1 : smaller(y, x) ? -1 : 0;
}

/* The "groups" of a stats request: tuples by arity and first field, largest first. */
static json_t *
groups(struct ts_store *st, size_t max)
{
    struct groups g = {ts_xcalloc(max, sizeof *g.v), 0, max};
    json_t *list = json_array();
    size_t i;

    ts_store_groups(st, add_group, &g);
    qsort(g.v, g.n, sizeof *g.v, by_size);
    for (i = 0; i < g.n; i++) {
        json_t *first = json_loadb(g.v[i].first, g.v[i].len, JSON_DECODE_ANY, NULL);

        json_array_append_new(list, json_pack("{s:o, s:I, s:I}", "first",
                                              first != NULL ? first : json_null(), "arity",
                                              (json_int_t)g.v[i].arity, "n", (json_int_t)g.v[i].n));
    }
    free(g.v);
    return list;
}

static void
op_stats(struct ts_client *c, json_t *req)
{
    struct ts_ops *o = ctx_of(c);
    struct ts_space *space = o->blocking.space;
    json_t *g = json_object_get(req, "groups"), *reply, *names;
    struct ts_lease_stats ls;
    struct ts_store_stats s;

    if (g != NULL &&
        (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > GROUPS_MAX)) {
        ts_client_error(c, "bad", "\"groups\" must be an integer from 0 to %d", GROUPS_MAX);
        return;
    }
    ts_store_stats(space->store, &s);
    ts_leases_stats(space->leases, &ls);
    reply = json_pack("{s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I}}",
                      "ok", 1, "stats", "tuples", (json_int_t)(s.tuples - s.lent), "lent",
                      (json_int_t)s.lent, "retrying", (json_int_t)o->blocking.nholds, "bytes",
                      (json_int_t)s.bytes, "clients", (json_int_t)o->clients->count, "waiters",
                      (json_int_t)space->waiters.count, "workers",
                      (json_int_t)ts_workers_count(o->workers), "ops", (json_int_t)o->count, "pid",
                      (json_int_t)getpid(), "uptime", ts_wall_clock() - o->started, "leases",
                      (json_int_t)ls.deadlines, "bound", (json_int_t)ls.bound, "followers",
                      (json_int_t)(space->events != NULL ? space->events->n : 0));
    names = json_object();
    ts_workers_tally(o->workers, names);
    json_object_set_new(reply, "names", names);
    if (o->blocking.journal != NULL) {
        struct ts_journal_stats js;
        json_t *st = json_object_get(reply, "stats");

        ts_journal_stats(o->blocking.journal, &js);
        json_object_set_new(st, "log_bytes", json_integer((json_int_t)js.log_bytes));
        json_object_set_new(st, "syncs", json_integer((json_int_t)js.syncs));
        json_object_set_new(st, "compactions", json_integer((json_int_t)js.compactions));
    }
    if (g != NULL && json_integer_value(g) > 0)
        json_object_set_new(reply, "groups", groups(space->store, (size_t)json_integer_value(g)));
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
    else if (json_object_get(req, "wait") != NULL)
        eval_wait(c, req);
    else if (json_object_get(req, "log") != NULL)
        eval_log(c, req);
    else if (json_object_get(req, "scale") != NULL)
        eval_scale(c, req);
    else
        eval_start(c, req);
}

/* An optional number member from lo to hi; -1 with an error sent if it is bad. */
static int
number_in(struct ts_client *c, json_t *req, const char *key, double lo, double hi, double *v)
{
    json_t *n = json_object_get(req, key);

    if (n == NULL)
        return 0;
    *v = json_number_value(n);
    if (!json_is_number(n) || !(*v >= lo) || *v > hi) {
        ts_client_error(c, "bad", "\"%s\" must be a number from %g to %g", key, lo, hi);
        return -1;
    }
    return 0;
}

/* The supervision and job options of a start request. */
static int
eval_options(struct ts_client *c, json_t *req, struct ts_eval *e)
{
    json_t *restart = json_object_get(req, "restart"), *in = json_object_get(req, "stdin");
    json_t *joblog = json_object_get(req, "joblog");
    double retries = 0;

    e->grace = -1;
    if (number_in(c, req, "retries", 0, RETRIES_MAX, &retries) < 0 ||
        number_in(c, req, "backoff", 0, 86400, &e->backoff) < 0 ||
        number_in(c, req, "timeout", 0, TS_TIMEOUT_MAX, &e->timeout) < 0 ||
        number_in(c, req, "grace", 0, TS_GRACE_MAX, &e->grace) < 0)
        return -1;
    if (retries != (long)retries) {
        ts_client_error(c, "bad", "\"retries\" must be an integer");
        return -1;
    }
    e->retries = (long)retries;
    if (restart != NULL) {
        const char *r = json_string_value(restart);

        if (r != NULL && strcmp(r, "always") == 0)
            e->restart = TS_RESTART_ALWAYS;
        else if (r != NULL && strcmp(r, "on-failure") == 0)
            e->restart = TS_RESTART_ON_FAILURE;
        else if (r != NULL && strcmp(r, "never") == 0)
            e->restart = TS_RESTART_NEVER;
        else {
            ts_client_error(c, "bad",
                            "\"restart\" must be \"always\", \"on-failure\" or \"never\"");
            return -1;
        }
    }
    if (in != NULL) {
        const char *v = json_string_value(in);

        if (v == NULL || (strcmp(v, "null") != 0 && strcmp(v, "tuple") != 0)) {
            ts_client_error(c, "bad", "\"stdin\" must be \"tuple\" or \"null\"");
            return -1;
        }
        e->stdin_null = strcmp(v, "null") == 0;
    }
    if (joblog != NULL) {
        e->joblog = json_string_value(joblog);
        if (e->joblog == NULL || e->joblog[0] != '/') {
            ts_client_error(c, "bad", "\"joblog\" must be an absolute path");
            return -1;
        }
    }
    return 0;
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
    struct ts_eval e = {.name = NULL,
                        .n = 1,
                        .argv = json_object_get(req, "argv"),
                        .env = json_object_get(req, "env"),
                        .take = json_object_get(req, "take"),
                        .put = json_object_get(req, "put")};
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
    if (eval_options(c, req, &e) < 0)
        return;
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

static void
eval_wait(struct ts_client *c, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "wait"));

    if (name == NULL) {
        ts_client_error(c, "bad", "\"wait\" must be a worker name");
        return;
    }
    /* The server's waited hook answers, from the loop, once the jobs are done. */
    if (ts_workers_wait(ctx_of(c)->workers, name, block_of(c)) < 0)
        ts_client_error(c, "nomatch", "no workers named '%s'", name);
    else
        ts_block_wait(block_of(c), TS_WAIT_DONE);
}

static void
eval_log(struct ts_client *c, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "log"));
    struct ts_buf text = TS_BUF_INIT;
    json_t *reply;

    if (name == NULL) {
        ts_client_error(c, "bad", "\"log\" must be a worker name");
        return;
    }
    if (ts_workers_log(ctx_of(c)->workers, name, &text) < 0) {
        ts_client_error(c, "nomatch", "no workers named '%s'", name);
    } else {
        reply = json_pack("{s:b, s:o}", "ok", 1, "log",
                          ts_text_string(ts_buf_head(&text), ts_buf_len(&text)));
        ts_wire_json(&c->out, reply);
        ts_client_touch(c, 0);
        json_decref(reply);
    }
    ts_buf_free(&text);
}

static void
eval_scale(struct ts_client *c, json_t *req)
{
    json_t *name = json_object_get(req, "scale"), *n = json_object_get(req, "n"), *pids, *reply;

    if (!json_is_string(name) || !json_is_integer(n) || json_integer_value(n) < 0 ||
        json_integer_value(n) > TS_EVAL_MAX) {
        ts_client_error(c, "bad", "scale needs a worker name and \"n\", an integer from 0 to %d",
                        TS_EVAL_MAX);
        return;
    }
    pids = json_array();
    if (ts_workers_scale(ctx_of(c)->workers, json_string_value(name), (long)json_integer_value(n),
                         pids) < 0) {
        ts_client_error(c, "nomatch", "no workers named '%s'", json_string_value(name));
        json_decref(pids);
        return;
    }
    reply = json_pack("{s:b, s:O, s:o}", "ok", 1, "name", name, "pids", pids);
    ts_wire_json(&c->out, reply);
    ts_client_touch(c, 0);
    json_decref(reply);
}
