/*
 * ops.c: the requests of the wire protocol (see ts-protocol(7)).
 *
 * Every request is one JSON object with an "op"; every request but "ack"
 * gets exactly one final line with "ok", after any tuple lines it produced.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"
#include "scan.h"
#include "tuple.h"
#include "worker.h"
#include "xmalloc.h"

/*
 * Tuples checked and in canonical text, ready to be stored together: a
 * batch goes in whole or not at all.
 */
struct batch {
    struct ts_buf text; /* the tuples' texts, one after another */
    uint32_t *off;      /* field offsets, each from its own tuple's start */
    size_t noff, offcap;
    struct {
        size_t start; /* where the tuple's text starts in text */
        size_t first; /* where its field offsets start in off */
    } *at;
    size_t n, cap;
};

/* What an in or rd asks for, however it was read. */
struct ask {
    int take;
    double timeout; /* seconds; negative for none */
    long want;      /* tuples wanted */
    int all;        /* every match now, without waiting */
};

typedef void op_fn(struct ts_client *c, json_t *req);

static op_fn op_ack, op_dump, op_eval, op_in, op_out, op_rd, op_shutdown, op_stats;
static void serve(struct ts_client *c, json_t *req, int take);
static void finish(struct ts_client *c);
static void on_timeout(struct ts_loop *loop, void *arg);
static void ack(struct ts_client *c, json_t *req);
static void confirm_upto(struct ts_client *c, uint64_t upto);
static int quick_ack(const char *line, size_t len, uint64_t *id);
static int quick_out(struct ts_client *c, const char *line, size_t len);
static int quick_ask(struct ts_client *c, const char *line, size_t len);
static void batch_mark(struct batch *b);
static void batch_store(struct ts_client *c, struct batch *b);
static void batch_free(struct batch *b);
static void use_template(struct ts_client *c, struct ts_tmpl *tm, const char *p, size_t n);
static void ask(struct ts_client *c, const struct ask *a);
static double wall_clock(void);

/* Sorted by name, as documented. */
static const struct {
    const char *name;
    op_fn *fn;
} ops[] = {
    {"ack", op_ack},   {"dump", op_dump},         {"eval", op_eval},   {"in", op_in},
    {"out", op_out},   {"rd", op_rd},             {"shutdown", op_shutdown},
    {"stats", op_stats},
};

void
ts_ops_dispatch(struct ts_client *c, const char *line, size_t len)
{
    json_error_t e;
    json_t *req, *op, *v;
    const char *name;
    size_t i;

    uint64_t id;

    if (len == 0)
        return; /* blank lines are allowed, for people typing at socat */
    if (quick_ack(line, len, &id)) {
        c->srv->ops++;
        confirm_upto(c, id);
        return;
    }
    if (quick_out(c, line, len) || quick_ask(c, line, len)) {
        c->srv->ops++;
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
    v = json_object_get(req, "v");
    if (v != NULL && !(json_is_integer(v) && json_integer_value(v) == TS_PROTO_VERSION)) {
        ts_client_error(c, "version", "unsupported protocol version (this daemon speaks %d)",
                        TS_PROTO_VERSION);
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
            c->srv->ops++;
            ops[i].fn(c, req);
            goto out;
        }
    }
    ts_client_error(c, "bad", "unknown op '%.64s'", name);
out:
    json_decref(req);
}

int
ts_ops_try_ack(struct ts_client *c, const char *line, size_t len)
{
    json_t *req, *op;
    uint64_t id;
    int rc = 0;

    if (quick_ack(line, len, &id)) {
        c->srv->ops++;
        confirm_upto(c, id);
        return 1;
    }
    if (strstr(line, "\"ack\"") == NULL)
        return 0;
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    op = json_object_get(req, "op");
    /* Anything but a well-formed ack waits its turn, so its error comes in order. */
    if (json_is_string(op) && strcmp(json_string_value(op), "ack") == 0 &&
        json_object_get(req, "v") == NULL && json_is_integer(json_object_get(req, "id")) &&
        json_integer_value(json_object_get(req, "id")) >= 0) {
        c->srv->ops++;
        ack(c, req);
        rc = 1;
    }
    json_decref(req);
    return rc;
}

/*
 * A third of all requests are acks, and clients send them in exactly this
 * form: confirm it without building a JSON object.  Anything else goes the
 * long way, through jansson.
 */
static int
quick_ack(const char *line, size_t len, uint64_t *id)
{
    static const char head[] = "{\"op\":\"ack\",\"id\":";
    size_t i = sizeof head - 1;
    uint64_t n = 0;

    if (len < i + 2 || memcmp(line, head, i) != 0 || line[len - 1] != '}')
        return 0;
    /* Exactly what JSON allows: no leading zero, and within a json_int_t. */
    if (line[i] == '0' && i + 1 < len - 1)
        return 0;
    for (; i < len - 1; i++) {
        if (line[i] < '0' || line[i] > '9' || n > ((uint64_t)INT64_MAX - 9) / 10)
            return 0;
        n = n * 10 + (uint64_t)(line[i] - '0');
    }
    *id = n;
    return i > sizeof head - 1;
}

/*
 * After the request's last value: the closing characters in close, with
 * whitespace allowed around each, and then the end of the line.
 */
static int
closes(const char *p, const char *end, const char *close)
{
    for (; *close != '\0'; close++) {
        p = ts_scan_space(p, end);
        if (p == end || *p++ != *close)
            return 0;
    }
    return ts_scan_space(p, end) == end;
}

/*
 * Out in the two forms clients send, {"op":"out","tuple":T} and
 * {"op":"out","tuples":[T,...]}, with tuples of the simple subset (scan.h).
 */
static int
quick_out(struct ts_client *c, const char *line, size_t len)
{
    static const char one[] = "{\"op\":\"out\",\"tuple\":", many[] = "{\"op\":\"out\",\"tuples\":[";
    struct batch b = {TS_BUF_INIT, NULL, 0, 0, NULL, 0, 0};
    const char *p = NULL, *end = line + len;
    int ok = 0;

    if (len > sizeof many && memcmp(line, many, sizeof many - 1) == 0) {
        for (p = line + sizeof many - 1;; p++) {
            batch_mark(&b);
            p = ts_scan_tuple(p, end, &b.text, &b.off, &b.noff, &b.offcap);
            if (p == NULL)
                break;
            p = ts_scan_space(p, end);
            if (p == end || *p != ',')
                break;
        }
        ok = p != NULL && closes(p, end, "]}");
    } else if (len > sizeof one && memcmp(line, one, sizeof one - 1) == 0) {
        batch_mark(&b);
        p = ts_scan_tuple(line + sizeof one - 1, end, &b.text, &b.off, &b.noff, &b.offcap);
        ok = p != NULL && closes(p, end, "}");
    }
    if (ok)
        batch_store(c, &b);
    batch_free(&b);
    return ok;
}

/*
 * A JSON number, exactly as the grammar has it (strtod alone would also
 * take "01", "1." or "inf").  Returns the byte after it, or NULL.
 */
static const char *
quick_number(const char *p, const char *end, double *d)
{
    const char *s = p, *digits;
    char *e;

    if (p < end && *p == '-')
        p++;
    for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
        ;
    if (p == digits || (*digits == '0' && p - digits > 1))
        return NULL;
    if (p < end && *p == '.') {
        for (digits = ++p; p < end && *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return NULL;
    }
    *d = strtod(s, &e);
    return e == p ? p : NULL;
}

/*
 * In and rd as clients send them: {"op":"in","tmpl":T} with any of
 * "timeout", "count" and "all" after the template, once each.  A template
 * the client used last time is not even parsed; a new one is parsed on its
 * own and compiled.  Whatever this does not take (and every error) goes the
 * long way.
 */
static int
quick_ask(struct ts_client *c, const char *line, size_t len)
{
    static const char in[] = "{\"op\":\"in\",\"tmpl\":", rd[] = "{\"op\":\"rd\",\"tmpl\":";
    const char *p = line + sizeof in - 1, *end = line + len, *t, *tend;
    struct ask a = {0, -1, 1, 0};
    unsigned seen = 0;
    double d;

    if (len > sizeof in && memcmp(line, in, sizeof in - 1) == 0)
        a.take = 1;
    else if (len > sizeof rd && memcmp(line, rd, sizeof rd - 1) == 0)
        a.take = 0;
    else
        return 0;
    t = ts_scan_space(p, end);
    if ((tend = ts_scan_value(t, end, NULL)) == NULL)
        return 0;
    for (p = ts_scan_space(tend, end); p < end && *p == ','; p = ts_scan_space(p, end)) {
        p = ts_scan_space(p + 1, end);
        if ((size_t)(end - p) > 10 && memcmp(p, "\"timeout\":", 10) == 0 && !(seen & 1)) {
            p = quick_number(ts_scan_space(p + 10, end), end, &a.timeout);
            if (p == NULL || !(a.timeout >= 0) || a.timeout > 1e9)
                return 0;
            seen |= 1;
        } else if ((size_t)(end - p) > 8 && memcmp(p, "\"count\":", 8) == 0 && !(seen & 2)) {
            const char *n = ts_scan_space(p + 8, end);

            /*
             * An integer that fits jansson's: it reads 1.0 or 1e0 as a real,
             * and refuses integers it cannot hold, and says so.
             */
            p = quick_number(n, end, &d);
            if (p == NULL || !(d >= 1) || strcspn(n, ".eE") < (size_t)(p - n) || p - n > 18)
                return 0;
            a.want = d > 0x7fffffff ? 0x7fffffff : (long)d;
            seen |= 2;
        } else if ((size_t)(end - p) > 6 && memcmp(p, "\"all\":", 6) == 0 && !(seen & 4)) {
            p = ts_scan_space(p + 6, end);
            if ((size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0)
                a.all = 1, p += 4;
            else if ((size_t)(end - p) >= 5 && memcmp(p, "false", 5) == 0)
                p += 5;
            else
                return 0;
            seen |= 4;
        } else {
            return 0;
        }
    }
    if (!closes(p, end, "}"))
        return 0;
    if (c->tmpl_text == NULL || c->tmpl_len != (size_t)(tend - t) ||
        memcmp(c->tmpl_text, t, c->tmpl_len) != 0) {
        json_t *wire = json_loadb(t, (size_t)(tend - t), 0, NULL);
        struct ts_tmpl *tm;
        char err[300];

        if (wire == NULL || (tm = ts_tmpl_compile(wire, err, sizeof err)) == NULL)
            return 0; /* the long way says what is wrong */
        use_template(c, tm, t, (size_t)(tend - t));
    }
    ask(c, &a);
    return 1;
}

static void
send_ok_n(struct ts_client *c, long n)
{
    ts_buf_add(&c->out, "{\"ok\":true,\"n\":", 15);
    ts_buf_add_u64(&c->out, (uint64_t)n);
    ts_client_send(c, "}\n", 2);
}

/* Tuple b->n starts here. */
static void
batch_mark(struct batch *b)
{
    b->at = xgrow(b->at, &b->cap, b->n + 1, sizeof *b->at);
    b->at[b->n].start = ts_buf_len(&b->text);
    b->at[b->n].first = b->noff;
    b->n++;
}

static void
batch_store(struct ts_client *c, struct batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        size_t end = i + 1 < b->n ? b->at[i + 1].start : ts_buf_len(&b->text);
        size_t last = i + 1 < b->n ? b->at[i + 1].first : b->noff;

        ts_space_out(&c->srv->space, ts_buf_head(&b->text) + b->at[i].start,
                     end - b->at[i].start, b->off + b->at[i].first,
                     (uint32_t)(last - b->at[i].first));
    }
    send_ok_n(c, (long)b->n);
}

static void
batch_free(struct batch *b)
{
    ts_buf_free(&b->text);
    free(b->off);
    free(b->at);
}

static void
op_out(struct ts_client *c, json_t *req)
{
    json_t *one = json_object_get(req, "tuple"), *many = json_object_get(req, "tuples");
    struct batch b = {TS_BUF_INIT, NULL, 0, 0, NULL, 0, 0};
    size_t n, i;
    char err[200];

    if ((one == NULL) == (many == NULL)) {
        ts_client_error(c, "bad", "out needs exactly one of \"tuple\" and \"tuples\"");
        return;
    }
    if (many != NULL && !json_is_array(many)) {
        ts_client_error(c, "bad", "\"tuples\" must be an array of tuples");
        return;
    }
    n = one != NULL ? 1 : json_array_size(many);
    for (i = 0; i < n; i++) {
        json_t *t = one != NULL ? one : json_array_get(many, i);
        size_t arity = json_array_size(t);

        batch_mark(&b);
        b.off = xgrow(b.off, &b.offcap, b.noff + arity + 1, sizeof *b.off);
        if (ts_canon_tuple(t, &b.text, b.off + b.noff, err, sizeof err) < 0) {
            if (one != NULL)
                ts_client_error(c, "bad", "%s", err);
            else
                ts_client_error(c, "bad", "tuple %zu: %s", i + 1, err);
            goto out;
        }
        b.noff += arity;
    }
    batch_store(c, &b);
out:
    batch_free(&b);
}

static void
op_in(struct ts_client *c, json_t *req)
{
    serve(c, req, 1);
}

static void
op_rd(struct ts_client *c, json_t *req)
{
    serve(c, req, 0);
}

static void
serve(struct ts_client *c, json_t *req, int take)
{
    json_t *tmpl = json_object_get(req, "tmpl"), *tmo = json_object_get(req, "timeout");
    json_t *count = json_object_get(req, "count"), *all = json_object_get(req, "all");
    struct ask a = {take, -1, 1, json_is_true(all)};
    struct ts_tmpl *tm;
    char err[300];

    if (tmo != NULL && !json_is_null(tmo)) {
        a.timeout = json_number_value(tmo);
        if (!json_is_number(tmo) || !(a.timeout >= 0) || a.timeout > 1e9) {
            ts_client_error(c, "bad", "\"timeout\" must be a number of seconds from 0 to 1e9");
            return;
        }
    }
    if (count != NULL) {
        if (!json_is_integer(count) || json_integer_value(count) < 1) {
            ts_client_error(c, "bad", "\"count\" must be a positive integer");
            return;
        }
        a.want = json_integer_value(count) > 0x7fffffff ? 0x7fffffff
                                                        : (long)json_integer_value(count);
    }
    if (all != NULL && !json_is_boolean(all)) {
        ts_client_error(c, "bad", "\"all\" must be true or false");
        return;
    }
    if (tmpl == NULL) {
        ts_client_error(c, "bad", "%s needs a \"tmpl\"", take ? "in" : "rd");
        return;
    }
    /* A worker loop asks with the same template every time: compile it once. */
    if (c->w.tm == NULL || !json_equal(c->w.tm->wire, tmpl)) {
        tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err);
        if (tm == NULL) {
            ts_client_error(c, "bad", "%s", err);
            return;
        }
        use_template(c, tm, NULL, 0);
    }
    ask(c, &a);
}

/* From now on c asks with tm, compiled from the wire text p (if known). */
static void
use_template(struct ts_client *c, struct ts_tmpl *tm, const char *p, size_t n)
{
    ts_tmpl_free(c->w.tm);
    c->w.tm = tm;
    free(c->tmpl_text);
    c->tmpl_text = p != NULL ? xstrndup(p, n) : NULL;
    c->tmpl_len = n;
}

/* Serve an in or rd with c->w.tm. */
static void
ask(struct ts_client *c, const struct ask *a)
{
    int now = a->all || a->timeout == 0;

    c->w.take = a->take;
    c->want = a->all ? -1 : a->want;
    c->got = 0;
    c->timeout = a->timeout;
    c->since = wall_clock();
    c->flags |= TS_CLIENT_BLOCKED;
    if (ts_space_request(&c->srv->space, &c->w, now))
        return; /* satisfied from the store; the delivery finished it */
    if (now) {
        finish(c);
        return;
    }
    if (a->timeout > 0) {
        c->timer.fn = on_timeout;
        ts_timer_set(c->srv->loop, &c->timer,
                     ts_now() + (uint64_t)llround(a->timeout * 1e9));
    }
}

/* The request is over: the final line, and the client may go on. */
static void
finish(struct ts_client *c)
{
    if (c->got > 0)
        send_ok_n(c, c->got);
    else
        ts_client_error(c, "nomatch", "no matching tuple");
    c->flags &= ~TS_CLIENT_BLOCKED;
    ts_timer_cancel(c->srv->loop, &c->timer);
    ts_client_touch(c, TS_CLIENT_RESUME);
}

static void
on_timeout(struct ts_loop *loop, void *arg)
{
    struct ts_client *c = arg;

    (void)loop;
    ts_space_cancel(&c->srv->space, &c->w);
    finish(c);
}

int
ts_ops_deliver(struct ts_waiter *w, struct ts_tuple *t, void *arg)
{
    struct ts_client *c = w->owner;
    struct ts_buf *out = &c->out;

    (void)arg;
    if (w->take) {
        c->lent = xgrow(c->lent, &c->lentcap, c->nlent + 1, sizeof *c->lent);
        c->lent[c->nlent].t = t;
        c->lent[c->nlent].id = ++c->next_id;
        c->nlent++;
        ts_buf_add(out, "{\"id\":", 6);
        ts_buf_add_u64(out, c->next_id);
        ts_buf_add(out, ",\"tuple\":", 9);
        if (c->worker != NULL)
            ts_workers_note(c->worker, t);
    } else {
        ts_buf_addstr(out, "{\"tuple\":");
    }
    ts_buf_add(out, ts_tuple_text(t), t->len);
    ts_buf_add(out, "}\n", 2);
    ts_client_touch(c, 0);
    c->got++;
    if (c->want > 0 && c->got >= c->want) {
        finish(c);
        return 1;
    }
    return 0;
}

void
ts_ops_cancel(struct ts_client *c)
{
    if (!(c->flags & TS_CLIENT_BLOCKED))
        return;
    ts_workers_forget(c->srv->workers, c);
    ts_space_cancel(&c->srv->space, &c->w);
    ts_timer_cancel(c->srv->loop, &c->timer);
    c->flags &= ~TS_CLIENT_BLOCKED;
}

static void
op_ack(struct ts_client *c, json_t *req)
{
    ack(c, req);
}

/* Confirm every tuple lent to this client with an id up to the one given. */
static void
ack(struct ts_client *c, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    json_int_t upto;

    if (!json_is_integer(id) || json_integer_value(id) < 0) {
        ts_client_error(c, "bad", "ack needs an \"id\", a non-negative integer");
        return;
    }
    upto = json_integer_value(id);
    confirm_upto(c, (uint64_t)upto);
}

static void
confirm_upto(struct ts_client *c, uint64_t upto)
{
    while (c->lent0 < c->nlent && c->lent[c->lent0].id <= upto) {
        ts_space_confirm(&c->srv->space, c->lent[c->lent0].t);
        c->lent0++;
    }
    if (c->lent0 == c->nlent) {
        c->lent0 = c->nlent = 0;
        if (c->worker != NULL)
            ts_workers_note(c->worker, NULL);
    }
}

struct dump_ctx {
    struct ts_client *c;
    long n;
};

static void
dump_tuple(struct ts_tuple *t, void *arg)
{
    struct dump_ctx *d = arg;

    ts_buf_addstr(&d->c->out, "{\"tuple\":");
    ts_buf_add(&d->c->out, ts_tuple_text(t), t->len);
    ts_buf_add(&d->c->out, "}\n", 2);
    d->n++;
}

static void
collect_waiter(struct ts_waiter *w, void *arg)
{
    json_t *list = arg;
    struct ts_client *c = w->owner;

    json_array_append_new(
        list, json_pack("{s:{s:I, s:s, s:O, s:f, s:o, s:I}}", "waiter", "pid", (json_int_t)c->pid,
                        "op", w->take ? "in" : "rd", "tmpl", w->tm->wire, "since", c->since,
                        "timeout", c->timeout >= 0 ? json_real(c->timeout) : json_null(), "seq",
                        (json_int_t)w->seq));
}

static int
by_seq(const void *a, const void *b)
{
    json_int_t x = json_integer_value(
        json_object_get(json_object_get(*(json_t *const *)a, "waiter"), "seq"));
    json_int_t y = json_integer_value(
        json_object_get(json_object_get(*(json_t *const *)b, "waiter"), "seq"));

    return (x > y) - (x < y);
}

static void
op_dump(struct ts_client *c, json_t *req)
{
    json_t *tmpl = json_object_get(req, "tmpl");
    struct dump_ctx d = {c, 0};
    char err[300];

    if (tmpl != NULL && !json_is_null(tmpl)) {
        struct ts_tmpl *tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err);
        struct ts_iter it;
        struct ts_tuple *t;

        if (tm == NULL) {
            ts_client_error(c, "bad", "%s", err);
            return;
        }
        ts_store_iter(c->srv->space.store, tm, &it);
        while ((t = ts_iter_next(&it)) != NULL)
            dump_tuple(t, &d);
        ts_tmpl_free(tm);
    } else {
        ts_store_each(c->srv->space.store, dump_tuple, &d);
    }
    if (json_is_true(json_object_get(req, "waiters"))) {
        json_t *list = json_array();
        json_t **v;
        size_t i, n;

        ts_waiters_each(&c->srv->space.waiters, collect_waiter, list);
        n = json_array_size(list);
        v = xmalloc((n ? n : 1) * sizeof *v);
        for (i = 0; i < n; i++)
            v[i] = json_array_get(list, i);
        qsort(v, n, sizeof *v, by_seq);
        for (i = 0; i < n; i++) {
            char *line;

            json_object_del(json_object_get(v[i], "waiter"), "seq");
            line = json_dumps(v[i], JSON_COMPACT);
            ts_buf_addstr(&c->out, line);
            ts_buf_add(&c->out, "\n", 1);
            free(line);
        }
        free(v);
        json_decref(list);
        ts_workers_dump(c->srv->workers, &c->out);
    }
    ts_client_touch(c, 0);
    send_ok_n(c, d.n);
}

static void
op_stats(struct ts_client *c, json_t *req)
{
    struct ts_server *srv = c->srv;
    struct ts_store_stats s;
    json_t *reply;
    char *line;

    (void)req;
    ts_store_stats(srv->space.store, &s);
    reply = json_pack("{s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}}", "ok", 1,
                      "stats", "tuples", (json_int_t)(s.tuples - s.lent), "lent",
                      (json_int_t)s.lent, "bytes", (json_int_t)s.bytes, "clients",
                      (json_int_t)srv->nclients, "waiters",
                      (json_int_t)srv->space.waiters.count, "workers",
                      (json_int_t)ts_workers_count(srv->workers), "ops",
                      (json_int_t)srv->ops, "pid", (json_int_t)getpid(), "uptime",
                      wall_clock() - ((double)srv->started.tv_sec +
                                      (double)srv->started.tv_nsec / 1e9));
    line = json_dumps(reply, JSON_COMPACT);
    ts_client_send(c, line, strlen(line));
    ts_client_send(c, "\n", 1);
    free(line);
    json_decref(reply);
}

static void
op_shutdown(struct ts_client *c, json_t *req)
{
    (void)req;
    /* Our pid: the one SO_PEERCRED tells is the process that called listen. */
    ts_buf_add(&c->out, "{\"ok\":true,\"pid\":", 17);
    ts_buf_add_u64(&c->out, (uint64_t)getpid());
    ts_client_send(c, "}\n", 2);
    ts_log("shutdown requested by pid %ld", (long)c->pid);
    ts_server_stop(c->srv);
}

static void
op_eval(struct ts_client *c, json_t *req)
{
    ts_workers_eval(c->srv->workers, c, req);
}

static double
wall_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
