/*
 * placeholder.c: ts-eval's placeholders (see placeholder.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"
#include "tuple.h"

enum ts_ph
ts_placeholder(const char *s, size_t *len, long *field)
{
    const char *end;

    if (s[0] != '{')
        return TS_PH_NONE;
    if (s[1] == '}') {
        *len = 2;
        return TS_PH_TUPLE;
    }
    if (strncmp(s, "{status}", 8) == 0) {
        *len = 8;
        return TS_PH_STATUS;
    }
    if (strncmp(s, "{stdout}", 8) == 0) {
        *len = 8;
        return TS_PH_STDOUT;
    }
    for (end = s + 1; *end >= '0' && *end <= '9'; end++)
        ;
    if (end > s + 1 && *end == '}' && end - s < 12) {
        *field = strtol(s + 1, NULL, 10);
        *len = (size_t)(end - s) + 1;
        return TS_PH_FIELD;
    }
    return TS_PH_NONE;
}

int
ts_has_placeholder(const char *word)
{
    size_t len;
    long field;

    for (; *word != '\0'; word++) {
        if (word[0] == '{' && word[1] == '{')
            return 1; /* the escape counts: the word is text */
        if (ts_placeholder(word, &len, &field) != TS_PH_NONE)
            return 1;
    }
    return 0;
}

int
ts_placeholders_check(const char *const *argv, const char *const *put, size_t take_arity, char *err,
                      size_t errlen)
{
    int pass;

    for (pass = 0; pass < 2; pass++) {
        const char *const *w = pass == 0 ? argv : put;

        for (; w != NULL && *w != NULL; w++) {
            const char *s;

            for (s = *w; *s != '\0'; s++) {
                size_t len;
                long field = 0;
                enum ts_ph kind;

                if (s[0] == '{' && s[1] == '{') {
                    s++;
                    continue;
                }
                kind = ts_placeholder(s, &len, &field);
                if (kind == TS_PH_NONE)
                    continue;
                if (pass == 0 && (kind == TS_PH_STATUS || kind == TS_PH_STDOUT)) {
                    snprintf(err, errlen, "placeholder %.*s can only be used in --put", (int)len,
                             s);
                    return -1;
                }
                if ((kind == TS_PH_FIELD || kind == TS_PH_TUPLE) && take_arity == 0) {
                    snprintf(err, errlen, "placeholder %.*s needs --take", (int)len, s);
                    return -1;
                }
                if (kind == TS_PH_FIELD && (field < 1 || (size_t)field > take_arity)) {
                    snprintf(err, errlen, "placeholder %.*s but --take has %zu field%s", (int)len,
                             s, take_arity, take_arity == 1 ? "" : "s");
                    return -1;
                }
                s += len - 1;
            }
        }
    }
    return 0;
}

/* A value as command-line text: strings raw, anything else compact JSON. */
static void
value_text(const json_t *v, struct ts_buf *out)
{
    if (json_is_string(v))
        ts_buf_add(out, json_string_value(v), json_string_length(v));
    else
        ts_canon(v, out);
}

void
ts_placeholder_fill(const char *word, const json_t *tuple, int status, const char *out_text,
                    size_t out_len, struct ts_buf *out)
{
    const char *s;

    for (s = word; *s != '\0'; s++) {
        size_t len;
        long field = 0;

        if (s[0] == '{' && s[1] == '{') {
            ts_buf_add(out, "{", 1);
            s++;
            continue;
        }
        switch (ts_placeholder(s, &len, &field)) {
        case TS_PH_NONE: ts_buf_add(out, s, 1); continue;
        case TS_PH_FIELD: value_text(json_array_get(tuple, (size_t)field - 1), out); break;
        case TS_PH_TUPLE: ts_canon(tuple, out); break;
        case TS_PH_STATUS: ts_buf_printf(out, "%d", status); break;
        case TS_PH_STDOUT: ts_buf_add(out, out_text, out_len); break;
        }
        s += len - 1;
    }
}
