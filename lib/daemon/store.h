/*
 * store.h: the tuples in the space, with their indexes.
 *
 * Every tuple sits in one list per field (the tuples of its arity that have
 * the same value at that position) and in the list of all tuples of its
 * arity; each list is in arrival order.  A template with a literal field is
 * matched by walking the shortest of its literal fields' lists, one without
 * literals by walking its arity's list, so a match never scans tuples of
 * another shape or with another value in an indexed field, and the first
 * match found is the oldest.
 *
 * A tuple handed to a taker that has not yet confirmed it is "lent": it keeps
 * its place in every list (so it returns to its old place in the order if the
 * taker goes away) but matching skips it.
 *
 * A few tuples carry more than their text: a deadline, a process they live
 * with (lease.h).  Eight bytes for that in every header would cost 8 MB at
 * 10^6 tuples that mostly have none, so only a "bound" tuple gets a slot,
 * one pointer after its text, for its owner to hang that data on.
 */
#ifndef TS_STORE_H
#define TS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "template.h"

struct ts_tuple;

/*
 * A job a worker gave back for a retry (block.h) counts its failed attempts
 * in the spare bits of the header, so the count costs no memory and goes
 * where the tuple goes: back to the space, to another worker, or to a dead
 * worker's replacement.
 */
#define TS_FAILED_MAX 2047

struct ts_link {
    struct ts_tuple *prev;
    struct ts_tuple *next;
};

/*
 * One allocation per tuple: this header, arity + 1 links (link[0] for the
 * arity list, link[1 + i] for field i), arity field offsets, then the
 * canonical text and a NUL.
 */
struct ts_tuple {
    uint64_t seq : 51;    /* arrival order, unique, increasing */
    uint64_t failed : 11; /* failed attempts of a worker's job (TS_FAILED_MAX at most) */
    uint64_t lent : 1;    /* handed out and not yet confirmed */
    uint64_t bound : 1;   /* has a slot after its text (ts_tuple_slot) */
    uint32_t arity;
    uint32_t len; /* length of the canonical text */
    struct ts_link link[];
};

static inline uint32_t *
ts_tuple_off(const struct ts_tuple *t)
{
    return (uint32_t *)(t->link + t->arity + 1);
}

static inline char *
ts_tuple_text(const struct ts_tuple *t)
{
    return (char *)(ts_tuple_off(t) + t->arity);
}

/* A bound tuple's slot: a pointer its owner keeps there, NULL at first. */
static inline void **
ts_tuple_slot(const struct ts_tuple *t)
{
    uintptr_t end = (uintptr_t)(ts_tuple_text(t) + t->len + 1);

    return (void **)((end + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1));
}

struct ts_store;

struct ts_iter {
    const struct ts_tmpl *tm; /* NULL: every tuple */
    uint32_t k;               /* which link the walk follows */
    int lent;                 /* lent tuples match too */
    struct ts_tuple *next;    /* next candidate */
    uint64_t spent;           /* regular expression work of the walk so far */
    struct ts_tuple *costly;  /* the tuple the walk stopped at over budget, or NULL */
};

struct ts_store *ts_store_new(void);
/* Frees every tuple. */
void ts_store_free(struct ts_store *st);

/* Add a tuple given as canonical text and field offsets; it becomes the newest. */
struct ts_tuple *ts_store_add(struct ts_store *st, const char *text, size_t len,
                              const uint32_t *off, uint32_t arity);
/* The same, for a bound tuple: with a slot, set to NULL. */
struct ts_tuple *ts_store_add_bound(struct ts_store *st, const char *text, size_t len,
                                    const uint32_t *off, uint32_t arity);
/* Remove a tuple from every list and free it. */
void ts_store_del(struct ts_store *st, struct ts_tuple *t);

/* Hide a tuple from matching while it is handed out, and show it again. */
void ts_store_lend(struct ts_store *st, struct ts_tuple *t);
void ts_store_unlend(struct ts_store *st, struct ts_tuple *t);

/*
 * Start a walk over the visible (not lent) tuples that match tm, oldest
 * first.  The walk's regular expression work is bounded (template.h): one
 * that would pass the budget ends it early, with it->costly set to the
 * tuple it could not tell.
 */
void ts_store_iter(struct ts_store *st, const struct ts_tmpl *tm, struct ts_iter *it);
/* The same walk, lent tuples included (what is in flight counts too). */
void ts_store_iter_all(struct ts_store *st, const struct ts_tmpl *tm, struct ts_iter *it);
/* Next match, or NULL.  The tuple returned may be deleted before the next call. */
struct ts_tuple *ts_iter_next(struct ts_iter *it);

/* Call fn for every visible tuple of every arity, oldest first. */
void ts_store_each(struct ts_store *st, void (*fn)(struct ts_tuple *, void *), void *arg);
/*
 * The highest seq given out so far; the next tuple added gets the one
 * after it.  The durable space logs each tuple with the seq it is about to
 * get, and replays a tuple by setting the seq to one below its own before
 * adding it; seqs must only go up, since adding appends to the lists.
 */
uint64_t ts_store_seq(const struct ts_store *st);
void ts_store_set_seq(struct ts_store *st, uint64_t seq);

/*
 * The oldest tuple of one list, lent ones included, and in *k the link that
 * walks the list on (t->link[*k].next): the tuples of an arity with the
 * value text at field pos, or with pos TS_POS_ARITY (index.h) all of them.
 * *n is the list's length.  NULL when it is empty.
 */
struct ts_tuple *ts_store_list(struct ts_store *st, uint32_t arity, uint32_t pos, const char *text,
                               size_t len, uint32_t *k, size_t *n);
/* Call fn with every arity that has tuples, and how many (lent included). */
void ts_store_arities(struct ts_store *st, void (*fn)(uint32_t arity, size_t n, void *), void *arg);
/*
 * Call fn for each group of tuples with the same arity and first field:
 * that field's canonical text, and how many there are (lent included).
 */
void ts_store_groups(struct ts_store *st,
                     void (*fn)(uint32_t arity, const char *first, size_t len, size_t n, void *),
                     void *arg);

struct ts_store_stats {
    size_t tuples; /* stored, lent ones included */
    size_t lent;
    size_t bytes; /* canonical text */
    size_t buckets;
};
void ts_store_stats(const struct ts_store *st, struct ts_store_stats *s);

#endif
