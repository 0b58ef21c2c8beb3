/*
 * explain.h: why nothing matches a template: the "near miss" of ts-dump -w.
 *
 * For a waiter's template it counts the stored tuples of its length and
 * finds the stored tuple that comes nearest to matching: the one whose
 * fewest fields fail, the oldest on a tie, lent tuples included (a lent
 * match is the answer to "why do I wait": somebody holds it).  Each field
 * is judged by the template's own matching rules, so the answer is what
 * matching does, whatever formals the template module knows.  When no
 * stored tuple has the template's length, the nearest length that has
 * some is named instead, with an example.
 *
 * It looks at the tuples that share one of the template's literal values
 * first (they match at least that field), then at the others of its
 * length, at most budget tuples in all: a diagnosis, not a scan of a large
 * space.
 */
#ifndef TS_EXPLAIN_H
#define TS_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "template.h"

struct ts_near {
    const struct ts_tuple *t; /* the nearest tuple, or NULL when the store is empty */
    uint32_t field;           /* the first field that fails, from 1; 0: none or another length */
    uint32_t differ;          /* how many fields fail (for another length: of those in common) */
    size_t same_length;       /* stored tuples of the template's length, lent ones included */
    char why[512];            /* a sentence, when t fails a field or has another length */
};

/*
 * Explain tm.  skip(arg, t) says which stored tuples do not count (ended
 * ones); it may be NULL.
 */
void ts_explain(struct ts_store *st, const struct ts_tmpl *tm, size_t budget,
                int (*skip)(void *arg, const struct ts_tuple *t), void *arg, struct ts_near *n);

#endif
