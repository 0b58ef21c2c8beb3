/*
 * index.c: chained hash table of buckets (see index.h).
 */
#include <stdlib.h>

#include "index.h"
#include "mem.h"

static void grow(struct ts_index *ix);

void
ts_index_init(struct ts_index *ix, ts_index_same_fn *same)
{
    ix->slots = NULL;
    ix->nslots = 0;
    ix->count = 0;
    ix->same = same;
}

void
ts_index_free(struct ts_index *ix)
{
    size_t i;

    for (i = 0; i < ix->nslots; i++) {
        struct ts_bucket *b = ix->slots[i], *next;

        for (; b != NULL; b = next) {
            next = b->chain;
            free(b);
        }
    }
    free(ix->slots);
    ix->slots = NULL;
    ix->nslots = ix->count = 0;
}

struct ts_bucket *
ts_index_get(struct ts_index *ix, const struct ts_key *k)
{
    struct ts_bucket *b;

    if (ix->nslots == 0)
        return NULL;
    for (b = ix->slots[k->hash & (ix->nslots - 1)]; b != NULL; b = b->chain)
        if (b->hash == k->hash && b->arity == k->arity && b->pos == k->pos &&
            (k->text == NULL || ix->same(b, k)))
            return b;
    return NULL;
}

struct ts_bucket *
ts_index_put(struct ts_index *ix, const struct ts_key *k)
{
    struct ts_bucket *b = ts_index_get(ix, k);
    size_t slot;

    if (b != NULL)
        return b;
    if (ix->count >= ix->nslots)
        grow(ix);
    b = ts_xcalloc(1, sizeof *b);
    b->hash = k->hash;
    b->arity = k->arity;
    b->pos = k->pos;
    slot = k->hash & (ix->nslots - 1);
    b->chain = ix->slots[slot];
    ix->slots[slot] = b;
    ix->count++;
    return b;
}

void
ts_index_del(struct ts_index *ix, struct ts_bucket *b)
{
    struct ts_bucket **pp = &ix->slots[b->hash & (ix->nslots - 1)];

    while (*pp != b)
        pp = &(*pp)->chain;
    *pp = b->chain;
    ix->count--;
    free(b);
}

/* Double the slots; the table is rebuilt at once (a few ms per million). */
static void
grow(struct ts_index *ix)
{
    size_t n = ix->nslots ? ix->nslots * 2 : 64, i;
    struct ts_bucket **slots = ts_xcalloc(n, sizeof *slots);

    for (i = 0; i < ix->nslots; i++) {
        struct ts_bucket *b = ix->slots[i], *next;

        for (; b != NULL; b = next) {
            next = b->chain;
            b->chain = slots[b->hash & (n - 1)];
            slots[b->hash & (n - 1)] = b;
        }
    }
    free(ix->slots);
    ix->slots = slots;
    ix->nslots = n;
}
