/*
 * tuple.c: canonical encoding of JSON values, field types and hashing.
 *
 * We write the canonical text ourselves instead of asking jansson to dump:
 * jansson prints reals with 17 significant digits (0.1 becomes
 * 0.10000000000000001) and knows nothing of folding 1.0 into 1.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuple.h"
#include "mem.h"

static void canon_real(double d, struct ts_buf *out);
static void canon_object(const json_t *v, struct ts_buf *out);
static int keycmp(const void *a, const void *b);
static int check_number(const char *s, size_t n, int strict, int *respelled, char *err,
                        size_t errlen);
static int same_decimal(const char *a, size_t an, const char *b, size_t bn);
static size_t significant_digits(const char *s, size_t n);

void
ts_canon(const json_t *v, struct ts_buf *out)
{
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT: canon_object(v, out); break;
    case JSON_ARRAY:
        ts_buf_add(out, "[", 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                ts_buf_add(out, ",", 1);
            ts_canon(json_array_get(v, i), out);
        }
        ts_buf_add(out, "]", 1);
        break;
    case JSON_STRING: ts_canon_string(json_string_value(v), json_string_length(v), out); break;
    case JSON_INTEGER: ts_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: canon_real(json_real_value(v), out); break;
    case JSON_TRUE: ts_buf_add(out, "true", 4); break;
    case JSON_FALSE: ts_buf_add(out, "false", 5); break;
    case JSON_NULL: ts_buf_add(out, "null", 4); break;
    }
}

/*
 * An integral double in [-2^63, 2^63) is written as an integer.  Others get
 * the fewest significant digits that read back as the same double, and keep
 * a '.' or an exponent so they read back as reals.
 */
static void
canon_real(double d, struct ts_buf *out)
{
    char tmp[40];
    int prec;

    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        ts_buf_printf(out, "%lld", (long long)d);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (strpbrk(tmp, ".eE") == NULL)
        strcat(tmp, ".0");
    ts_buf_addstr(out, tmp);
}

void
ts_canon_string(const char *s, size_t n, struct ts_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    ts_buf_add(out, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        ts_buf_add(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        ts_buf_add(out, esc, elen);
    }
    ts_buf_add(out, s + run, n - run);
    ts_buf_add(out, "\"", 1);
}

static int
keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
canon_object(const json_t *v, struct ts_buf *out)
{
    size_t n = json_object_size(v), i = 0;
    const char **keys = ts_xmalloc(n * sizeof *keys);
    const char *key;
    json_t *val;

    if (keys == NULL) {
        out->failed = 1;
        return;
    }
    json_object_foreach ((json_t *)v, key, val)
        keys[i++] = key;
    qsort(keys, n, sizeof *keys, keycmp);
    ts_buf_add(out, "{", 1);
    for (i = 0; i < n; i++) {
        if (i > 0)
            ts_buf_add(out, ",", 1);
        ts_canon_string(keys[i], strlen(keys[i]), out);
        ts_buf_add(out, ":", 1);
        ts_canon(json_object_get(v, keys[i]), out);
    }
    ts_buf_add(out, "}", 1);
    free(keys);
}

int
ts_canon_tuple(const json_t *tuple, struct ts_buf *out, uint32_t *off, char *err, size_t errlen)
{
    size_t base = ts_buf_len(out), i;

    if (!json_is_array(tuple)) {
        snprintf(err, errlen, "a tuple must be a JSON array");
        return -1;
    }
    if (json_array_size(tuple) == 0) {
        snprintf(err, errlen, "a tuple must have at least one field");
        return -1;
    }
    for (i = 0; i < json_array_size(tuple); i++) {
        if (ts_depth(json_array_get(tuple, i), TS_DEPTH_MAX) > TS_DEPTH_MAX) {
            snprintf(err, errlen,
                     "field %zu nests arrays and objects more than " TS_STR(TS_DEPTH_MAX) " deep",
                     i + 1);
            return -1;
        }
    }
    ts_buf_add(out, "[", 1);
    for (i = 0; i < json_array_size(tuple); i++) {
        if (i > 0)
            ts_buf_add(out, ",", 1);
        off[i] = (uint32_t)(ts_buf_len(out) - base);
        ts_canon(json_array_get(tuple, i), out);
    }
    ts_buf_add(out, "]", 1);
    return 0;
}

json_t *
ts_text_string(const char *p, size_t n)
{
    json_t *v = json_stringn(p, n);
    char *copy;
    size_t i;

    if (v != NULL)
        return v;
    if ((copy = ts_xstrndup(p, n)) == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        if ((unsigned char)copy[i] >= 0x80 || copy[i] == '\0')
            copy[i] = '?';
    v = json_stringn(copy, n);
    free(copy);
    return v;
}

unsigned
ts_field_type(const char *text, size_t len)
{
    switch (text[0]) {
    case '"': return TS_TYPE_STR;
    case '[': return TS_TYPE_ARR;
    case '{': return TS_TYPE_OBJ;
    case 't':
    case 'f': return TS_TYPE_BOOL;
    case 'n': return TS_TYPE_NULL;
    default:
        return memchr(text, '.', len) || memchr(text, 'e', len) || memchr(text, 'E', len)
                   ? TS_TYPE_REAL
                   : TS_TYPE_INT;
    }
}

/* FNV-1a, 64 bits, with arity and position mixed in first. */
uint64_t
ts_hash(uint32_t arity, uint32_t pos, const char *text, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    h = (h ^ arity) * 0x100000001b3ULL;
    h = (h ^ pos) * 0x100000001b3ULL;
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

size_t
ts_depth(const json_t *v, size_t limit)
{
    size_t deepest = 0, d, i;
    const char *key;
    json_t *m;

    if (!json_is_array(v) && !json_is_object(v))
        return 0;
    if (limit == 0)
        return 1;
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v) && deepest < limit; i++)
            if ((d = ts_depth(json_array_get(v, i), limit - 1)) > deepest)
                deepest = d;
    } else {
        json_object_foreach ((json_t *)v, key, m) {
            if ((d = ts_depth(m, limit - 1)) > deepest)
                deepest = d;
            if (deepest >= limit)
                break;
        }
    }
    return deepest + 1;
}

/*
 * Numbers are found by their first character outside strings; the text
 * has been read by jansson, so it is valid JSON and a number is a run of
 * the characters a number may hold.
 */
int
ts_check_numbers(const char *text, size_t len, int strict, int *respelled, char *err, size_t errlen)
{
    size_t i = 0, start;

    if (respelled != NULL)
        *respelled = 0;
    while (i < len) {
        char c = text[i];

        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        start = i;
        while (i < len && strchr("0123456789+-.eE", text[i]) != NULL && text[i] != '\0')
            i++;
        if (check_number(text + start, i - start, strict, respelled, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* One number token, checked as ts_check_numbers says. */
static int
check_number(const char *s, size_t n, int strict, int *respelled, char *err, size_t errlen)
{
    struct ts_buf b = TS_BUF_INIT;
    char small[64], *copy = n < sizeof small ? small : ts_xmalloc(n + 1);
    int rc = 0, same;
    double d;

    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    errno = 0;
    if (strcspn(copy, ".eE") == n) {
        long long ll = strtoll(copy, NULL, 10);

        if (errno == ERANGE) {
            snprintf(err, errlen,
                     "number %.40s%s is out of range: an integer must fit in 64 bits "
                     "(-9223372036854775808 to 9223372036854775807); write a larger one as a "
                     "string",
                     copy, n > 40 ? "..." : "");
            rc = -1;
        } else if (respelled != NULL) {
            ts_buf_printf(&b, "%lld", ll);
            same = ts_buf_len(&b) == n && memcmp(ts_buf_head(&b), s, n) == 0;
            *respelled |= !same;
        }
        goto out;
    }
    d = strtod(copy, NULL);
    if (isinf(d)) {
        snprintf(err, errlen, "number %.40s%s is out of range: reals go up to about 1.8e308", copy,
                 n > 40 ? "..." : "");
        rc = -1;
        goto out;
    }
    canon_real(d, &b);
    if (b.failed) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    } else if ((strict || d == 0 || significant_digits(s, n) > 17) &&
               !same_decimal(s, n, ts_buf_head(&b), ts_buf_len(&b))) {
        snprintf(err, errlen,
                 "number %.40s%s cannot be kept exactly: it would be stored as %.*s (%s); "
                 "write it as a string to keep it",
                 copy, n > 40 ? "..." : "", (int)ts_buf_len(&b), ts_buf_head(&b),
                 d == 0 ? "too small for a double" : "a double holds about 17 significant digits");
        rc = -1;
    } else if (respelled != NULL) {
        *respelled |= ts_buf_len(&b) != n || memcmp(ts_buf_head(&b), s, n) != 0;
    }
out:
    ts_buf_free(&b);
    if (copy != small)
        free(copy);
    return rc;
}

/*
 * A number's text as a decimal: its significant digits, from the first
 * nonzero one to the last, and where the decimal point goes, so that the
 * value is 0.DIGITS times ten to the power exp.
 */
struct decimal {
    int neg;          /* a minus sign (ignored for zero) */
    const char *from; /* first significant digit, NULL for zero */
    const char *to;   /* one past the last significant digit */
    long long exp;    /* the point's place */
};

static void
decimal_of(const char *s, size_t n, struct decimal *d)
{
    const char *end = s + n, *mant_end, *int_end, *p;
    long long e = 0;
    int eneg = 0;

    d->neg = s < end && *s == '-';
    if (d->neg)
        s++;
    for (mant_end = s; mant_end < end && *mant_end != 'e' && *mant_end != 'E'; mant_end++)
        ;
    if (mant_end < end) {
        p = mant_end + 1;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        /* An exponent this large only ever meets one of the same size. */
        for (; p < end; p++)
            e = e < LLONG_MAX / 20 ? e * 10 + (*p - '0') : e;
        if (eneg)
            e = -e;
    }
    int_end = memchr(s, '.', (size_t)(mant_end - s));
    if (int_end == NULL)
        int_end = mant_end;
    d->from = d->to = NULL;
    for (p = s; p < mant_end; p++) {
        if (*p == '.' || *p == '0')
            continue;
        if (d->from == NULL)
            d->from = p;
        d->to = p + 1;
    }
    if (d->from == NULL)
        return;
    /* The first significant digit's place among the digits, the point not counted. */
    d->exp = (long long)(int_end - s) - (long long)(d->from - s - (d->from > int_end)) + e;
}

/* How many significant digits a number's text has. */
static size_t
significant_digits(const char *s, size_t n)
{
    struct decimal d;
    size_t k = 0;
    const char *p;

    decimal_of(s, n, &d);
    for (p = d.from; p != NULL && p < d.to; p++)
        k += *p != '.';
    return k;
}

/* Do two JSON number texts stand for the same decimal number? */
static int
same_decimal(const char *a, size_t an, const char *b, size_t bn)
{
    struct decimal x, y;
    const char *p, *q;

    decimal_of(a, an, &x);
    decimal_of(b, bn, &y);
    if (x.from == NULL || y.from == NULL)
        return x.from == y.from;
    if (x.neg != y.neg || x.exp != y.exp)
        return 0;
    for (p = x.from, q = y.from; p < x.to && q < y.to; p++, q++) {
        if (*p == '.')
            p++;
        if (*q == '.')
            q++;
        if (*p != *q)
            return 0;
    }
    return p == x.to && q == y.to;
}

const char *
ts_json_why(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_null_character:
    case json_error_null_byte_in_key: return "a string may not hold U+0000 (NUL)";
    case json_error_stack_overflow:
        return "arrays and objects nested more than " TS_STR(TS_DEPTH_MAX) " deep";
    case json_error_numeric_overflow:
        return strstr(e->text, "integer") != NULL
                   ? "a number out of range (an integer must fit in 64 bits)"
                   : "a number out of range (reals go up to about 1.8e308)";
    default: return e->text;
    }
}

size_t
ts_utf8_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k, len;
    uint32_t c;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (p[i] >= 0xc2 && p[i] <= 0xdf)
            len = 2, c = p[i] & 0x1f;
        else if (p[i] >= 0xe0 && p[i] <= 0xef)
            len = 3, c = p[i] & 0x0f;
        else if (p[i] >= 0xf0 && p[i] <= 0xf4)
            len = 4, c = p[i] & 0x07;
        else
            return i;
        if (n - i < len)
            return i;
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff))
            return i;
        i += len;
    }
    return n;
}
