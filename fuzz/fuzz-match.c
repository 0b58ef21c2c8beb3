/*
 * fuzz-match.c: libFuzzer target checking the matcher against a reference.
 *
 * The input is two JSON texts separated by a newline: a tuple, then a wire
 * template.  Inputs where either is not a non-empty array, or where their
 * arities differ, are skipped; so are texts jansson refuses (strings with
 * NUL bytes among them: they are read without JSON_ALLOW_NUL).  As
 * lib/client/field.c does for words, an integer too big for 64 bits is read again
 * as a real.
 *
 * The tuple's canonical text is matched with ts_tmpl_match and the answer
 * compared with a plain implementation, written here from the rules in
 * lib/core/template.h and lib/core/tuple.h, that works on the decoded JSON values:
 *
 *   "?"              any value
 *   "?str" ... "?obj" typed formals ("?int": an integer, or a real with an
 *                    integral value; "?num": any number)
 *   "?~ERE"          a string the ERE matches (regcomp REG_EXTENDED|REG_NOSUB,
 *                    regexec on the decoded string)
 *   "?LO..HI"        a number from LO to HI, both included, either end left
 *                    out but not both; LO and HI JSON numbers (compared here
 *                    as long doubles, which hold an int64 and a double
 *                    exactly on x86-64)
 *   "??text"         the literal string "?text"
 *   {"k":V,...}      an object with exactly these keys, each value matched
 *                    by V under these same rules (so an object without
 *                    formals is equality once its "??" escapes are undone);
 *                    arrays are literals wherever they are
 *   anything else    deep equality: numbers by value (integers exactly, reals
 *                    by value, an integer and a real equal when the real is
 *                    integral and converts exactly), objects by key set
 *
 * The reference also decides which templates are invalid (unknown formal,
 * bad ERE, bad range); ts_tmpl_compile must agree, except that it may refuse
 * an ERE that regcomp accepts if it has repetitions or is long (its cost
 * bound), and a range bound of more than 17 significant digits (which it
 * refuses unless the double holds it exactly).  Then the store must find
 * the tuple through ts_store_iter exactly when it matches (twice stored, then with the older copy
 * lent, then deleted), and the waiter index must offer it to the right waiters among several made
 * from the template (see check_waiters).
 *
 * Any disagreement is printed and abort()ed.  With FUZZ_KNOWN=1 templates
 * that could hold an ERE making regcomp blow up are skipped (known.h).
 */
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "store.h"
#include "template.h"
#include "tuple.h"
#include "waiter.h"
#include "mem.h"

#include "known.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *in_tuple, *in_tmpl;
static size_t in_tuple_len, in_tmpl_len;

static void fail(const char *what) __attribute__((noreturn));

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz-match: %s\n  tuple:    %.*s\n  template: %.*s\n", what, (int)in_tuple_len,
            in_tuple, (int)in_tmpl_len, in_tmpl);
    abort();
}

static json_t *
decode(const char *text, size_t len)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);

    if (v == NULL && json_error_code(&e) == json_error_numeric_overflow)
        v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL);
    return v;
}

/* ---- the reference */

static int ref_equal(const json_t *a, const json_t *b);

/* An integer and a real: equal when the real is integral and exactly that integer. */
static int
int_real_equal(json_int_t i, double r)
{
    if (!isfinite(r) || r != floor(r))
        return 0;
    if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0))
        return 0;
    return (json_int_t)r == i;
}

static int
ref_equal(const json_t *a, const json_t *b)
{
    size_t i;

    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    if (json_is_integer(a) && json_is_real(b))
        return int_real_equal(json_integer_value(a), json_real_value(b));
    if (json_is_real(a) && json_is_integer(b))
        return int_real_equal(json_integer_value(b), json_real_value(a));
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (i = 0; i < json_array_size(a); i++)
            if (!ref_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT: {
        const char *key;
        json_t *va, *vb;

        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach ((json_t *)a, key, va) {
            vb = json_object_get(b, key);
            if (vb == NULL || !ref_equal(va, vb))
                return 0;
        }
        return 1;
    }
    default: /* true, false, null: the type is the value */ return 1;
    }
}

static int
is_integral_number(const json_t *v)
{
    double d;

    if (json_is_integer(v))
        return 1;
    if (!json_is_real(v))
        return 0;
    d = json_real_value(v);
    return isfinite(d) && d == floor(d);
}

/* A JSON number alone, as the bound of a range: 1 and its value, or 0. */
static int
ref_bound(const char *s, size_t n, long double *out, int *many_digits)
{
    json_t *v;
    size_t i, digits = 0;
    int seen = 0;

    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || s[0] == '\t' || s[n - 1] == '\t' ||
        s[0] == '\n' || s[n - 1] == '\n' || s[0] == '\r' || s[n - 1] == '\r')
        return 0;
    v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
    if (!json_is_number(v)) {
        json_decref(v);
        return 0;
    }
    *out =
        json_is_integer(v) ? (long double)json_integer_value(v) : (long double)json_real_value(v);
    json_decref(v);
    for (i = 0; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] >= '1' && s[i] <= '9')
            seen = 1;
        if (s[i] >= '0' && s[i] <= '9' && seen)
            digits++;
    }
    *many_digits |= digits > 17;
    /* A number that is not 0 but reads as 0 would be kept as another number. */
    if (seen && *out == 0)
        return 0;
    return 1;
}

/* "?LO..HI" (s without its '?'): 1 match, 0 no match, -1 not a valid range. */
static int
ref_range(const char *s, const json_t *v, int *many_digits)
{
    const char *dots = strstr(s, "..");
    long double lo = 0, hi = 0, x;
    int haslo, hashi;

    if (dots == NULL || strchr("-.0123456789", s[0]) == NULL)
        return -1;
    haslo = dots > s;
    hashi = dots[2] != '\0';
    if ((!haslo && !hashi) || (haslo && !ref_bound(s, (size_t)(dots - s), &lo, many_digits)) ||
        (hashi && !ref_bound(dots + 2, strlen(dots + 2), &hi, many_digits)) ||
        (haslo && hashi && lo > hi))
        return -1;
    if (!json_is_number(v))
        return 0;
    x = json_is_integer(v) ? (long double)json_integer_value(v) : (long double)json_real_value(v);
    return (!haslo || x >= lo) && (!hashi || x <= hi);
}

/* Set when a range bound has more than 17 significant digits (see above). */
static int range_many_digits;

/*
 * 1 match, 0 no match, -1 the field is not a valid template field.  v may
 * be NULL, for a key an object lacks: validity is still decided.
 */
static int
ref_field(const json_t *f, const json_t *v)
{
    const char *s = json_string_value(f);
    size_t n = json_string_length(f);

    if (json_is_object(f)) {
        const char *key;
        json_t *fv;
        int all = json_is_object(v) && json_object_size(v) == json_object_size(f);

        json_object_foreach ((json_t *)f, key, fv) {
            const json_t *vv = json_is_object(v) ? json_object_get(v, key) : NULL;
            int m = ref_field(fv, vv);

            if (m < 0)
                return -1;
            all &= vv != NULL && m;
        }
        return all;
    }
    if (s == NULL || n == 0 || s[0] != '?')
        return v != NULL && ref_equal(f, v);
    if (n == 1)
        return v != NULL;
    if (s[1] == '?')
        return json_is_string(v) && json_string_length(v) == n - 1 &&
               memcmp(json_string_value(v), s + 1, n - 1) == 0;
    if (s[1] == '~') {
        regex_t re;
        int m;

        if (regcomp(&re, s + 2, REG_EXTENDED | REG_NOSUB) != 0)
            return -1;
        m = json_is_string(v) && regexec(&re, json_string_value(v), 0, NULL, 0) == 0;
        regfree(&re);
        return m;
    }
    if (strcmp(s, "?str") == 0)
        return json_is_string(v);
    if (strcmp(s, "?int") == 0)
        return v != NULL && is_integral_number(v);
    if (strcmp(s, "?num") == 0)
        return json_is_number(v);
    if (strcmp(s, "?bool") == 0)
        return json_is_boolean(v);
    if (strcmp(s, "?null") == 0)
        return json_is_null(v);
    if (strcmp(s, "?arr") == 0)
        return json_is_array(v);
    if (strcmp(s, "?obj") == 0)
        return json_is_object(v);
    if (strlen(s) != n)
        return -1; /* a NUL inside: no formal has one */
    return ref_range(s + 1, v, &range_many_digits);
}

/* Does pred hold for a string of the template a formal may be: a field, or a value in an object? */
static int
any_formal_text(const json_t *v, int (*pred)(const char *s))
{
    const char *key, *s = json_string_value(v);
    json_t *m;
    size_t i;

    if (s != NULL)
        return pred(s);
    if (json_is_array(v)) { /* the template itself */
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *f = json_array_get(v, i);

            if ((json_is_string(f) || json_is_object(f)) && any_formal_text(f, pred))
                return 1;
        }
        return 0;
    }
    json_object_foreach ((json_t *)v, key, m) {
        if ((json_is_string(m) || json_is_object(m)) && any_formal_text(m, pred))
            return 1;
    }
    return 0;
}

/*
 * lib/template.c refuses some EREs that regcomp accepts, because compiling
 * them costs too much (stacked or large repetitions, long EREs); template.h
 * does not say where the limits are.  The reference lets it refuse an ERE
 * that is long or has a repetition, nothing else.
 */
static int
costly_ere(const char *s)
{
    return s[0] == '?' && s[1] == '~' && (strlen(s + 2) > 512 || strpbrk(s + 2, "*+?{") != NULL);
}

static int
costly_allowed(const json_t *tmpl)
{
    return any_formal_text(tmpl, costly_ere);
}

static int
risky_ere(const char *s)
{
    return s[0] == '?' && s[1] == '~' && fuzz_risky_ere(s + 2, strlen(s + 2));
}

/* Does some ERE of the template look too costly to compile here? */
static int
risky_template(const json_t *tmpl)
{
    return any_formal_text(tmpl, risky_ere);
}

/* 1 match, 0 no match, -1 invalid template (checked for every field). */
static int
ref_match(const json_t *tmpl, const json_t *tuple)
{
    size_t i;
    int all = 1;

    for (i = 0; i < json_array_size(tmpl); i++) {
        int m = ref_field(json_array_get(tmpl, i), json_array_get(tuple, i));

        if (m < 0)
            return -1;
        all &= m;
    }
    return all;
}

/* ---- the store and the waiters */

static void
check_store(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
            uint32_t arity, int m)
{
    struct ts_store *st = ts_store_new();
    struct ts_tuple *t1 = ts_store_add(st, text, len, off, arity);
    struct ts_tuple *t2 = ts_store_add(st, text, len, off, arity);
    struct ts_iter it;

    ts_store_iter(st, tm, &it);
    if (m) {
        if (ts_iter_next(&it) != t1 || ts_iter_next(&it) != t2 || ts_iter_next(&it) != NULL)
            fail("store: a matching tuple stored twice is not found twice, oldest first");
    } else if (ts_iter_next(&it) != NULL) {
        fail("store: the walk finds a tuple that does not match");
    }
    ts_store_lend(st, t1);
    ts_store_iter(st, tm, &it);
    if (ts_iter_next(&it) != (m ? t2 : NULL) || (m && ts_iter_next(&it) != NULL))
        fail("store: wrong walk with the older copy lent");
    ts_store_del(st, t1);
    ts_store_iter(st, tm, &it);
    if (ts_iter_next(&it) != (m ? t2 : NULL) || (m && ts_iter_next(&it) != NULL))
        fail("store: wrong walk after deleting the older copy");
    ts_store_free(st);
}

/*
 * The waiter index: waiters made from the template (itself, with each of
 * its first fields in turn made "?", all "?", and the tuple itself as a
 * template of literals), each as an in and an rd, filed in an order the
 * input chooses.  ts_waiters_match must offer the tuple to exactly the rds
 * whose template matches (by the reference) and give it to the matching in
 * that waited longest; that in then leaves, and again, until none matches.
 */
#define MAXV 12

/* A value as a template field of literals: strings a formal could be get "??". */
static json_t *
escaped(const json_t *v)
{
    const char *s = json_string_value(v), *key;
    json_t *out, *m;

    if (s != NULL && s[0] == '?') {
        size_t n = json_string_length(v);
        char *esc = ts_xmalloc(n + 1);

        esc[0] = '?';
        memcpy(esc + 1, s, n);
        out = json_stringn(esc, n + 1);
        free(esc);
        return out;
    }
    if (!json_is_object(v))
        return json_incref((json_t *)v);
    out = json_object();
    json_object_foreach ((json_t *)v, key, m)
        json_object_set_new(out, key, escaped(m));
    return out;
}

static json_t *
as_template(const json_t *tuple)
{
    json_t *t = json_array();
    size_t i;

    for (i = 0; i < json_array_size(tuple); i++)
        json_array_append_new(t, escaped(json_array_get(tuple, i)));
    return t;
}

static void
check_waiters(const json_t *tmpl, const json_t *tuple, const char *text, size_t len,
              const uint32_t *off, uint32_t arity, unsigned order)
{
    struct ts_store *st = ts_store_new();
    struct ts_tuple *t = ts_store_add(st, text, len, off, arity);
    struct ts_waiters ws;
    struct ts_waiter w[2 * MAXV], **rds = NULL, *taker;
    struct ts_tmpl *tms[MAXV];
    int match[MAXV], seen[2 * MAXV], gone[2 * MAXV];
    size_t nv = 0, i, j, cap = 0, nrd;
    char err[300];

    /* The variants. */
    for (i = 0; i < 3 + (arity < MAXV - 3 ? arity : MAXV - 3); i++) {
        json_t *v;

        if (i == 0) {
            v = json_deep_copy(tmpl);
        } else if (i == 1) {
            v = as_template(tuple);
        } else if (i == 2) {
            v = json_array();
            for (j = 0; j < arity; j++)
                json_array_append_new(v, json_string("?"));
        } else {
            v = json_deep_copy(tmpl);
            json_array_set_new(v, i - 3, json_string("?"));
        }
        match[nv] = ref_match(v, tuple);
        if (i == 1 && match[nv] != 1)
            fail("the tuple, as a template of literals, does not match itself (reference)");
        tms[nv] = ts_tmpl_compile(v, err, sizeof err);
        if (tms[nv] == NULL || match[nv] < 0)
            fail("a template made from a valid one is invalid");
        nv++;
    }
    /* File them, in and rd of each, in an order chosen by the input. */
    ts_waiters_init(&ws);
    memset(w, 0, sizeof w);
    memset(gone, 0, sizeof gone);
    for (i = 0; i < 2 * nv; i++) {
        size_t k = (i + order) % (2 * nv);

        if (order & 0x100)
            k = 2 * nv - 1 - k;
        w[k].take = (int)(k & 1);
        w[k].tm = tms[k / 2];
        ts_waiters_add(&ws, &w[k]);
    }
    for (;;) {
        struct ts_waiter *want = NULL;
        size_t nwant = 0;

        for (i = 0; i < 2 * nv; i++) {
            if (gone[i] || !match[i / 2])
                continue;
            if (!w[i].take)
                nwant++;
            else if (want == NULL || w[i].seq < want->seq)
                want = &w[i];
        }
        nrd = 0;
        taker = ts_waiters_match(&ws, t, &rds, &nrd, &cap);
        if (taker != want)
            fail(want == NULL ? "waiters: an in is offered a tuple it does not match"
                              : "waiters: the tuple does not go to the matching in that "
                                "waited longest");
        memset(seen, 0, sizeof seen);
        for (j = 0; j < nrd; j++) {
            i = (size_t)(rds[j] - w);
            if (i >= 2 * nv || w[i].take || gone[i] || !match[i / 2] || seen[i]++)
                fail("waiters: an rd is offered a tuple it does not match, or twice");
        }
        if (nrd != nwant)
            fail("waiters: a matching rd is not offered the tuple");
        if (taker == NULL)
            break;
        ts_waiters_del(&ws, taker);
        gone[taker - w] = 1;
    }
    for (i = 0; i < 2 * nv; i++)
        ts_waiters_del(&ws, &w[2 * nv - 1 - (i + order / 3) % (2 * nv)]);
    if (ws.count != 0)
        fail("waiters: count not back to 0");
    for (i = 0; i < nv; i++)
        ts_tmpl_free(tms[i]);
    free(rds);
    ts_waiters_free(&ws);
    ts_store_free(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    json_t *tuple = NULL, *tmpl = NULL;
    struct ts_buf text = TS_BUF_INIT;
    struct ts_tmpl *tm = NULL;
    uint32_t *off = NULL, arity;
    char err[300];
    int ref, m;

    if (nl == NULL)
        return 0;
    in_tuple = (const char *)data;
    in_tuple_len = (size_t)(nl - in_tuple);
    in_tmpl = nl + 1;
    in_tmpl_len = size - in_tuple_len - 1;
    if (fuzz_known() && fuzz_risky_ere(in_tmpl, in_tmpl_len))
        return 0; /* a known bug: see known.h */
    tuple = decode(in_tuple, in_tuple_len);
    tmpl = decode(in_tmpl, in_tmpl_len);
    if (!json_is_array(tuple) || !json_is_array(tmpl) || json_array_size(tuple) == 0 ||
        json_array_size(tuple) != json_array_size(tmpl))
        goto out;
    arity = (uint32_t)json_array_size(tuple);

    off = ts_xmalloc(arity * sizeof *off);
    if (ts_canon_tuple(tuple, &text, off, err, sizeof err) < 0)
        fail("ts_canon_tuple refused a non-empty array");
    /*
     * The library first: the reference's regcomp costs no more than the
     * library's once the library accepted the template.  A template it
     * refused is checked by the reference only when no ERE in it looks
     * costly (known.h), or the reference could blow up on its own.
     */
    tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err);
    if (tm == NULL && costly_allowed(tmpl))
        goto out; /* perhaps refused for its cost (err may be cut): allowed */
    if (tm == NULL && risky_template(tmpl))
        goto out;
    /* The library's answer first, so that a slow regexec shows up in it. */
    m = tm != NULL ? ts_tmpl_match(tm, ts_buf_head(&text), ts_buf_len(&text), off, arity) : 0;
    range_many_digits = 0;
    ref = ref_match(tmpl, tuple);
    if (tm == NULL && ref >= 0 && range_many_digits)
        goto out; /* a bound of more than 17 digits that a double does not hold: allowed */
    if ((tm == NULL) != (ref < 0)) {
        fprintf(stderr, "fuzz-match: ts_tmpl_compile: %s\n", tm == NULL ? err : "accepted");
        fail(ref < 0 ? "the reference finds the template invalid, ts_tmpl_compile accepts it"
                     : "ts_tmpl_compile refuses a template the reference finds valid");
    }
    if (tm == NULL)
        goto out;
    if (m != ref) {
        fprintf(stderr, "fuzz-match: canonical tuple %.*s\n", (int)ts_buf_len(&text),
                ts_buf_head(&text));
        fail(m ? "ts_tmpl_match says match, the reference says no match"
               : "ts_tmpl_match says no match, the reference says match");
    }
    check_store(tm, ts_buf_head(&text), ts_buf_len(&text), off, arity, m);
    check_waiters(tmpl, tuple, ts_buf_head(&text), ts_buf_len(&text), off, arity,
                  (unsigned)ts_hash(0, 0, (const char *)data, size));
out:
    ts_tmpl_free(tm);
    ts_buf_free(&text);
    free(off);
    json_decref(tuple);
    json_decref(tmpl);
    return 0;
}
