/*
 * waiter.c: the index of blocked requests (see waiter.h).
 */
#include <string.h>

#include "tuple.h"
#include "waiter.h"
#include "mem.h"

static int same_literal(const struct ts_bucket *b, const struct ts_key *k);
static void waiter_key(struct ts_waiters *ws, const struct ts_waiter *w, struct ts_key *k);
static void make_key(struct ts_key *k, uint32_t arity, uint32_t pos, int take, const char *text,
                     size_t len);

void
ts_waiters_init(struct ts_waiters *ws)
{
    ts_index_init(&ws->ix, same_literal);
    ws->seq = 0;
    ws->count = 0;
}

void
ts_waiters_free(struct ts_waiters *ws)
{
    ts_index_free(&ws->ix);
}

static int
same_literal(const struct ts_bucket *b, const struct ts_key *k)
{
    const struct ts_waiter *w = b->head;
    const struct ts_tfield *f = &w->tm->f[k->pos & ~TS_WAIT_TAKE];

    return f->litlen == k->len && memcmp(f->lit, k->text, k->len) == 0;
}

static void
make_key(struct ts_key *k, uint32_t arity, uint32_t pos, int take, const char *text, size_t len)
{
    k->arity = arity;
    k->pos = pos == TS_POS_ARITY ? (take ? TS_POS_ARITY - 1 : TS_POS_ARITY)
                                 : (pos | (take ? TS_WAIT_TAKE : 0));
    k->text = text;
    k->len = len;
    k->hash = ts_hash(arity, k->pos, text, len);
}

/* The shortest list among the waiter's literals, the rightmost on a tie. */
static void
waiter_key(struct ts_waiters *ws, const struct ts_waiter *w, struct ts_key *k)
{
    const struct ts_tmpl *tm = w->tm;
    size_t best = SIZE_MAX;
    uint32_t i;

    make_key(k, tm->arity, TS_POS_ARITY, w->take, NULL, 0);
    for (i = tm->arity; i-- > 0;) {
        const struct ts_tfield *f = &tm->f[i];
        struct ts_bucket *b;
        struct ts_key cand;
        size_t n;

        if (f->kind != TS_F_LIT)
            continue;
        make_key(&cand, tm->arity, i, w->take, f->lit, f->litlen);
        b = ts_index_get(&ws->ix, &cand);
        n = b != NULL ? b->count : 0;
        if (n < best) {
            best = n;
            *k = cand;
        }
        if (n == 0)
            break;
    }
}

void
ts_waiters_add(struct ts_waiters *ws, struct ts_waiter *w)
{
    struct ts_bucket *b;
    struct ts_waiter *tail;
    struct ts_key k;

    waiter_key(ws, w, &k);
    b = ts_index_put(&ws->ix, &k);
    tail = b->tail;
    w->seq = ++ws->seq;
    w->bucket = b;
    w->prev = tail;
    w->next = NULL;
    if (tail != NULL)
        tail->next = w;
    else
        b->head = w;
    b->tail = w;
    b->count++;
    ws->count++;
}

void
ts_waiters_del(struct ts_waiters *ws, struct ts_waiter *w)
{
    struct ts_bucket *b = w->bucket;

    if (b == NULL)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        b->tail = w->prev;
    if (--b->count == 0)
        ts_index_del(&ws->ix, b);
    w->bucket = NULL;
    w->prev = w->next = NULL;
    ws->count--;
}

static void
append(struct ts_waiter *w, int costly, struct ts_waiter ***rds, size_t *nrd, size_t *cap)
{
    w->costly = costly;
    *rds = ts_xgrow(*rds, cap, *nrd + 1, sizeof **rds);
    (*rds)[(*nrd)++] = w;
}

/* Takers' lists are in arrival order: the first match is the one that waited longest. */
static struct ts_waiter *
scan_takers(struct ts_bucket *b, const struct ts_tuple *t, struct ts_waiter *best,
            struct ts_waiter ***rds, size_t *nrd, size_t *cap)
{
    struct ts_waiter *w;
    int m;

    for (w = b != NULL ? b->head : NULL; w != NULL; w = w->next) {
        if (best != NULL && best->seq < w->seq)
            break;
        m = ts_tmpl_match(w->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, NULL);
        if (m == TS_MATCH_COSTLY)
            append(w, 1, rds, nrd, cap);
        else if (m)
            return w;
    }
    return best;
}

static void
scan_readers(struct ts_bucket *b, const struct ts_tuple *t, struct ts_waiter ***rds, size_t *nrd,
             size_t *cap)
{
    struct ts_waiter *w;
    int m;

    for (w = b != NULL ? b->head : NULL; w != NULL; w = w->next) {
        m = ts_tmpl_match(w->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, NULL);
        if (m)
            append(w, m == TS_MATCH_COSTLY, rds, nrd, cap);
    }
}

struct ts_waiter *
ts_waiters_match(struct ts_waiters *ws, const struct ts_tuple *t, struct ts_waiter ***rds,
                 size_t *nrd, size_t *cap)
{
    const uint32_t *off = ts_tuple_off(t);
    struct ts_waiter *best = NULL, *w;
    size_t first = *nrd, j, n;
    struct ts_key k;
    uint32_t i;

    if (ws->count == 0)
        return NULL;
    for (i = 0; i <= t->arity; i++) {
        const char *text = i < t->arity ? ts_tuple_text(t) + off[i] : NULL;
        size_t len = i < t->arity ? ts_field_len(off, t->arity, t->len, i) : 0;
        uint32_t pos = i < t->arity ? i : TS_POS_ARITY;

        make_key(&k, t->arity, pos, 0, text, len);
        scan_readers(ts_index_get(&ws->ix, &k), t, rds, nrd, cap);
        make_key(&k, t->arity, pos, 1, text, len);
        best = scan_takers(ts_index_get(&ws->ix, &k), t, best, rds, nrd, cap);
    }
    /* An in that came after the taker was never offered the tuple: it has not failed. */
    for (j = n = first; j < *nrd; j++) {
        w = (*rds)[j];
        if (!(w->costly && w->take && best != NULL && w->seq > best->seq))
            (*rds)[n++] = w;
    }
    *nrd = n;
    return best;
}

void
ts_waiters_each(struct ts_waiters *ws, void (*fn)(struct ts_waiter *, void *), void *arg)
{
    size_t i;

    for (i = 0; i < ws->ix.nslots; i++) {
        struct ts_bucket *b;

        for (b = ws->ix.slots[i]; b != NULL; b = b->chain) {
            struct ts_waiter *w, *next;

            for (w = b->head; w != NULL; w = next) {
                next = w->next;
                fn(w, arg);
            }
        }
    }
}
