/*
 * scan.c: the simple subset of JSON, read straight into canonical text
 * (see scan.h).
 *
 * Every rule here mirrors what jansson accepts and what tuple.c writes: a
 * value this file copies must be one that jansson reads and ts_canon writes
 * back byte for byte.  The fuzz target fuzz-scan checks exactly that.
 */
#include <string.h>

#include "scan.h"
#include "mem.h"

/* Deeper arrays are rare; leave them to jansson rather than recurse far. */
#define MAX_DEPTH 32

static const char *value(const char *p, const char *end, struct ts_buf *out, int depth);
static const char *string(const char *p, const char *end, struct ts_buf *out);
static const char *integer(const char *p, const char *end, struct ts_buf *out);
static const char *array(const char *p, const char *end, struct ts_buf *out, int depth);
static const char *word(const char *p, const char *end, const char *w, size_t n,
                        struct ts_buf *out);

const char *
ts_scan_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

const char *
ts_scan_value(const char *p, const char *end, struct ts_buf *out)
{
    return value(ts_scan_space(p, end), end, out, 0);
}

const char *
ts_scan_tuple(const char *p, const char *end, struct ts_buf *out, uint32_t **off, size_t *noff,
              size_t *offcap)
{
    size_t base = ts_buf_len(out), n0 = *noff;

    p = ts_scan_space(p, end);
    if (p == end || *p != '[')
        return NULL;
    ts_buf_add(out, "[", 1);
    p = ts_scan_space(p + 1, end);
    for (;;) {
        uint32_t *grown = ts_xgrow(*off, offcap, *noff + 1, sizeof **off);

        if (grown == NULL)
            break;
        *off = grown;
        (*off)[(*noff)++] = (uint32_t)(ts_buf_len(out) - base);
        p = value(p, end, out, 1);
        if (p == NULL)
            break;
        p = ts_scan_space(p, end);
        if (p < end && *p == ']') {
            ts_buf_add(out, "]", 1);
            return p + 1;
        }
        if (p == end || *p != ',')
            break;
        ts_buf_add(out, ",", 1);
        p = ts_scan_space(p + 1, end);
    }
    out->end = out->start + base;
    *noff = n0;
    return NULL;
}

static const char *
value(const char *p, const char *end, struct ts_buf *out, int depth)
{
    if (p == end)
        return NULL;
    switch (*p) {
    case '"': return string(p, end, out);
    case '[': return array(p, end, out, depth);
    case 't': return word(p, end, "true", 4, out);
    case 'f': return word(p, end, "false", 5, out);
    case 'n': return word(p, end, "null", 4, out);
    default: return integer(p, end, out);
    }
}

/*
 * Printable ASCII, and the escapes ts_canon writes itself: \" \\ \b \f \n
 * \r \t.  (\/ and \u are valid JSON but not canonical: jansson does those.)
 */
static const char *
string(const char *p, const char *end, struct ts_buf *out)
{
    const char *s = p++;

    while (p < end) {
        unsigned char c = (unsigned char)*p;

        if (c == '"') {
            if (out != NULL)
                ts_buf_add(out, s, (size_t)(p + 1 - s));
            return p + 1;
        }
        if (c < 0x20 || c >= 0x7f)
            return NULL;
        if (c == '\\') {
            if (p + 1 == end || strchr("\"\\bfnrt", p[1]) == NULL || p[1] == '\0')
                return NULL;
            p++;
        }
        p++;
    }
    return NULL;
}

/* -?(0|[1-9][0-9]{0,17}) not followed by a fraction or an exponent; not -0. */
static const char *
integer(const char *p, const char *end, struct ts_buf *out)
{
    const char *s = p, *digits;

    if (p < end && *p == '-')
        p++;
    digits = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == digits || p - digits > 18 || (*digits == '0' && p - digits > 1))
        return NULL;
    if (*digits == '0' && digits > s)
        return NULL; /* -0 is the integer 0 */
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    if (out != NULL)
        ts_buf_add(out, s, (size_t)(p - s));
    return p;
}

static const char *
array(const char *p, const char *end, struct ts_buf *out, int depth)
{
    if (depth >= MAX_DEPTH)
        return NULL;
    if (out != NULL)
        ts_buf_add(out, "[", 1);
    p = ts_scan_space(p + 1, end);
    if (p < end && *p == ']')
        goto close;
    for (;;) {
        p = value(p, end, out, depth + 1);
        if (p == NULL)
            return NULL;
        p = ts_scan_space(p, end);
        if (p < end && *p == ']')
            break;
        if (p == end || *p != ',')
            return NULL;
        if (out != NULL)
            ts_buf_add(out, ",", 1);
        p = ts_scan_space(p + 1, end);
    }
close:
    if (out != NULL)
        ts_buf_add(out, "]", 1);
    return p + 1;
}

static const char *
word(const char *p, const char *end, const char *w, size_t n, struct ts_buf *out)
{
    if ((size_t)(end - p) < n || memcmp(p, w, n) != 0)
        return NULL;
    if (out != NULL)
        ts_buf_add(out, w, n);
    return p + n;
}
