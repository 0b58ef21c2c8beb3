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

static int match_field(const struct ts_tfield *f, const char *text, size_t len);
static const char *regex_too_costly(const char *re);
static int match_regex(const regex_t *re, const char *text, size_t len);

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
    int rc;

    memset(f, 0, sizeof *f);
    if (s[1] == '?')
        return 0;
    if (s[1] == '\0') {
        f->kind = TS_F_ANY;
        return 1;
    }
    if (s[1] == '~') {
        const char *why = regex_too_costly(s + 2);

        if (why != NULL) {
            snprintf(err, errlen, "bad regular expression: %s", why);
            return -1;
        }
        f->kind = TS_F_RE;
        rc = regcomp(&f->re, s + 2, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];

            regerror(rc, &f->re, msg, sizeof msg);
            snprintf(err, errlen, "bad regular expression: %s", msg);
            return -1;
        }
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
    snprintf(err, errlen, "unknown type (one of ? ?str ?int ?num ?bool ?null ?arr ?obj ?~ERE)");
    return -1;
}

/*
 * Compiling a regular expression runs in the daemon, for any client, so
 * its cost must be bounded.  glibc expands repetitions: x{m,n} becomes n
 * copies of x and x+ becomes x x*, so a{1,32767} takes seconds and every
 * nested or stacked '+' doubles the work ((((a)+)+)+... at 25 levels needs
 * 27 GB).  POSIX leaves stacked operators undefined anyway.  Bounds are
 * kept small and few, and the copies regcomp could make are estimated and
 * capped: at that cap it compiles in milliseconds.
 */
#define RE_MAX_LEN 512
#define RE_MAX_BOUND 100
#define RE_MAX_BOUNDS 4
/* Copies regcomp may make: length x product of bounds x 2 per repeated group. */
#define RE_MAX_COST 50000

static const char *
regex_too_costly(const char *re)
{
    int after_atom_op = 0, after_group = 0, bounds = 0;
    double cost = (double)strlen(re) + 1;
    const char *p;

    if (strlen(re) > RE_MAX_LEN)
        return "longer than 512 bytes";
    for (p = re; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            /* A GNU extension, not ERE, and exponential to match. */
            if (p[1] >= '1' && p[1] <= '9')
                return "back-references (\\1 to \\9) are not allowed";
            p++;
            after_atom_op = after_group = 0;
            continue;
        }
        if (*p == '[') {
            /* A bracket expression: ']' first is literal, as are operators inside. */
            p += (p[1] == '^') ? 2 : 1;
            if (*p == ']')
                p++;
            while (*p != '\0' && *p != ']')
                p++;
            if (*p == '\0')
                return NULL; /* regcomp reports the unbalanced bracket */
            after_atom_op = after_group = 0;
            continue;
        }
        if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
            if (after_atom_op)
                return "repetition operators one after another";
            if (after_group && *p == '+')
                cost *= 2;
            after_atom_op = 1;
            after_group = 0;
            if (*p == '{') {
                char *end;
                long lo = strtol(p + 1, &end, 10), hi = lo;

                if (++bounds > RE_MAX_BOUNDS)
                    return "more than 4 bounded repetitions";
                if (lo > RE_MAX_BOUND)
                    return "a repetition bound over 100 (use + or *)";
                /* {m,} is m copies and a star: costs m + 1. */
                if (*end == ',')
                    hi = end[1] == '}' ? lo + 1 : strtol(end + 1, &end, 10);
                if (hi > RE_MAX_BOUND)
                    return "a repetition bound over 100 (use + or *)";
                cost *= hi > 1 ? (double)hi : 1;
            }
            continue;
        }
        after_atom_op = 0;
        after_group = *p == ')';
    }
    if (cost > RE_MAX_COST)
        return "too costly to compile (length times repetition bounds, doubled for each "
               "group repeated with +, is over 50000: use * where you can)";
    return NULL;
}

struct ts_tmpl *
ts_tmpl_compile(json_t *wire, char *err, size_t errlen)
{
    struct ts_tmpl *tm;
    struct ts_buf b = TS_BUF_INIT;
    size_t arity, i;
    char why[200];

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
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        int rc = 0;

        if (s != NULL && s[0] == '?') {
            rc = ts_formal_parse(s, f, why, sizeof why);
            if (rc < 0) {
                snprintf(err, errlen, "bad template field %zu '%s': %s", i + 1, s, why);
                tm->arity = (uint32_t)i;
                ts_tmpl_free(tm);
                ts_buf_free(&b);
                return NULL;
            }
        }
        if (rc == 1)
            continue;
        ts_buf_reset(&b);
        if (s != NULL && s[0] == '?') {
            json_t *lit = json_stringn(s + 1, json_string_length(v) - 1);

            ts_canon(lit, &b);
            json_decref(lit);
        } else {
            ts_canon(v, &b);
        }
        f->kind = TS_F_LIT;
        f->litlen = ts_buf_len(&b);
        f->lit = b.failed ? NULL : ts_xstrndup(ts_buf_head(&b), f->litlen);
        if (f->lit == NULL) {
            snprintf(err, errlen, "out of memory");
            tm->arity = (uint32_t)i;
            ts_tmpl_free(tm);
            ts_buf_free(&b);
            return NULL;
        }
        f->hash = ts_hash(tm->arity, (uint32_t)i, f->lit, f->litlen);
        tm->nlit++;
    }
    ts_buf_free(&b);
    return tm;
}

void
ts_tmpl_free(struct ts_tmpl *tm)
{
    uint32_t i;

    if (tm == NULL)
        return;
    for (i = 0; i < tm->arity; i++) {
        if (tm->f[i].kind == TS_F_RE)
            regfree(&tm->f[i].re);
        free(tm->f[i].lit);
    }
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
              uint32_t arity)
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
    for (i = 0; i < arity; i++) {
        const struct ts_tfield *f = &tm->f[i];

        if (f->kind != TS_F_LIT && f->kind != TS_F_ANY &&
            !match_field(f, text + off[i], ts_field_len(off, arity, len, i)))
            return 0;
    }
    return 1;
}

static int
match_field(const struct ts_tfield *f, const char *text, size_t len)
{
    unsigned type = ts_field_type(text, len);

    if (f->kind == TS_F_RE)
        return type == TS_TYPE_STR && match_regex(&f->re, text, len);
    if ((f->types & type) == 0)
        return 0;
    if (f->integral && type == TS_TYPE_REAL) {
        /* Canonical reals with an integral value are only the huge ones. */
        double d = strtod(text, NULL);

        return isfinite(d) && d == floor(d);
    }
    return 1;
}

/* Match a regular expression against the decoded value of a string field. */
static int
match_regex(const regex_t *re, const char *text, size_t len)
{
    char small[256];
    json_t *v;
    int rc;

    if (memchr(text, '\\', len) == NULL && len - 2 < sizeof small) {
        memcpy(small, text + 1, len - 2);
        small[len - 2] = '\0';
        return regexec(re, small, 0, NULL, 0) == 0;
    }
    v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (v == NULL)
        return 0;
    rc = regexec(re, json_string_value(v), 0, NULL, 0) == 0;
    json_decref(v);
    return rc;
}
