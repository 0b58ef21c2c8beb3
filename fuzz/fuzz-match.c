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
 *   "?~ERE"          a string the ERE matches (glibc's regcomp REG_EXTENDED|
 *                    REG_NOSUB in the C locale, regexec on the decoded string)
 *   "?~i:ERE"        the same with REG_ICASE
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
 * The library matches EREs with TRE, through lib/core/ere.c, which refuses
 * some that glibc takes; glibc stays the reference for the rest.  So the
 * reference also decides which templates are invalid (unknown formal, bad
 * ERE, bad range), and ts_tmpl_compile must agree, except that it may
 * refuse an ERE glibc takes when ere.c says it refuses it by design (errno
 * ENOTSUP or E2BIG, not EINVAL), and a range bound of more than 17
 * significant digits (which it refuses unless the double holds it
 * exactly).  Every ERE ere.c compiles, glibc must compile too.
 *
 * glibc is a reference only where it is safe to run: never on an ERE that
 * looks costly for its regcomp (known.h), and only against strings short
 * enough for the ERE, at most REF_CAP units in ere.h's cost model (glibc's
 * regexec can take seconds where TRE takes microseconds), and never on an
 * ERE with an interval and an anchor inside, which glibc gets wrong
 * (glibc_drops_anchors).  Elsewhere, and
 * where a match would pass the library's budget (TS_MATCH_COSTLY), the
 * library's answer is checked only for consistency between the matcher,
 * the store and the waiters.
 *
 * Then the store must find the tuple through ts_store_iter exactly when it
 * matches (twice stored, then with the older copy lent, then deleted), or
 * stop at it when it is too costly, and the waiter index must offer it to
 * the right waiters among several made from the template (see
 * check_waiters).
 *
 * Any disagreement is printed and abort()ed.  With FUZZ_KNOWN=1 templates
 * that could hold an ERE making regcomp blow up are skipped (known.h).
 */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "ere.h"
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
        int icase = strncmp(s + 2, "i:", 2) == 0;
        regex_t re;
        int m;

        if (regcomp(&re, s + (icase ? 4 : 2), REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) !=
            0)
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
 * The reference runs glibc only below this cost (ere.h's units) of an ERE
 * against a string: for (a|b)*a(a|b){99}c, 162 bytes.
 */
#define REF_CAP 100000

/*
 * Does glibc get this ERE wrong?  Its regcomp expands an interval by
 * copying the repeated subexpression, and the copies lose their anchors:
 * (a$){2} and (^a){2} match "aa", and (a$b()a*a|b){2}c matches
 * "abababbabac" (a$b can never match, so only bbc could).  POSIX and TRE
 * keep ^ and $ anchors wherever they are (t/unit/match-cases holds these).
 * So an ERE with both an interval and an anchor that is not its first or
 * last byte has no reference, only the consistency checks.  Brackets are
 * skipped roughly (a ']' first in the list is taken as the end): erring
 * makes the check skip more, never less.
 */
static int
glibc_drops_anchors(const char *ere)
{
    size_t n = strlen(ere), i;
    int interval = 0, inner_anchor = 0;

    for (i = 0; i < n; i++) {
        if (ere[i] == '\\' && i + 1 < n) {
            i++;
        } else if (ere[i] == '[') {
            while (i + 1 < n && ere[i + 1] != ']')
                i++;
            i++;
        } else if (ere[i] == '{') {
            interval = 1;
        } else if ((ere[i] == '^' && i > 0) || (ere[i] == '$' && i + 1 < n)) {
            inner_anchor = 1;
        }
    }
    return interval && inner_anchor;
}

/* What check_ere found, over one template: see ref_safe. */
static size_t ref_longest;
static int ref_refused, ref_unsafe;

/*
 * One "?~" formal (any_formal_text's predicate; always 0, to see them all):
 * compiled by ere.c and, unless ere.c refuses it by design, by glibc's
 * regcomp, which must agree.  An ERE refused by design makes the reference
 * unsafe: the template is refused, and glibc need not see it.
 */
static int
check_ere(const char *s)
{
    int flags = strncmp(s + 2, "i:", 2) == 0 ? TS_ERE_ICASE : 0, gok, e;
    const char *ere = s + (flags ? 4 : 2);
    struct ts_ere *re;
    char err[300];
    regex_t g;

    if (s[0] != '?' || s[1] != '~' || ref_unsafe)
        return 0;
    if (fuzz_risky_ere(ere, strlen(ere))) {
        ref_unsafe = 1;
        return 0;
    }
    re = ts_ere_compile(ere, strlen(ere), flags, err, sizeof err);
    e = errno;
    if (re == NULL && e != EINVAL) {
        /* Refused by design: glibc may take it, and could take long to (a*****...). */
        ref_refused = ref_unsafe = 1;
        return 0;
    }
    gok = regcomp(&g, ere, REG_EXTENDED | REG_NOSUB | (flags ? REG_ICASE : 0)) == 0;
    if (gok)
        regfree(&g);
    if (re != NULL && !gok)
        fail("ere.c compiles an ERE glibc refuses");
    if (re == NULL && e == EINVAL && gok) {
        fprintf(stderr, "fuzz-match: ere.c: %s\n", err);
        fail("ere.c calls invalid an ERE glibc compiles");
    }
    if (re == NULL)
        ref_refused = 1;
    else if (ts_ere_cost(re, ref_longest) > REF_CAP || glibc_drops_anchors(ere))
        ref_unsafe = 1;
    ts_ere_free(re);
    return 0;
}

/* The longest string anywhere in v. */
static size_t
longest_string(const json_t *v)
{
    const char *key;
    size_t n = json_is_string(v) ? json_string_length(v) : 0, i, k;
    json_t *m;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            if ((k = longest_string(json_array_get(v, i))) > n)
                n = k;
    }
    json_object_foreach ((json_t *)v, key, m) {
        if ((k = longest_string(m)) > n)
            n = k;
    }
    return n;
}

/*
 * Is glibc safe to run on the template's EREs, against the tuple's fields?
 * Each ERE is also compiled by ere.c, and checked against glibc's regcomp:
 * what one compiles the other must, and what ere.c calls invalid (EINVAL)
 * glibc must refuse.  *refused is set when ere.c refuses one of them.
 */
static int
ref_safe(const json_t *tmpl, const json_t *tuple, int *refused)
{
    ref_longest = longest_string(tuple);
    ref_refused = ref_unsafe = 0;
    any_formal_text(tmpl, check_ere);
    *refused = ref_refused;
    return !ref_unsafe;
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
    if (m == TS_MATCH_COSTLY) {
        if (ts_iter_next(&it) != NULL || it.costly != t1)
            fail("store: a walk does not stop at a tuple too costly to match");
        ts_store_lend(st, t1);
        ts_store_iter(st, tm, &it);
        if (ts_iter_next(&it) != NULL || it.costly != t2)
            fail("store: a walk with the older copy lent does not stop at the newer");
        ts_store_free(st);
        return;
    }
    if (m) {
        if (ts_iter_next(&it) != t1 || ts_iter_next(&it) != t2 || ts_iter_next(&it) != NULL)
            fail("store: a matching tuple stored twice is not found twice, oldest first");
    } else if (ts_iter_next(&it) != NULL) {
        fail("store: the walk finds a tuple that does not match");
    }
    if (it.costly != NULL)
        fail("store: a walk says costly for a tuple that is not");
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
 * whose template matches (by the reference, when it is safe to run: else
 * by ts_tmpl_match) and give it to the matching in that waited longest;
 * that in then leaves, and again, until none matches.  A waiter whose
 * template is too costly for the tuple must come back marked costly, an
 * in only if it waited longer than the taker; it then leaves too.
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
              const uint32_t *off, uint32_t arity, unsigned order, int use_ref)
{
    struct ts_store *st = ts_store_new();
    struct ts_tuple *t = ts_store_add(st, text, len, off, arity);
    struct ts_waiters ws;
    struct ts_waiter w[2 * MAXV], **rds = NULL, *taker;
    struct ts_tmpl *tms[MAXV];
    int match[MAXV], seen[2 * MAXV], gone[2 * MAXV];
    size_t nv = 0, i, j, cap = 0, nrd, ncostly, got_costly;
    char err[300];
    int m;

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
        match[nv] = use_ref ? ref_match(v, tuple) : 0;
        if (use_ref && i == 1 && match[nv] != 1)
            fail("the tuple, as a template of literals, does not match itself (reference)");
        tms[nv] = ts_tmpl_compile(v, err, sizeof err);
        if (tms[nv] == NULL || match[nv] < 0)
            fail("a template made from a valid one is invalid");
        m = ts_tmpl_match(tms[nv], text, len, off, arity, NULL);
        if (use_ref && m != TS_MATCH_COSTLY && m != match[nv])
            fail("a template made from this one matches otherwise than the reference says");
        match[nv] = m;
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
            if (gone[i] || match[i / 2] != 1)
                continue;
            if (!w[i].take)
                nwant++;
            else if (want == NULL || w[i].seq < want->seq)
                want = &w[i];
        }
        ncostly = 0;
        for (i = 0; i < 2 * nv; i++)
            ncostly += !gone[i] && match[i / 2] == TS_MATCH_COSTLY &&
                       (!w[i].take || want == NULL || w[i].seq < want->seq);
        nrd = 0;
        taker = ts_waiters_match(&ws, t, &rds, &nrd, &cap);
        if (taker != want)
            fail(want == NULL ? "waiters: an in is offered a tuple it does not match"
                              : "waiters: the tuple does not go to the matching in that "
                                "waited longest");
        memset(seen, 0, sizeof seen);
        got_costly = 0;
        for (j = 0; j < nrd; j++) {
            i = (size_t)(rds[j] - w);
            if (i >= 2 * nv || gone[i] || seen[i]++)
                fail(
                    "waiters: a waiter that left is offered the tuple, or one is offered it twice");
            if (w[i].costly) {
                if (match[i / 2] != TS_MATCH_COSTLY ||
                    (w[i].take && want != NULL && w[i].seq > want->seq))
                    fail("waiters: a waiter is failed as too costly, and it is not, or came "
                         "after the taker");
                got_costly++;
            } else if (w[i].take || match[i / 2] != 1) {
                fail("waiters: an rd is offered a tuple it does not match");
            }
        }
        if (nrd - got_costly != nwant)
            fail("waiters: a matching rd is not offered the tuple");
        if (got_costly != ncostly)
            fail("waiters: a waiter too costly for the tuple is not failed");
        for (j = 0; j < nrd; j++) {
            if (rds[j]->costly) {
                ts_waiters_del(&ws, rds[j]);
                gone[rds[j] - w] = 1;
            }
        }
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
    int ref, m, safe, refused;

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
    safe = ref_safe(tmpl, tuple, &refused);
    tm = ts_tmpl_compile(json_incref(tmpl), err, sizeof err);
    /* The library's answer first, so that a slow match shows up in it. */
    m = tm != NULL ? ts_tmpl_match(tm, ts_buf_head(&text), ts_buf_len(&text), off, arity, NULL) : 0;
    if (safe && m != TS_MATCH_COSTLY) {
        range_many_digits = 0;
        ref = ref_match(tmpl, tuple);
        if (tm != NULL && ref < 0) {
            fail("the reference finds the template invalid, ts_tmpl_compile accepts it");
        } else if (tm == NULL && ref >= 0 && !refused && !range_many_digits) {
            /* (A range bound of more than 17 digits a double does not hold may be refused.) */
            fprintf(stderr, "fuzz-match: ts_tmpl_compile: %s\n", err);
            fail("ts_tmpl_compile refuses a template the reference finds valid");
        } else if (tm != NULL && m != ref) {
            fprintf(stderr, "fuzz-match: canonical tuple %.*s\n", (int)ts_buf_len(&text),
                    ts_buf_head(&text));
            fail(m ? "ts_tmpl_match says match, the reference says no match"
                   : "ts_tmpl_match says no match, the reference says match");
        }
    }
    if (tm == NULL)
        goto out;
    check_store(tm, ts_buf_head(&text), ts_buf_len(&text), off, arity, m);
    check_waiters(tmpl, tuple, ts_buf_head(&text), ts_buf_len(&text), off, arity,
                  (unsigned)ts_hash(0, 0, (const char *)data, size), safe);
out:
    ts_tmpl_free(tm);
    ts_buf_free(&text);
    free(off);
    json_decref(tuple);
    json_decref(tmpl);
    return 0;
}
