/*
 * dump.c: the lines of the "dump" request (see dump.h and ts-dump(1)).
 *
 *   {"tuple":T}                             a visible tuple, oldest first,
 *   {"tuple":T,"deadline":D,"ttl":S,"owner":P}   with its lease if it has one
 *   {"lent":T,"holder":P,"id":N,"since":D,"age":S,...}   a lent tuple
 *   {"waiter":{...}}                        a waiting request
 *   {"worker":{...}}                        a worker (worker.h)
 *   {"retry":{...}}                         a job to be tried again (block.h)
 *
 * Times are seconds since the Epoch (D) and spans in seconds (S), to the
 * millisecond.  The lent tuples are found on their holders' lent lists,
 * the only place that knows who holds what.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "dump.h"
#include "explain.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "space.h"
#include "tuple.h"
#include "wire.h"
#include "worker.h"

#define EXPLAIN_EACH 10000  /* tuples looked at per waiter, at most */
#define EXPLAIN_ALL 1000000 /* ... and per dump */
#define EXPLAIN_LEAST 100   /* ... but at least this many per waiter */

struct held {
    const struct ts_tuple *t;
    long holder; /* the client's pid */
    uint64_t id;
    double since;
};

struct dump {
    struct ts_clients *clients;
    struct ts_space *space;
    const struct ts_dump_req *r;
    struct ts_buf *out;
    double now;        /* wall clock */
    uint64_t n;        /* tuple lines */
    struct held *held; /* every lent tuple, by address */
    size_t nheld;
};

static void lease_members(struct dump *d, const struct ts_tuple *t);
static void tuple_line(struct ts_tuple *t, void *arg);
static void collect_held(struct dump *d);
static void lent_lines(struct dump *d);
static void waiter_lines(struct dump *d);
static void line(struct ts_buf *out, json_t *v);

static double
ms(double s)
{
    return round(s * 1e3) / 1e3;
}

/* One object per line, reals to the digits they have (not jansson's 17). */
static void
line(struct ts_buf *out, json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_REAL_PRECISION(15));
    char *p = ts_buf_space(out, n + 1);

    if (p == NULL || n == 0)
        return;
    json_dumpb(v, p, n, JSON_COMPACT | JSON_REAL_PRECISION(15));
    p[n] = '\n';
    ts_buf_commit(out, n + 1);
}

static void
lease_members(struct dump *d, const struct ts_tuple *t)
{
    const struct ts_lease *l = ts_lease_of(t);

    if (l == NULL || l->ended)
        return;
    if (l->deadline != 0) {
        double deadline = (double)l->deadline / 1e9;

        ts_buf_printf(d->out, ",\"deadline\":%.3f,\"ttl\":%.3f", deadline,
                      deadline > d->now ? deadline - d->now : 0.0);
    }
    if (ts_lease_owner(l) != 0)
        ts_buf_printf(d->out, ",\"owner\":%ld", (long)ts_lease_owner(l));
}

static void
tuple_line(struct ts_tuple *t, void *arg)
{
    struct dump *d = arg;

    if (t->bound && !ts_space_alive(d->space, t))
        return;
    d->n++;
    if (!t->bound) {
        ts_wire_tuple(d->out, 0, ts_tuple_text(t), t->len);
        return;
    }
    ts_buf_add(d->out, "{\"tuple\":", 9);
    ts_buf_add(d->out, ts_tuple_text(t), t->len);
    lease_members(d, t);
    ts_buf_add(d->out, "}\n", 2);
}

static int
by_address(const void *a, const void *b)
{
    const struct ts_tuple *x = ((const struct held *)a)->t, *y = ((const struct held *)b)->t;

    return (x > y) - (x < y);
}

static int
by_seq(const void *a, const void *b)
{
    uint64_t x = ((const struct held *)a)->t->seq, y = ((const struct held *)b)->t->seq;

    return (x > y) - (x < y);
}

/* Every tuple lent now, from its holder's list. */
static void
collect_held(struct dump *d)
{
    struct ts_client *c;
    size_t cap = 0;

    for (c = d->clients->list; c != NULL; c = c->next) {
        struct ts_block *b = c->ctx;
        size_t i;

        if (b == NULL)
            continue;
        for (i = b->lent0; i < b->nlent; i++) {
            const struct ts_lease *l = ts_lease_of(b->lent[i].t);

            if (l != NULL && l->ended)
                continue; /* ended while lent: gone, whatever its holder does */
            d->held = ts_xgrow(d->held, &cap, d->nheld + 1, sizeof *d->held);
            d->held[d->nheld].t = b->lent[i].t;
            d->held[d->nheld].holder = (long)c->pid;
            d->held[d->nheld].id = b->lent[i].id;
            d->held[d->nheld].since = b->lent[i].since;
            d->nheld++;
        }
    }
}

static void
lent_lines(struct dump *d)
{
    struct held *v = ts_xmalloc((d->nheld ? d->nheld : 1) * sizeof *v);
    size_t i, shown = 0;

    if (d->nheld > 0) {
        memcpy(v, d->held, d->nheld * sizeof *v);
        qsort(v, d->nheld, sizeof *v, by_seq);
    }
    for (i = 0; i < d->nheld && shown < d->r->limit; i++) {
        const struct ts_tuple *t = v[i].t;

        /* One too costly to tell may match: it is shown. */
        if (d->r->tm != NULL &&
            ts_tmpl_match(d->r->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, NULL) == 0)
            continue;
        ts_buf_add(d->out, "{\"lent\":", 8);
        ts_buf_add(d->out, ts_tuple_text(t), t->len);
        ts_buf_printf(d->out, ",\"holder\":%ld,\"id\":", v[i].holder);
        ts_buf_add_u64(d->out, v[i].id);
        ts_buf_printf(d->out, ",\"since\":%.3f,\"age\":%.3f", v[i].since,
                      d->now > v[i].since ? d->now - v[i].since : 0.0);
        lease_members(d, t);
        ts_buf_add(d->out, "}\n", 2);
        shown++;
    }
    free(v);
}

static int
not_alive(void *arg, const struct ts_tuple *t)
{
    struct dump *d = arg;

    return t->bound && !ts_space_alive(d->space, t);
}

/* Why the waiter of block b waits: the near miss, as a JSON object (or null). */
static json_t *
near_miss(struct dump *d, struct ts_block *b, size_t budget, size_t *same)
{
    struct ts_near n;
    json_t *tuple;
    char why[700];

    ts_explain(d->space->store, b->w.tm, budget, not_alive, d, &n);
    *same = n.same_length;
    if (n.t == NULL)
        return json_null();
    if (n.same_length > 0 && n.differ == 0) {
        struct held key = {n.t, 0, 0, 0}, *h;

        h = d->nheld > 0 ? bsearch(&key, d->held, d->nheld, sizeof *d->held, by_address) : NULL;
        if (h != NULL)
            snprintf(why, sizeof why,
                     "%.*s matches, but it is lent to pid %ld, which has not "
                     "confirmed it",
                     (int)(n.t->len > 200 ? 200 : n.t->len), ts_tuple_text(n.t), h->holder);
        else if (n.t->lent)
            snprintf(why, sizeof why,
                     "%.*s matches, but it waits to be tried again (failed %u time%s)",
                     (int)(n.t->len > 200 ? 200 : n.t->len), ts_tuple_text(n.t),
                     (unsigned)n.t->failed, n.t->failed == 1 ? "" : "s");
        else if (!b->w.take)
            snprintf(why, sizeof why,
                     "%.*s matches; this request has had it, and waits for %ld more",
                     (int)(n.t->len > 200 ? 200 : n.t->len), ts_tuple_text(n.t), b->want - b->got);
        else
            snprintf(why, sizeof why, "%.*s matches", (int)(n.t->len > 200 ? 200 : n.t->len),
                     ts_tuple_text(n.t));
    } else {
        snprintf(why, sizeof why, "%s", n.why);
    }
    tuple = json_loadb(ts_tuple_text(n.t), n.t->len, 0, NULL);
    return json_pack("{s:o, s:o, s:o}", "tuple", tuple != NULL ? tuple : json_null(), "field",
                     n.field > 0 ? json_integer(n.field) : json_null(), "why",
                     ts_text_string(why, strlen(why)));
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

/*
 * Every waiting in or rd, paused ones included (block.h): found on the
 * clients, since a paused request is not among the space's waiters.
 */
static void
waiter_lines(struct dump *d)
{
    struct ts_block **v = ts_xmalloc((d->clients->count + 1) * sizeof *v);
    struct ts_client *c;
    size_t i, n = 0, budget;

    for (c = d->clients->list; c != NULL; c = c->next) {
        struct ts_block *b = c->ctx;

        if (b != NULL && b->why == TS_WAIT_TUPLES &&
            (d->r->tm == NULL || ts_tmpl_overlap(d->r->tm, b->w.tm)))
            v[n++] = b;
    }
    if (n > 0)
        qsort(v, n, sizeof *v, by_since);
    budget = n > 0 ? EXPLAIN_ALL / n : 0;
    budget = budget > EXPLAIN_EACH ? EXPLAIN_EACH : budget < EXPLAIN_LEAST ? EXPLAIN_LEAST : budget;
    for (i = 0; i < n && i < d->r->limit; i++) {
        struct ts_block *b = v[i];
        json_t *w = json_pack(
            "{s:I, s:s, s:O, s:f, s:f, s:o, s:b, s:I}", "pid", (json_int_t)b->client->pid, "op",
            b->w.take ? "in" : "rd", "tmpl", b->w.tm->wire, "since", ms(b->since), "age",
            ms(d->now - b->since), "timeout", b->timeout >= 0 ? json_real(b->timeout) : json_null(),
            "paused", b->paused, "queued", (json_int_t)ts_buf_len(&b->client->out));
        json_t *line_v;

        if (d->r->explain) {
            size_t same = 0;
            json_t *nm = near_miss(d, b, budget, &same);

            json_object_set_new(w, "same_length", json_integer((json_int_t)same));
            json_object_set_new(w, "near_miss", nm);
        }
        line_v = json_pack("{s:o}", "waiter", w);
        line(d->out, line_v);
        json_decref(line_v);
    }
    free(v);
}

/* A job back in the space after failed attempts: which attempt comes next. */
static void
retry_line(struct ts_tuple *t, void *arg)
{
    struct dump *d = arg;

    if (t->failed == 0)
        return;
    ts_buf_addstr(d->out, "{\"retry\":{\"attempt\":");
    ts_buf_add_u64(d->out, t->failed + 1u);
    ts_buf_addstr(d->out, ",\"due\":null,\"tuple\":");
    ts_buf_add(d->out, ts_tuple_text(t), t->len);
    ts_buf_add(d->out, "}}\n", 3);
}

void
ts_dump(struct ts_clients *clients, struct ts_blocking *blocking, struct ts_workers *workers,
        const struct ts_dump_req *r, struct ts_buf *out, struct ts_dump_res *res)
{
    struct dump d = {clients, blocking->space, r, out, ts_wall_clock(), 0, NULL, 0};

    res->costly = NULL;
    if (r->tuples) {
        if (r->tm != NULL) {
            struct ts_iter it;
            struct ts_tuple *t;

            ts_store_iter(d.space->store, r->tm, &it);
            while ((t = ts_iter_next(&it)) != NULL)
                tuple_line(t, &d);
            if (it.costly != NULL) {
                res->n = d.n;
                res->costly = it.costly;
                return;
            }
        } else {
            ts_store_each(d.space->store, tuple_line, &d);
        }
    }
    if (r->waiters) {
        collect_held(&d);
        lent_lines(&d);
        if (d.nheld > 0)
            qsort(d.held, d.nheld, sizeof *d.held, by_address);
        waiter_lines(&d);
        ts_workers_dump(workers, out);
        ts_blocking_dump(blocking, out);
        ts_store_each(d.space->store, retry_line, &d);
    }
    free(d.held);
    res->n = d.n;
}
