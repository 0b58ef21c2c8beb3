/*
 * explain.c: the near miss of a template (see explain.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "index.h"
#include "mem.h"
#include "tuple.h"

#define SHOWN_MAX 60 /* bytes of a value quoted in a sentence */

struct search {
    const struct ts_tmpl *tm;
    struct ts_tmpl **one; /* field i of tm as a template of one field */
    uint32_t upto;        /* fields compared */
    int (*skip)(void *, const struct ts_tuple *);
    void *arg;
    size_t budget; /* tuples still to look at */
    const struct ts_tuple *best;
    uint32_t lits;   /* literal fields best fails */
    uint32_t differ; /* fields best fails */
};

static int field_fits(const struct search *s, const struct ts_tuple *t, uint32_t i);
static void consider(struct search *s, const struct ts_tuple *t);
static void walk(struct search *s, struct ts_tuple *t, uint32_t k);
static void describe(const char *text, size_t len, char *out, size_t outlen);

/* Does field i of t match field i of the template?  As a one-field tuple. */
static int
field_fits(const struct search *s, const struct ts_tuple *t, uint32_t i)
{
    const uint32_t *off = ts_tuple_off(t);
    size_t len = ts_field_len(off, t->arity, t->len, i);
    uint32_t one = 1;

    if (s->one[i] == NULL)
        return 1;
    /* The byte before a field is '[' or ',', and the one after ',' or ']'. */
    return ts_tmpl_match(s->one[i], ts_tuple_text(t) + off[i] - 1, len + 2, &one, 1, NULL) == 1;
}

/*
 * Nearer is fewer literal fields failed (a tuple with the template's tag
 * and the wrong type of payload is the one a person looks for), then fewer
 * fields failed, then older.
 */
static void
consider(struct search *s, const struct ts_tuple *t)
{
    uint32_t i, differ = 0, lits = 0;

    if (s->skip != NULL && s->skip(s->arg, t))
        return;
    for (i = 0; i < s->upto && i < t->arity; i++) {
        if (field_fits(s, t, i))
            continue;
        differ++;
        if (s->tm->f[i].kind == TS_F_LIT && ++lits > s->lits && s->best != NULL)
            return;
    }
    if (s->best == NULL || lits < s->lits || (lits == s->lits && differ < s->differ) ||
        (lits == s->lits && differ == s->differ && t->seq < s->best->seq)) {
        s->best = t;
        s->lits = lits;
        s->differ = differ;
    }
}

/* Look along one of the store's lists, within the budget. */
static void
walk(struct search *s, struct ts_tuple *t, uint32_t k)
{
    for (; t != NULL && s->budget > 0; t = t->link[k].next) {
        s->budget--;
        consider(s, t);
        if (s->best != NULL && s->differ == 0)
            return;
    }
}

/* "the string \"x\"", "the integer 3", ... with long values cut. */
static void
describe(const char *text, size_t len, char *out, size_t outlen)
{
    const char *what;
    int cut = len > SHOWN_MAX;

    switch (ts_field_type(text, len)) {
    case TS_TYPE_STR: what = "the string "; break;
    case TS_TYPE_INT: what = "the integer "; break;
    case TS_TYPE_REAL: what = "the number "; break;
    case TS_TYPE_BOOL: what = "the boolean "; break;
    case TS_TYPE_ARR: what = "the array "; break;
    case TS_TYPE_OBJ: what = "the object "; break;
    default: what = ""; break;
    }
    snprintf(out, outlen, "%s%.*s%s", what, cut ? SHOWN_MAX : (int)len, text, cut ? "..." : "");
}

struct nearest {
    uint32_t want;
    uint32_t arity; /* the nearest arity that has tuples, 0: none yet */
    size_t n;
};

static void
nearest_arity(uint32_t arity, size_t n, void *arg)
{
    struct nearest *a = arg;
    uint32_t d = arity > a->want ? arity - a->want : a->want - arity;
    uint32_t best = a->arity > a->want ? a->arity - a->want : a->want - a->arity;

    if (n > 0 && (a->arity == 0 || d < best || (d == best && arity < a->arity))) {
        a->arity = arity;
        a->n = n;
    }
}

void
ts_explain(struct ts_store *st, const struct ts_tmpl *tm, size_t budget,
           int (*skip)(void *, const struct ts_tuple *), void *arg, struct ts_near *n)
{
    struct search s = {tm, NULL, tm->arity, skip, arg, budget, NULL, 0, 0};
    struct ts_tuple *head;
    uint32_t i, k;
    size_t count;
    char err[200];

    memset(n, 0, sizeof *n);
    s.one = ts_xcalloc(tm->arity, sizeof *s.one);
    for (i = 0; i < tm->arity; i++) {
        json_t *one = json_pack("[O]", json_array_get(tm->wire, i));

        s.one[i] = one != NULL ? ts_tmpl_compile(one, err, sizeof err) : NULL;
    }
    head = ts_store_list(st, tm->arity, TS_POS_ARITY, NULL, 0, &k, &n->same_length);
    if (n->same_length > 0) {
        /* The tuples that share a literal first: they match at least that field. */
        for (i = 0; i < tm->arity && (s.best == NULL || s.differ > 0); i++) {
            const struct ts_tfield *f = &tm->f[i];
            uint32_t lk = 0;

            if (f->kind == TS_F_LIT)
                walk(&s, ts_store_list(st, tm->arity, i, f->lit, f->litlen, &lk, &count), lk);
        }
        if (s.best == NULL || s.differ > 0)
            walk(&s, head, k);
    } else {
        struct nearest a = {tm->arity, 0, 0};

        ts_store_arities(st, nearest_arity, &a);
        if (a.arity != 0) {
            s.upto = a.arity < tm->arity ? a.arity : tm->arity;
            walk(&s, ts_store_list(st, a.arity, TS_POS_ARITY, NULL, 0, &k, &count), k);
            if (s.best != NULL)
                snprintf(n->why, sizeof n->why,
                         "no stored tuple has %u field%s; %zu ha%s %u, such as %.*s%s", tm->arity,
                         tm->arity == 1 ? "" : "s", a.n, a.n == 1 ? "s" : "ve", a.arity,
                         s.best->len > SHOWN_MAX ? SHOWN_MAX : (int)s.best->len,
                         ts_tuple_text(s.best), s.best->len > SHOWN_MAX ? "..." : "");
        }
    }
    n->t = s.best;
    n->differ = s.differ;
    if (s.best != NULL && n->same_length > 0 && s.differ > 0) {
        char have[SHOWN_MAX + 40], want[SHOWN_MAX + 40];
        const struct ts_tfield *f;
        const uint32_t *off = ts_tuple_off(s.best);

        for (i = 0; i < tm->arity && field_fits(&s, s.best, i); i++)
            ;
        n->field = i + 1;
        describe(ts_tuple_text(s.best) + off[i], ts_field_len(off, s.best->arity, s.best->len, i),
                 have, sizeof have);
        f = &tm->f[i];
        if (f->kind == TS_F_LIT)
            snprintf(want, sizeof want, "%.*s%s",
                     f->litlen > SHOWN_MAX ? SHOWN_MAX : (int)f->litlen, f->lit,
                     f->litlen > SHOWN_MAX ? "..." : "");
        else
            snprintf(want, sizeof want, "%.*s", SHOWN_MAX,
                     json_string_value(json_array_get(tm->wire, i)));
        snprintf(n->why, sizeof n->why,
                 "field %u: stored tuples hold %s where the template wants %s", n->field, have,
                 want);
        if (s.differ > 1) {
            size_t used = strlen(n->why);

            snprintf(n->why + used, sizeof n->why - used, " (%u other field%s differ%s too)",
                     s.differ - 1, s.differ == 2 ? "" : "s", s.differ == 2 ? "s" : "");
        }
    }
    for (i = 0; i < tm->arity; i++)
        ts_tmpl_free(s.one[i]);
    free(s.one);
}
