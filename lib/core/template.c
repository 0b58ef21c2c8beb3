/*
 * template.c: compiling templates and matching canonical tuples.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"
#include "tuple.h"
#include "mem.h"

/*
 * A match in progress: the regular expression work it has done, and what
 * passed the budget (see ts_tmpl_match).
 */
struct mctx {
    uint64_t cost;  /* of the expressions that ran, and the one that would not */
    uint64_t spent; /* the request's work before this match */
    int request;    /* the request's budget counts too */
    int costly;     /* an expression did not run: over budget */
    uint32_t field; /* the top-level field being matched */
    uint32_t where; /* the field of the expression that did not run */
    size_t n;       /* its string's length */
    const struct ts_ere *re;
};

static int tmpl_match(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
                      uint32_t arity, struct mctx *m);
static int match_field(const struct ts_tfield *f, const char *text, size_t len, struct mctx *m);
static int match_regex(const struct ts_ere *re, const char *text, size_t len, struct mctx *m);
static int parse_range(const char *s, struct ts_tfield *f, char *err, size_t errlen);
static int compile_field(const json_t *v, struct ts_tfield *f, char *err, size_t errlen);
static int compile_obj(const json_t *v, struct ts_tfield *f, char *err, size_t errlen);
static int has_formal(const json_t *obj);
static int match_range(const struct ts_tfield *f, const char *text, size_t len);
static int match_obj(const struct ts_tobj *o, const char *text, size_t len, struct mctx *m);

static const struct {
    const char *name;
    unsigned types;
    int integral;
} formal_types[] = {
    {"str", TS_TYPE_STR, 0},
    {"int", TS_TYPE_INT | TS_TYPE_REAL, 1},
    {"num", TS_TYPE_INT | TS_TYPE_REAL, 0},
    {"bool", TS_TYPE_BOOL, 0},
    {"null", TS_TYPE_NULL, 0},
    {"arr", TS_TYPE_ARR, 0},
    {"obj", TS_TYPE_OBJ, 0},
};

int
ts_formal_parse(const char *s, struct ts_tfield *f, char *err, size_t errlen)
{
    size_t i;

    memset(f, 0, sizeof *f);
    if (s[1] == '?')
        return 0;
    if (s[1] == '\0') {
        f->kind = TS_F_ANY;
        return 1;
    }
    if (s[1] == '~') {
        /* "?~i:ERE" ignores case; to match "i:" itself, write "?~[i]:". */
        int icase = strncmp(s + 2, "i:", 2) == 0;
        const char *re = s + (icase ? 4 : 2);
        char msg[200];

        f->re = ts_ere_compile(re, strlen(re), icase ? TS_ERE_ICASE : 0, msg, sizeof msg);
        if (f->re == NULL) {
            snprintf(err, errlen, "bad regular expression: %s", msg);
            return -1;
        }
        f->kind = TS_F_RE;
        return 1;
    }
    for (i = 0; i < sizeof formal_types / sizeof formal_types[0]; i++) {
        if (strcmp(s + 1, formal_types[i].name) == 0) {
            f->kind = TS_F_TYPE;
            f->types = formal_types[i].types;
            f->integral = formal_types[i].integral;
            return 1;
        }
    }
    if (strstr(s + 1, "..") != NULL && strchr("-.0123456789", s[1]) != NULL)
        return parse_range(s, f, err, errlen);
    snprintf(err, errlen,
             "unknown type (one of ? ?str ?int ?num ?bool ?null ?arr ?obj ?~ERE ?LO..HI)");
    return -1;
}

void
ts_tfield_free(struct ts_tfield *f)
{
    size_t i;

    if (f->kind == TS_F_RE)
        ts_ere_free(f->re);
    if (f->obj != NULL) {
        for (i = 0; i < f->obj->n; i++) {
            free(f->obj->key[i]);
            ts_tfield_free(&f->obj->val[i]);
        }
        free(f->obj->key);
        free(f->obj->keylen);
        free(f->obj->val);
        free(f->obj);
    }
    free(f->lit);
    memset(f, 0, sizeof *f);
}

/* Is s (n bytes) a number as JSON writes one? */
static int
json_number(const char *s, size_t n)
{
    const char *p = s, *end = s + n, *digits;

    if (p < end && *p == '-')
        p++;
    for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
        ;
    if (p == digits || (*digits == '0' && p - digits > 1))
        return 0;
    if (p < end && *p == '.') {
        for (digits = ++p; p < end && *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return 0;
    }
    return p == end;
}

/* One end of a range, n bytes at s; none when n is 0. */
static int
parse_bound(const char *s, size_t n, struct ts_num *b, char *err, size_t errlen)
{
    char *copy, why[300];

    memset(b, 0, sizeof *b);
    if (n == 0)
        return 0;
    if (!json_number(s, n)) {
        snprintf(err, errlen, "bad range: '%.*s' is not a number", (int)(n < 64 ? n : 64), s);
        return -1;
    }
    if (ts_check_numbers(s, n, 0, NULL, why, sizeof why) < 0) {
        snprintf(err, errlen, "bad range: %s", why);
        return -1;
    }
    if ((copy = ts_xstrndup(s, n)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->set = 1;
    b->isint = strcspn(copy, ".eE") == n;
    if (b->isint)
        b->i = strtoll(copy, NULL, 10);
    else
        b->d = strtod(copy, NULL);
    free(copy);
    return 0;
}

/* The sign of i - d, exactly (a double may be beyond any int64_t). */
static int
cmp_int_real(int64_t i, double d)
{
    double fl;
    int64_t fi;

    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    fl = floor(d);
    fi = (int64_t)fl;
    if (i != fi)
        return i < fi ? -1 : 1;
    return d > fl ? -1 : 0;
}

static int
cmp_num(const struct ts_num *a, const struct ts_num *b)
{
    if (a->isint && b->isint)
        return (a->i > b->i) - (a->i < b->i);
    if (a->isint)
        return cmp_int_real(a->i, b->d);
    if (b->isint)
        return -cmp_int_real(b->i, a->d);
    return (a->d > b->d) - (a->d < b->d);
}

/* "?LO..HI", "?LO.." or "?..HI": numbers from LO to HI, both included. */
static int
parse_range(const char *s, struct ts_tfield *f, char *err, size_t errlen)
{
    const char *dots = strstr(s + 1, "..");

    if (parse_bound(s + 1, (size_t)(dots - s - 1), &f->lo, err, errlen) < 0 ||
        parse_bound(dots + 2, strlen(dots + 2), &f->hi, err, errlen) < 0)
        return -1;
    if (!f->lo.set && !f->hi.set) {
        snprintf(err, errlen, "bad range: give LO, HI or both (?num matches any number)");
        return -1;
    }
    if (f->lo.set && f->hi.set && cmp_num(&f->lo, &f->hi) > 0) {
        snprintf(err, errlen, "bad range: empty, its low end is above its high end");
        return -1;
    }
    f->kind = TS_F_RANGE;
    return 1;
}

struct ts_tmpl *
ts_tmpl_compile(json_t *wire, char *err, size_t errlen)
{
    struct ts_tmpl *tm;
    size_t arity, i;
    char why[300];

    if (!json_is_array(wire) || json_array_size(wire) == 0) {
        snprintf(err, errlen, "a template must be a non-empty JSON array");
        json_decref(wire);
        return NULL;
    }
    arity = json_array_size(wire);
    tm = ts_xcalloc(1, sizeof *tm + arity * sizeof tm->f[0]);
    if (tm == NULL) {
        snprintf(err, errlen, "out of memory");
        json_decref(wire);
        return NULL;
    }
    tm->arity = (uint32_t)arity;
    tm->wire = wire;
    for (i = 0; i < arity; i++) {
        struct ts_tfield *f = &tm->f[i];
        json_t *v = json_array_get(wire, i);
        const char *s = json_string_value(v);

        if (compile_field(v, f, why, sizeof why) < 0) {
            if (s != NULL)
                snprintf(err, errlen, "bad template field %zu '%s': %s", i + 1, s, why);
            else
                snprintf(err, errlen, "bad template field %zu: %s", i + 1, why);
            ts_tfield_free(f);
            tm->arity = (uint32_t)i;
            ts_tmpl_free(tm);
            return NULL;
        }
        if (f->kind == TS_F_LIT) {
            f->hash = ts_hash(tm->arity, (uint32_t)i, f->lit, f->litlen);
            tm->nlit++;
        }
    }
    return tm;
}

/* A literal field: the canonical text of v. */
static int
literal(const json_t *v, struct ts_tfield *f, char *err, size_t errlen)
{
    struct ts_buf b = TS_BUF_INIT;

    ts_canon(v, &b);
    f->kind = TS_F_LIT;
    f->litlen = ts_buf_len(&b);
    f->lit = b.failed ? NULL : ts_xstrndup(ts_buf_head(&b), f->litlen);
    ts_buf_free(&b);
    if (f->lit == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* One field of a template, or one value of an object template. */
static int
compile_field(const json_t *v, struct ts_tfield *f, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    json_t *lit;
    int rc;

    memset(f, 0, sizeof *f);
    if (ts_depth(v, TS_DEPTH_MAX) > TS_DEPTH_MAX) {
        snprintf(err, errlen, "arrays and objects nested more than " TS_STR(TS_DEPTH_MAX) " deep");
        return -1;
    }
    if (json_is_object(v))
        return compile_obj(v, f, err, errlen);
    if (s == NULL || s[0] != '?')
        return literal(v, f, err, errlen);
    rc = ts_formal_parse(s, f, err, errlen);
    if (rc < 0)
        memset(f, 0, sizeof *f); /* nothing was kept: nothing to free */
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* "??x": the literal string "?x". */
    lit = json_stringn(s + 1, json_string_length(v) - 1);
    rc = lit != NULL ? literal(lit, f, err, errlen) : -1;
    if (lit == NULL)
        snprintf(err, errlen, "out of memory");
    json_decref(lit);
    return rc;
}

/* Is there a formal among the values of an object, or of the objects in it? */
static int
has_formal(const json_t *obj)
{
    const char *key, *s;
    json_t *v;

    json_object_foreach ((json_t *)obj, key, v) {
        s = json_string_value(v);
        if ((s != NULL && s[0] == '?' && s[1] != '?') || (json_is_object(v) && has_formal(v)))
            return 1;
    }
    return 0;
}

/* An object without formals, its "??" escapes undone: a literal. */
static json_t *
unescaped(const json_t *obj)
{
    json_t *out = json_object(), *v, *w;
    const char *key, *s;

    json_object_foreach ((json_t *)obj, key, v) {
        s = json_string_value(v);
        if (s != NULL && s[0] == '?')
            w = json_stringn(s + 1, json_string_length(v) - 1);
        else if (json_is_object(v))
            w = unescaped(v);
        else
            w = json_incref(v);
        if (out == NULL || w == NULL || json_object_set_new(out, key, w) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int
keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * An object template.  Its keys are kept in the canonical order and text,
 * so that matching walks the tuple's canonical object once, key by key.
 */
static int
compile_obj(const json_t *v, struct ts_tfield *f, char *err, size_t errlen)
{
    size_t n = json_object_size(v), i = 0;
    struct ts_tobj *o;
    const char **keys;
    const char *key;
    json_t *val;
    int k;

    if (!has_formal(v)) {
        json_t *lit = unescaped(v);
        int rc = lit != NULL ? literal(lit, f, err, errlen) : -1;

        if (lit == NULL)
            snprintf(err, errlen, "out of memory");
        json_decref(lit);
        return rc;
    }
    keys = ts_xmalloc(n * sizeof *keys);
    o = f->obj = ts_xcalloc(1, sizeof *o);
    if (o != NULL) {
        o->key = ts_xcalloc(n, sizeof *o->key);
        o->keylen = ts_xcalloc(n, sizeof *o->keylen);
        o->val = ts_xcalloc(n, sizeof *o->val);
    }
    if (keys == NULL || o == NULL || o->key == NULL || o->keylen == NULL || o->val == NULL) {
        free(keys);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->kind = TS_F_OBJ;
    json_object_foreach ((json_t *)v, key, val)
        keys[i++] = key;
    qsort(keys, n, sizeof *keys, keycmp);
    for (i = 0; i < n; i++) {
        struct ts_buf b = TS_BUF_INIT;

        o->n = i + 1;
        ts_canon_string(keys[i], strlen(keys[i]), &b);
        o->keylen[i] = ts_buf_len(&b);
        o->key[i] = b.failed ? NULL : ts_xstrndup(ts_buf_head(&b), o->keylen[i]);
        ts_buf_free(&b);
        if (o->key[i] == NULL) {
            snprintf(err, errlen, "out of memory");
            free(keys);
            return -1;
        }
        k = snprintf(err, errlen, "key \"%.64s\": ", keys[i]);
        if (k < 0 || (size_t)k >= errlen)
            k = 0;
        if (compile_field(json_object_get(v, keys[i]), &o->val[i], err + k, errlen - (size_t)k) <
            0) {
            free(keys);
            return -1;
        }
    }
    free(keys);
    return 0;
}

int
ts_tmpl_binds(const json_t *field)
{
    const char *s = json_string_value(field);

    if (s != NULL)
        return s[0] == '?' && s[1] != '?';
    return json_is_object(field) && has_formal(field);
}

void
ts_tmpl_free(struct ts_tmpl *tm)
{
    uint32_t i;

    if (tm == NULL)
        return;
    for (i = 0; i < tm->arity; i++)
        ts_tfield_free(&tm->f[i]);
    json_decref(tm->wire);
    free(tm);
}

int
ts_tmpl_key(const struct ts_tmpl *tm)
{
    uint32_t i;

    for (i = 0; i < tm->arity; i++)
        if (tm->f[i].kind == TS_F_LIT)
            return (int)i;
    return -1;
}

int
ts_tmpl_match(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
              uint32_t arity, uint64_t *spent)
{
    struct mctx m;
    int rc;

    memset(&m, 0, sizeof m);
    m.request = spent != NULL;
    m.spent = spent != NULL ? *spent : 0;
    rc = tmpl_match(tm, text, len, off, arity, &m);
    if (m.costly)
        return TS_MATCH_COSTLY;
    if (spent != NULL)
        *spent += m.cost;
    return rc;
}

static int
tmpl_match(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
           uint32_t arity, struct mctx *m)
{
    uint32_t i;

    if (arity != tm->arity)
        return 0;
    /* Literals first: they are cheap and most selective. */
    for (i = 0; i < arity; i++) {
        const struct ts_tfield *f = &tm->f[i];

        if (f->kind == TS_F_LIT && (ts_field_len(off, arity, len, i) != f->litlen ||
                                    memcmp(text + off[i], f->lit, f->litlen) != 0))
            return 0;
    }
    /* Regular expressions last: they cost the most. */
    for (i = 0; i < arity; i++) {
        const struct ts_tfield *f = &tm->f[i];

        m->field = i;
        if (f->kind != TS_F_LIT && f->kind != TS_F_ANY && f->kind != TS_F_RE &&
            !match_field(f, text + off[i], ts_field_len(off, arity, len, i), m))
            return 0;
    }
    for (i = 0; i < arity; i++) {
        const struct ts_tfield *f = &tm->f[i];

        m->field = i;
        if (f->kind == TS_F_RE &&
            !match_field(f, text + off[i], ts_field_len(off, arity, len, i), m))
            return 0;
    }
    return 1;
}

void
ts_tmpl_costly(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
               uint32_t arity, char *err, size_t errlen)
{
    struct mctx m;

    memset(&m, 0, sizeof m);
    tmpl_match(tm, text, len, off, arity, &m);
    if (!m.costly)
        snprintf(err, errlen,
                 "too costly to match: the regular expressions would cost over %llu units for "
                 "all the tuples this request looks at (ts-tuples(7)); narrow it with a literal "
                 "field",
                 (unsigned long long)TS_ERE_REQUEST_BUDGET);
    else if (m.cost == ts_ere_cost(m.re, m.n))
        snprintf(err, errlen,
                 "too costly to match: the regular expression of field %u would cost %llu units "
                 "against a string of %zu bytes, over the %llu of one match (it takes strings "
                 "of up to %llu bytes; ts-tuples(7))",
                 m.where + 1, (unsigned long long)m.cost, m.n,
                 (unsigned long long)TS_ERE_MATCH_BUDGET,
                 (unsigned long long)(TS_ERE_MATCH_BUDGET / (ts_ere_trans(m.re) + TS_ERE_BYTE)));
    else
        snprintf(err, errlen,
                 "too costly to match: the regular expressions would cost %llu units against "
                 "this tuple's strings (the last %zu bytes in field %u), over the %llu of one "
                 "match (ts-tuples(7))",
                 (unsigned long long)m.cost, m.n, m.where + 1,
                 (unsigned long long)TS_ERE_MATCH_BUDGET);
}

static int
match_field(const struct ts_tfield *f, const char *text, size_t len, struct mctx *m)
{
    unsigned type;

    switch (f->kind) {
    case TS_F_ANY: return 1;
    case TS_F_LIT: return len == f->litlen && memcmp(text, f->lit, len) == 0;
    case TS_F_RANGE: return match_range(f, text, len);
    case TS_F_OBJ: return match_obj(f->obj, text, len, m);
    default: break;
    }
    type = ts_field_type(text, len);
    if (f->kind == TS_F_RE)
        return type == TS_TYPE_STR && match_regex(f->re, text, len, m);
    if ((f->types & type) == 0)
        return 0;
    if (f->integral && type == TS_TYPE_REAL) {
        /* Canonical reals with an integral value are only the huge ones. */
        double d = strtod(text, NULL);

        return isfinite(d) && d == floor(d);
    }
    return 1;
}

/*
 * Match a regular expression against the decoded value of a string field,
 * if its cost, known before it runs, keeps the match within its budget.
 */
static int
match_regex(const struct ts_ere *re, const char *text, size_t len, struct mctx *m)
{
    uint64_t cost = ts_ere_cost(re, len - 2);
    json_t *v;
    int rc;

    m->cost += cost;
    if (m->cost > TS_ERE_MATCH_BUDGET ||
        (m->request && m->spent + m->cost > TS_ERE_REQUEST_BUDGET)) {
        m->costly = 1;
        m->where = m->field;
        m->n = len - 2;
        m->re = re;
        return 0;
    }
    if (memchr(text, '\\', len) == NULL)
        return ts_ere_match(re, text + 1, len - 2);
    v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (v == NULL)
        return 0;
    rc = ts_ere_match(re, json_string_value(v), json_string_length(v));
    json_decref(v);
    return rc;
}

/* A number of the tuple, from its canonical text, within the bounds. */
static int
match_range(const struct ts_tfield *f, const char *text, size_t len)
{
    unsigned type = ts_field_type(text, len);
    struct ts_num v = {1, type == TS_TYPE_INT, 0, 0};

    if (type != TS_TYPE_INT && type != TS_TYPE_REAL)
        return 0;
    /* The field's text is followed by a ',', ']' or '}' of the tuple: strto* stop there. */
    if (v.isint)
        v.i = strtoll(text, NULL, 10);
    else
        v.d = strtod(text, NULL);
    return (!f->lo.set || cmp_num(&v, &f->lo) >= 0) && (!f->hi.set || cmp_num(&v, &f->hi) <= 0);
}

/* The end of the canonical value at p, which ends before end. */
static const char *
skip_value(const char *p, const char *end)
{
    int depth = 0;

    while (p < end) {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
            p++;
        } else if (*p == '[' || *p == '{') {
            depth++;
            p++;
        } else if (*p == ']' || *p == '}') {
            depth--;
            p++;
        } else if (depth == 0 && (*p == ',' || *p == ':')) {
            return p;
        } else {
            p++;
        }
        if (p >= end)
            return end;
        if (depth == 0 && (*p == ',' || *p == '}' || *p == ']'))
            return p;
    }
    return end;
}

/*
 * Keys are in the same order in the template and in the canonical text, so
 * the object has exactly the template's keys when they come one for one.
 */
static int
match_obj(const struct ts_tobj *o, const char *text, size_t len, struct mctx *m)
{
    const char *p = text + 1, *end = text + len - 1, *v;
    size_t k;

    if (len < 2 || text[0] != '{')
        return 0;
    for (k = 0; k < o->n; k++) {
        if (k > 0) {
            if (p >= end || *p != ',')
                return 0;
            p++;
        }
        if ((size_t)(end - p) <= o->keylen[k] || memcmp(p, o->key[k], o->keylen[k]) != 0 ||
            p[o->keylen[k]] != ':')
            return 0;
        v = p + o->keylen[k] + 1;
        p = skip_value(v, end);
        if (!match_field(&o->val[k], v, (size_t)(p - v), m))
            return 0;
    }
    return p == end;
}
