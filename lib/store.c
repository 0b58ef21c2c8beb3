/*
 * store.c: tuples and their indexes (see store.h).
 */
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "store.h"
#include "tuple.h"
#include "xmalloc.h"

struct ts_store {
    struct ts_index ix;
    uint64_t seq;
    size_t tuples;
    size_t lent;
    size_t bytes;
    struct ts_bucket **arities; /* the TS_POS_ARITY buckets, for whole walks */
    size_t narities;
    size_t arcap;
};

static int same_value(const struct ts_bucket *b, const struct ts_key *k);
static void field_key(const struct ts_tuple *t, uint32_t i, struct ts_key *k);
static void arity_key(uint32_t arity, struct ts_key *k);
static void link_tail(struct ts_bucket *b, struct ts_tuple *t, uint32_t k);
static void unlink_from(struct ts_store *st, struct ts_bucket *b, struct ts_tuple *t, uint32_t k);

struct ts_store *
ts_store_new(void)
{
    struct ts_store *st = xcalloc(1, sizeof *st);

    ts_index_init(&st->ix, same_value);
    return st;
}

void
ts_store_free(struct ts_store *st)
{
    size_t i;

    if (st == NULL)
        return;
    for (i = 0; i < st->narities; i++) {
        struct ts_tuple *t = st->arities[i]->head, *next;

        for (; t != NULL; t = next) {
            next = t->link[0].next;
            free(t);
        }
    }
    ts_index_free(&st->ix);
    free(st->arities);
    free(st);
}

static int
same_value(const struct ts_bucket *b, const struct ts_key *k)
{
    const struct ts_tuple *t = b->head;
    const uint32_t *off = ts_tuple_off(t);

    return ts_field_len(off, t->arity, t->len, k->pos) == k->len &&
           memcmp(ts_tuple_text(t) + off[k->pos], k->text, k->len) == 0;
}

static void
field_key(const struct ts_tuple *t, uint32_t i, struct ts_key *k)
{
    const uint32_t *off = ts_tuple_off(t);

    k->arity = t->arity;
    k->pos = i;
    k->text = ts_tuple_text(t) + off[i];
    k->len = ts_field_len(off, t->arity, t->len, i);
    k->hash = ts_hash(k->arity, i, k->text, k->len);
}

static void
arity_key(uint32_t arity, struct ts_key *k)
{
    k->arity = arity;
    k->pos = TS_POS_ARITY;
    k->text = NULL;
    k->len = 0;
    k->hash = ts_hash(arity, TS_POS_ARITY, NULL, 0);
}

static void
link_tail(struct ts_bucket *b, struct ts_tuple *t, uint32_t k)
{
    struct ts_tuple *tail = b->tail;

    t->link[k].prev = tail;
    t->link[k].next = NULL;
    if (tail != NULL)
        tail->link[k].next = t;
    else
        b->head = t;
    b->tail = t;
    b->count++;
}

struct ts_tuple *
ts_store_add(struct ts_store *st, const char *text, size_t len, const uint32_t *off,
             uint32_t arity)
{
    size_t size = sizeof(struct ts_tuple) + (arity + 1) * sizeof(struct ts_link) +
                  arity * sizeof(uint32_t) + len + 1;
    struct ts_tuple *t = xmalloc(size);
    struct ts_bucket *b;
    struct ts_key key;
    uint32_t i;

    t->seq = ++st->seq;
    t->arity = arity;
    t->len = (uint32_t)len;
    t->lent = 0;
    memcpy(ts_tuple_off(t), off, arity * sizeof(uint32_t));
    memcpy(ts_tuple_text(t), text, len);
    ts_tuple_text(t)[len] = '\0';

    arity_key(arity, &key);
    b = ts_index_put(&st->ix, &key);
    if (b->count == 0) {
        st->arities = xgrow(st->arities, &st->arcap, st->narities + 1, sizeof *st->arities);
        st->arities[st->narities++] = b;
    }
    link_tail(b, t, 0);
    for (i = 0; i < arity; i++) {
        field_key(t, i, &key);
        b = ts_index_put(&st->ix, &key);
        /* A new bucket's value is read from its head, so link before any lookup. */
        link_tail(b, t, i + 1);
    }
    st->tuples++;
    st->bytes += len;
    return t;
}

static void
unlink_from(struct ts_store *st, struct ts_bucket *b, struct ts_tuple *t, uint32_t k)
{
    struct ts_link *l = &t->link[k];

    if (l->prev != NULL)
        l->prev->link[k].next = l->next;
    else
        b->head = l->next;
    if (l->next != NULL)
        l->next->link[k].prev = l->prev;
    else
        b->tail = l->prev;
    if (--b->count == 0) {
        if (k == 0) {
            size_t i;

            for (i = 0; st->arities[i] != b; i++)
                ;
            st->arities[i] = st->arities[--st->narities];
        }
        ts_index_del(&st->ix, b);
    }
}

void
ts_store_del(struct ts_store *st, struct ts_tuple *t)
{
    struct ts_key key;
    uint32_t i;

    /* Look each bucket up while t is still in it: its head may be t. */
    for (i = 0; i < t->arity; i++) {
        field_key(t, i, &key);
        unlink_from(st, ts_index_get(&st->ix, &key), t, i + 1);
    }
    arity_key(t->arity, &key);
    unlink_from(st, ts_index_get(&st->ix, &key), t, 0);
    st->tuples--;
    st->bytes -= t->len;
    if (t->lent)
        st->lent--;
    free(t);
}

void
ts_store_iter(struct ts_store *st, const struct ts_tmpl *tm, struct ts_iter *it)
{
    struct ts_bucket *best = NULL, *b;
    struct ts_key key;
    uint32_t i;

    it->tm = tm;
    it->next = NULL;
    it->k = 0;
    for (i = 0; i < tm->arity; i++) {
        const struct ts_tfield *f = &tm->f[i];

        if (f->kind != TS_F_LIT)
            continue;
        key.arity = tm->arity;
        key.pos = i;
        key.text = f->lit;
        key.len = f->litlen;
        key.hash = f->hash;
        b = ts_index_get(&st->ix, &key);
        if (b == NULL)
            return; /* no tuple has this value here: nothing can match */
        if (best == NULL || b->count < best->count) {
            best = b;
            it->k = i + 1;
        }
    }
    if (best == NULL) {
        arity_key(tm->arity, &key);
        best = ts_index_get(&st->ix, &key);
    }
    if (best != NULL)
        it->next = best->head;
}

struct ts_tuple *
ts_iter_next(struct ts_iter *it)
{
    struct ts_tuple *t;

    for (t = it->next; t != NULL; t = t->link[it->k].next) {
        if (!t->lent && ts_tmpl_match(it->tm, ts_tuple_text(t), t->len, ts_tuple_off(t),
                                      t->arity)) {
            it->next = t->link[it->k].next;
            return t;
        }
    }
    it->next = NULL;
    return NULL;
}

/* A merge of the arity lists by sequence number: there are few arities. */
void
ts_store_each(struct ts_store *st, void (*fn)(struct ts_tuple *, void *), void *arg)
{
    size_t n = st->narities, i;
    struct ts_tuple **cur = xmalloc((n ? n : 1) * sizeof *cur);

    for (i = 0; i < n; i++)
        cur[i] = st->arities[i]->head;
    for (;;) {
        struct ts_tuple *t = NULL;
        size_t min = 0;

        for (i = 0; i < n; i++) {
            if (cur[i] != NULL && (t == NULL || cur[i]->seq < t->seq)) {
                t = cur[i];
                min = i;
            }
        }
        if (t == NULL)
            break;
        cur[min] = t->link[0].next;
        if (!t->lent)
            fn(t, arg);
    }
    free(cur);
}

void
ts_store_stats(const struct ts_store *st, struct ts_store_stats *s)
{
    s->tuples = st->tuples;
    s->bytes = st->bytes;
    s->buckets = st->ix.count;
    s->lent = st->lent;
}

void
ts_store_lend(struct ts_store *st, struct ts_tuple *t)
{
    t->lent = 1;
    st->lent++;
}

void
ts_store_unlend(struct ts_store *st, struct ts_tuple *t)
{
    t->lent = 0;
    st->lent--;
}
