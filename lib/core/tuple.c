/*
 * tuple.c: canonical encoding of JSON values, field types and hashing.
 *
 * We write the canonical text ourselves instead of asking jansson to dump:
 * jansson prints reals with 17 significant digits (0.1 becomes
 * 0.10000000000000001) and knows nothing of folding 1.0 into 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuple.h"
#include "mem.h"

static void canon_real(double d, struct ts_buf *out);
static void canon_object(const json_t *v, struct ts_buf *out);
static int keycmp(const void *a, const void *b);

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
