/*
 * store.c: tuples and their indexes (see store.h).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "store.h"
#include "tuple.h"
#include "mem.h"

/*
 * The field index.  Most values in a large space occur once (ids, payloads),
 * so a value held by a single tuple gets no bucket: its slot points straight
 * at that tuple's link for the field, tagged with the low bit, and the
 * link's prev (unused in a one-element list) points back at the tuple.  A
 * second tuple with the same value turns the slot into a bucket; when a
 * bucket is down to one tuple it turns back.  Open addressing with linear
 * probing and backward-shift deletion: a slot is one pointer.
 *
 * Comparing a slot's key means following its pointer into a tuple, a cache
 * miss in a large space, so the pointer's other spare low bits (links and
 * buckets are aligned to at least 8 bytes) carry a few bits of the key's
 * hash: a probe follows only pointers whose bits agree, one in 8 of the
 * others with 16-byte alignment.  Loading a million tuples took 18% less
 * time for it (560 to 460 ms), and no memory.
 */
#define SINGLE ((uintptr_t)1)
#define ALIGNED                                                                                    \
    (sizeof(struct ts_link) < _Alignof(max_align_t) ? sizeof(struct ts_link)                       \
                                                    : _Alignof(max_align_t))
#define TAGS (((uintptr_t)ALIGNED - 1) & ~SINGLE)
#define PTR(e) ((e) & ~(uintptr_t)(ALIGNED - 1))
#define TAG(hash) ((uintptr_t)((hash) >> 58) & TAGS)

_Static_assert(ALIGNED >= 4 && sizeof(struct ts_tuple) % ALIGNED == 0,
               "links and buckets must leave low pointer bits free");

struct fbucket {
    struct ts_tuple *head; /* oldest */
    struct ts_tuple *tail; /* newest */
    uint32_t count;        /* two or more */
    uint32_t k;            /* the link index: field k - 1 */
};

struct ftab {
    uintptr_t *slots; /* 0 empty, a struct fbucket *, or a struct ts_link * | SINGLE */
    size_t cap;       /* a power of two */
    size_t count;     /* used slots */
    size_t buckets;   /* of them, buckets */
};

struct ts_store {
    struct ts_index ix; /* arity buckets: every tuple of an arity, in order */
    struct ftab ft;     /* field values */
    uint64_t seq;
    size_t tuples;
    size_t lent;
    size_t bytes;
    struct ts_bucket **arities; /* the TS_POS_ARITY buckets, for whole walks */
    size_t narities;
    size_t arcap;
};

static void field_key(const struct ts_tuple *t, uint32_t i, struct ts_key *k);
static void ft_insert(struct ftab *ft, struct ts_tuple *t, uint32_t k);
static void ft_remove(struct ftab *ft, struct ts_tuple *t, uint32_t k);
static size_t ft_find(const struct ftab *ft, const struct ts_key *key);
static void arity_key(uint32_t arity, struct ts_key *k);
static void link_tail(struct ts_bucket *b, struct ts_tuple *t, uint32_t k);
static void unlink_from(struct ts_store *st, struct ts_bucket *b, struct ts_tuple *t, uint32_t k);
static struct ts_tuple *add(struct ts_store *st, const char *text, size_t len, const uint32_t *off,
                            uint32_t arity, int bound);

struct ts_store *
ts_store_new(void)
{
    struct ts_store *st = ts_xcalloc(1, sizeof *st);

    ts_index_init(&st->ix, NULL); /* arity buckets only: no values to compare */
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
    for (i = 0; i < st->ft.cap; i++)
        if (st->ft.slots[i] != 0 && !(st->ft.slots[i] & SINGLE))
            free((struct fbucket *)PTR(st->ft.slots[i]));
    free(st->ft.slots);
    ts_index_free(&st->ix);
    free(st->arities);
    free(st);
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

/* The tuple and link index an entry stands for. */
static struct ts_tuple *
entry_tuple(uintptr_t e, uint32_t *k)
{
    if (e & SINGLE) {
        struct ts_link *l = (struct ts_link *)PTR(e);
        struct ts_tuple *t = l->prev;

        *k = (uint32_t)(l - t->link);
        return t;
    }
    *k = ((struct fbucket *)PTR(e))->k;
    return ((struct fbucket *)PTR(e))->head;
}

static uint64_t
entry_hash(uintptr_t e)
{
    struct ts_key key;
    uint32_t k;
    struct ts_tuple *t = entry_tuple(e, &k);

    field_key(t, k - 1, &key);
    return key.hash;
}

static int
entry_is(uintptr_t e, const struct ts_key *key)
{
    uint32_t k;
    struct ts_tuple *t = entry_tuple(e, &k);
    const uint32_t *off = ts_tuple_off(t);

    return t->arity == key->arity && k == key->pos + 1 &&
           ts_field_len(off, t->arity, t->len, key->pos) == key->len &&
           memcmp(ts_tuple_text(t) + off[key->pos], key->text, key->len) == 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
ft_find(const struct ftab *ft, const struct ts_key *key)
{
    size_t mask = ft->cap - 1, i = key->hash & mask;
    uintptr_t tag = TAG(key->hash);

    while (ft->slots[i] != 0 && ((ft->slots[i] & TAGS) != tag || !entry_is(ft->slots[i], key)))
        i = (i + 1) & mask;
    return i;
}

static void
ft_grow(struct ftab *ft)
{
    size_t cap = ft->cap ? ft->cap * 2 : 1024, i;
    uintptr_t *old = ft->slots;
    size_t oldcap = ft->cap;

    ft->slots = ts_xcalloc(cap, sizeof *ft->slots);
    ft->cap = cap;
    for (i = 0; i < oldcap; i++) {
        size_t j;

        if (old[i] == 0)
            continue;
        for (j = entry_hash(old[i]) & (cap - 1); ft->slots[j] != 0; j = (j + 1) & (cap - 1))
            ;
        ft->slots[j] = old[i];
    }
    free(old);
}

static void
ft_insert(struct ftab *ft, struct ts_tuple *t, uint32_t k)
{
    struct ts_link *l = &t->link[k];
    struct ts_key key;
    struct fbucket *b;
    size_t i;

    if ((ft->count + 1) * 4 > ft->cap * 3)
        ft_grow(ft);
    field_key(t, k - 1, &key);
    i = ft_find(ft, &key);
    l->next = NULL;
    if (ft->slots[i] == 0) {
        l->prev = t; /* a one-tuple entry points back at its tuple */
        ft->slots[i] = (uintptr_t)l | SINGLE | TAG(key.hash);
        ft->count++;
        return;
    }
    if (ft->slots[i] & SINGLE) {
        struct ts_link *first = (struct ts_link *)PTR(ft->slots[i]);

        b = ts_xmalloc(sizeof *b);
        b->head = b->tail = first->prev;
        b->count = 1;
        b->k = k;
        first->prev = NULL;
        ft->slots[i] = (uintptr_t)b | TAG(key.hash);
        ft->buckets++;
    }
    b = (struct fbucket *)PTR(ft->slots[i]);
    l->prev = b->tail;
    b->tail->link[k].next = t;
    b->tail = t;
    b->count++;
}

/* Empty slot i, moving later entries of the same probe run back into it. */
static void
ft_vacate(struct ftab *ft, size_t i)
{
    size_t mask = ft->cap - 1, j = i;

    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (ft->slots[j] == 0)
            break;
        home = entry_hash(ft->slots[j]) & mask;
        /* Move it unless its home lies cyclically in (i, j]. */
        if ((i < j) ? (home <= i || home > j) : (home <= i && home > j)) {
            ft->slots[i] = ft->slots[j];
            i = j;
        }
    }
    ft->slots[i] = 0;
    ft->count--;
}

static void
ft_remove(struct ftab *ft, struct ts_tuple *t, uint32_t k)
{
    struct ts_link *l = &t->link[k];
    struct ts_key key;
    struct fbucket *b;
    size_t i;

    field_key(t, k - 1, &key);
    i = ft_find(ft, &key);
    if (ft->slots[i] & SINGLE) {
        ft_vacate(ft, i);
        return;
    }
    b = (struct fbucket *)PTR(ft->slots[i]);
    if (l->prev != NULL)
        l->prev->link[k].next = l->next;
    else
        b->head = l->next;
    if (l->next != NULL)
        l->next->link[k].prev = l->prev;
    else
        b->tail = l->prev;
    if (--b->count == 1) {
        struct ts_tuple *r = b->head;

        r->link[k].prev = r;
        r->link[k].next = NULL;
        ft->slots[i] = (uintptr_t)&r->link[k] | SINGLE | TAG(key.hash);
        ft->buckets--;
        free(b);
    }
}

struct ts_tuple *
ts_store_add(struct ts_store *st, const char *text, size_t len, const uint32_t *off, uint32_t arity)
{
    return add(st, text, len, off, arity, 0);
}

struct ts_tuple *
ts_store_add_bound(struct ts_store *st, const char *text, size_t len, const uint32_t *off,
                   uint32_t arity)
{
    return add(st, text, len, off, arity, 1);
}

static struct ts_tuple *
add(struct ts_store *st, const char *text, size_t len, const uint32_t *off, uint32_t arity,
    int bound)
{
    size_t size = sizeof(struct ts_tuple) + (arity + 1) * sizeof(struct ts_link) +
                  arity * sizeof(uint32_t) + len + 1;
    struct ts_tuple *t;
    struct ts_bucket *b;
    struct ts_key key;
    uint32_t i;

    /* The slot is pointer-aligned after the text's NUL (ts_tuple_slot). */
    if (bound)
        size = ((size + sizeof(void *) - 1) & ~(sizeof(void *) - 1)) + sizeof(void *);
    t = ts_xmalloc(size);
    t->seq = ++st->seq;
    t->arity = arity;
    t->len = (uint32_t)len;
    t->lent = 0;
    t->failed = 0;
    t->bound = (uint64_t)bound;
    memcpy(ts_tuple_off(t), off, arity * sizeof(uint32_t));
    memcpy(ts_tuple_text(t), text, len);
    ts_tuple_text(t)[len] = '\0';
    if (bound)
        *ts_tuple_slot(t) = NULL;

    arity_key(arity, &key);
    b = ts_index_put(&st->ix, &key);
    if (b->count == 0) {
        st->arities = ts_xgrow(st->arities, &st->arcap, st->narities + 1, sizeof *st->arities);
        st->arities[st->narities++] = b;
    }
    link_tail(b, t, 0);
    for (i = 0; i < arity; i++)
        ft_insert(&st->ft, t, i + 1);
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

    for (i = 0; i < t->arity; i++)
        ft_remove(&st->ft, t, i + 1);
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
    struct ts_tuple *best = NULL;
    size_t bestn = SIZE_MAX;
    struct ts_bucket *b;
    struct ts_key key;
    uint32_t i;

    it->tm = tm;
    it->next = NULL;
    it->k = 0;
    it->lent = 0;
    it->spent = 0;
    it->costly = NULL;
    for (i = 0; i < tm->arity && st->ft.cap > 0; i++) {
        const struct ts_tfield *f = &tm->f[i];
        uintptr_t e;
        size_t n;

        if (f->kind != TS_F_LIT)
            continue;
        key.arity = tm->arity;
        key.pos = i;
        key.text = f->lit;
        key.len = f->litlen;
        key.hash = f->hash;
        e = st->ft.slots[ft_find(&st->ft, &key)];
        if (e == 0)
            return; /* no tuple has this value here: nothing can match */
        n = (e & SINGLE) ? 1 : ((struct fbucket *)PTR(e))->count;
        if (n < bestn) {
            uint32_t k;

            best = entry_tuple(e, &k);
            bestn = n;
            it->k = k;
        }
    }
    if (best == NULL && tm->nlit == 0) {
        arity_key(tm->arity, &key);
        b = ts_index_get(&st->ix, &key);
        best = b != NULL ? b->head : NULL;
    }
    it->next = best;
}

void
ts_store_iter_all(struct ts_store *st, const struct ts_tmpl *tm, struct ts_iter *it)
{
    ts_store_iter(st, tm, it);
    it->lent = 1;
}

struct ts_tuple *
ts_iter_next(struct ts_iter *it)
{
    struct ts_tuple *t;
    int m;

    for (t = it->next; t != NULL; t = t->link[it->k].next) {
        if (t->lent && !it->lent)
            continue;
        m = ts_tmpl_match(it->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, &it->spent);
        if (m == TS_MATCH_COSTLY) {
            it->costly = t;
            break;
        }
        if (m) {
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
    struct ts_tuple **cur = ts_xmalloc((n ? n : 1) * sizeof *cur);

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

struct ts_tuple *
ts_store_list(struct ts_store *st, uint32_t arity, uint32_t pos, const char *text, size_t len,
              uint32_t *k, size_t *n)
{
    struct ts_bucket *b;
    struct ts_key key;
    uintptr_t e;

    *n = 0;
    if (pos == TS_POS_ARITY) {
        arity_key(arity, &key);
        b = ts_index_get(&st->ix, &key);
        if (b == NULL)
            return NULL;
        *k = 0;
        *n = b->count;
        return b->head;
    }
    if (st->ft.cap == 0)
        return NULL;
    key.arity = arity;
    key.pos = pos;
    key.text = text;
    key.len = len;
    key.hash = ts_hash(arity, pos, text, len);
    e = st->ft.slots[ft_find(&st->ft, &key)];
    if (e == 0)
        return NULL;
    *n = (e & SINGLE) ? 1 : ((struct fbucket *)PTR(e))->count;
    return entry_tuple(e, k);
}

void
ts_store_arities(struct ts_store *st, void (*fn)(uint32_t, size_t, void *), void *arg)
{
    size_t i;

    for (i = 0; i < st->narities; i++)
        fn(st->arities[i]->arity, st->arities[i]->count, arg);
}

/* The entries of the first field's values are the groups: one walk of the table. */
void
ts_store_groups(struct ts_store *st, void (*fn)(uint32_t, const char *, size_t, size_t, void *),
                void *arg)
{
    size_t i;

    for (i = 0; i < st->ft.cap; i++) {
        uintptr_t e = st->ft.slots[i];
        struct ts_tuple *t;
        uint32_t k;

        if (e == 0)
            continue;
        t = entry_tuple(e, &k);
        if (k != 1)
            continue;
        fn(t->arity, ts_tuple_text(t) + ts_tuple_off(t)[0],
           ts_field_len(ts_tuple_off(t), t->arity, t->len, 0),
           (e & SINGLE) ? 1 : ((struct fbucket *)PTR(e))->count, arg);
    }
}

void
ts_store_stats(const struct ts_store *st, struct ts_store_stats *s)
{
    s->tuples = st->tuples;
    s->bytes = st->bytes;
    s->buckets = st->ix.count + st->ft.buckets;
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

uint64_t
ts_store_seq(const struct ts_store *st)
{
    return st->seq;
}

void
ts_store_set_seq(struct ts_store *st, uint64_t seq)
{
    st->seq = seq;
}
