/*
 * waiter.c: the index of blocked requests (see waiter.h).
 */
#include <string.h>

#include "tuple.h"
#include "waiter.h"
#include "xmalloc.h"

static int same_literal(const struct ts_bucket *b, const struct ts_key *k);
static void waiter_key(const struct ts_waiter *w, struct ts_key *k);

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
    const struct ts_tfield *f = &w->tm->f[k->pos];

    return f->litlen == k->len && memcmp(f->lit, k->text, k->len) == 0;
}

static void
waiter_key(const struct ts_waiter *w, struct ts_key *k)
{
    int i = ts_tmpl_key(w->tm);

    k->arity = w->tm->arity;
    if (i < 0) {
        k->pos = TS_POS_ARITY;
        k->text = NULL;
        k->len = 0;
        k->hash = ts_hash(k->arity, TS_POS_ARITY, NULL, 0);
    } else {
        k->pos = (uint32_t)i;
        k->text = w->tm->f[i].lit;
        k->len = w->tm->f[i].litlen;
        k->hash = w->tm->f[i].hash;
    }
}

void
ts_waiters_add(struct ts_waiters *ws, struct ts_waiter *w)
{
    struct ts_bucket *b;
    struct ts_waiter *tail;
    struct ts_key k;

    waiter_key(w, &k);
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

static struct ts_waiter *
scan(struct ts_bucket *b, const struct ts_tuple *t, struct ts_waiter *best,
     struct ts_waiter ***rds, size_t *nrd, size_t *cap)
{
    struct ts_waiter *w;

    if (b == NULL)
        return best;
    for (w = b->head; w != NULL; w = w->next) {
        if (w->take && best != NULL && best->seq < w->seq)
            continue; /* a longer waiter already takes it */
        if (!ts_tmpl_match(w->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity))
            continue;
        if (w->take) {
            best = w;
        } else {
            *rds = xgrow(*rds, cap, *nrd + 1, sizeof **rds);
            (*rds)[(*nrd)++] = w;
        }
    }
    return best;
}

struct ts_waiter *
ts_waiters_match(struct ts_waiters *ws, const struct ts_tuple *t, struct ts_waiter ***rds,
                 size_t *nrd, size_t *cap)
{
    const uint32_t *off = ts_tuple_off(t);
    struct ts_waiter *best = NULL;
    struct ts_key k;
    uint32_t i;

    if (ws->count == 0)
        return NULL;
    k.arity = t->arity;
    for (i = 0; i < t->arity; i++) {
        k.pos = i;
        k.text = ts_tuple_text(t) + off[i];
        k.len = ts_field_len(off, t->arity, t->len, i);
        k.hash = ts_hash(t->arity, i, k.text, k.len);
        best = scan(ts_index_get(&ws->ix, &k), t, best, rds, nrd, cap);
    }
    k.pos = TS_POS_ARITY;
    k.text = NULL;
    k.len = 0;
    k.hash = ts_hash(t->arity, TS_POS_ARITY, NULL, 0);
    return scan(ts_index_get(&ws->ix, &k), t, best, rds, nrd, cap);
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
