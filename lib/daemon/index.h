/*
 * index.h: hash table from (arity, position, value) to a bucket holding a
 * list of elements in arrival order.
 *
 * Both the store (tuples) and the waiters (blocked requests) index their
 * elements this way.  The table does not know the element type: a bucket has
 * head and tail pointers that its owner interprets, and the owner supplies
 * the function that tells whether a bucket's elements have a given value.
 * Position TS_POS_ARITY is the bucket of every element of that arity.
 */
#ifndef TS_INDEX_H
#define TS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define TS_POS_ARITY UINT32_MAX

struct ts_key {
    uint32_t arity;
    uint32_t pos;     /* field position, or TS_POS_ARITY */
    const char *text; /* canonical value text; NULL for an arity bucket */
    size_t len;
    uint64_t hash; /* ts_hash(arity, pos, text, len) */
};

struct ts_bucket {
    struct ts_bucket *chain; /* next bucket in the same slot */
    uint64_t hash;
    uint32_t arity;
    uint32_t pos;
    size_t count; /* elements in the list */
    void *head;   /* oldest element */
    void *tail;   /* newest element */
};

/* Does bucket b (never empty) hold elements whose value is k's?  NULL for an
 * index of arity buckets only. */
typedef int ts_index_same_fn(const struct ts_bucket *b, const struct ts_key *k);

struct ts_index {
    struct ts_bucket **slots;
    size_t nslots; /* a power of two, or 0 */
    size_t count;  /* buckets in the table */
    ts_index_same_fn *same;
};

void ts_index_init(struct ts_index *ix, ts_index_same_fn *same);
/* Frees the table and every bucket, not the elements. */
void ts_index_free(struct ts_index *ix);
/* The bucket for k, or NULL. */
struct ts_bucket *ts_index_get(struct ts_index *ix, const struct ts_key *k);
/* The bucket for k, created empty if it does not exist. */
struct ts_bucket *ts_index_put(struct ts_index *ix, const struct ts_key *k);
/* Remove and free a bucket, which the caller has emptied. */
void ts_index_del(struct ts_index *ix, struct ts_bucket *b);

#endif
