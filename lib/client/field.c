/*
 * field.c: tuples and templates from command-line words (see ts.h).
 *
 * Each word is one field.  A word that is JSON text (42, -1.5e3, true, null,
 * "quoted", [1,2], {"a":1}) with no blank at either end is that value; any
 * other word is a string (job, a b, the empty word).  JSON text that cannot
 * be kept as it says (a number beyond a double's digits or an int64's
 * range, nesting too deep, U+0000) is refused rather than taken as a
 * string.  With TS_WORDS_STRINGS every word is a string.  In a template a
 * word that begins with '?' is a formal (see template.h); a literal string
 * beginning with '?' is written as JSON: '"?x"' (or, with TS_WORDS_STRINGS,
 * as on the wire: ??x).  The results are wire forms (template.h): ready to
 * send.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "template.h"
#include "ts.h"
#include "tuple.h"

/* A word is not UTF-8: say where, so that the byte can be found. */
static int
not_utf8(const char *w, size_t n, char *err, size_t errlen)
{
    size_t at = ts_utf8_check(w, n);

    if (at == n)
        return 0;
    snprintf(err, errlen, "not valid UTF-8 (byte 0x%02x at offset %zu)", (unsigned char)w[at], at);
    return 1;
}

json_t *
ts_word_parse(const char *word, int flags, char *err, size_t errlen)
{
    size_t n = strlen(word);
    json_error_t e;
    json_t *v;

    if (not_utf8(word, n, err, errlen))
        return NULL;
    if ((flags & TS_WORDS_STRINGS) || n == 0 || isspace((unsigned char)word[0]) ||
        isspace((unsigned char)word[n - 1]))
        goto string;
    v = json_loadb(word, n, JSON_DECODE_ANY, &e);
    if (v == NULL) {
        /*
         * JSON text that cannot be a value here is refused, not taken as a
         * string: 1e400 would otherwise be put as the string "1e400".
         */
        switch (json_error_code(&e)) {
        case json_error_numeric_overflow:
            if (ts_check_numbers(word, n, 1, NULL, err, errlen) == 0)
                snprintf(err, errlen, "%s", ts_json_why(&e));
            return NULL;
        case json_error_stack_overflow:
        case json_error_null_character:
        case json_error_null_byte_in_key: snprintf(err, errlen, "%s", ts_json_why(&e)); return NULL;
        default: goto string;
        }
    }
    if (ts_check_numbers(word, n, 1, NULL, err, errlen) < 0) {
        json_decref(v);
        return NULL;
    }
    if (ts_depth(v, TS_DEPTH_MAX) > TS_DEPTH_MAX) {
        snprintf(err, errlen, "arrays and objects nested more than " TS_STR(TS_DEPTH_MAX) " deep");
        json_decref(v);
        return NULL;
    }
    return v;
string:
    v = json_stringn(word, n);
    if (v == NULL)
        snprintf(err, errlen, "out of memory");
    return v;
}

json_t *
ts_word_value(const char *word)
{
    char err[300];
    json_t *v = ts_word_parse(word, 0, err, sizeof err);

    /* What ts_word_parse refuses stays the word's text; not UTF-8, as before, the empty string. */
    if (v == NULL)
        v = json_string(word);
    return v != NULL ? v : json_string("");
}

int
ts_word_respelled(const char *word)
{
    size_t n = strlen(word);
    json_t *v;
    int respelled = 0;

    if (n == 0 || isspace((unsigned char)word[0]) || isspace((unsigned char)word[n - 1]))
        return 0;
    v = json_loadb(word, n, JSON_DECODE_ANY, NULL);
    if (v == NULL)
        return 0;
    json_decref(v);
    return ts_check_numbers(word, n, 1, &respelled, NULL, 0) == 0 && respelled;
}

json_t *
ts_words_tuple(char *const *words, int n, char *err, size_t errlen)
{
    return ts_words_tuple_flags(words, n, 0, err, errlen);
}

json_t *
ts_words_tuple_flags(char *const *words, int n, int flags, char *err, size_t errlen)
{
    json_t *t = json_array();
    char why[300];
    int i;

    if (n < 1) {
        snprintf(err, errlen, "a tuple needs at least one field");
        json_decref(t);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        json_t *v = ts_word_parse(words[i], flags, why, sizeof why);

        if (v == NULL) {
            snprintf(err, errlen, "bad field '%s': %s", words[i], why);
            json_decref(t);
            return NULL;
        }
        json_array_append_new(t, v);
    }
    return t;
}

json_t *
ts_words_template(char *const *words, int n, char *err, size_t errlen)
{
    return ts_words_template_flags(words, n, 0, err, errlen);
}

/* The wire form of a word that begins with '?': a formal, or with -S a "??" escape. */
static json_t *
formal_word(const char *w, int flags, char *err, size_t errlen)
{
    struct ts_tfield f;
    char why[300];
    int rc;

    if (not_utf8(w, strlen(w), why, sizeof why)) {
        snprintf(err, errlen, "bad template field '%s': %s", w, why);
        return NULL;
    }
    rc = ts_formal_parse(w, &f, why, sizeof why);
    if (rc == 1)
        ts_tfield_free(&f);
    if (rc < 0) {
        snprintf(err, errlen, "bad template field '%s': %s", w, why);
        return NULL;
    }
    if (rc == 0 && !(flags & TS_WORDS_STRINGS)) {
        /* "??x" typed bare is a formal spelling mistake, not a literal. */
        snprintf(err, errlen,
                 "bad template field '%s': unknown type (write a literal "
                 "string starting with '?' as JSON: '\"%s\"')",
                 w, w + 1);
        return NULL;
    }
    return json_string(w);
}

json_t *
ts_words_template_flags(char *const *words, int n, int flags, char *err, size_t errlen)
{
    json_t *t = json_array(), *v;
    struct ts_tmpl *tm;
    char why[300];
    int i;

    if (n < 1) {
        snprintf(err, errlen, "a template needs at least one field");
        json_decref(t);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        const char *w = words[i], *s;

        /* No JSON text begins with '?': such a word is always a formal. */
        if (w[0] == '?') {
            if ((v = formal_word(w, flags, err, errlen)) == NULL)
                goto fail;
            json_array_append_new(t, v);
            continue;
        }
        if ((v = ts_word_parse(w, flags, why, sizeof why)) == NULL) {
            snprintf(err, errlen, "bad template field '%s': %s", w, why);
            goto fail;
        }
        s = json_string_value(v);
        if (s != NULL && s[0] == '?') {
            /* A literal string starting with '?': escaped on the wire. */
            size_t len = json_string_length(v);
            char *esc = ts_xmalloc(len + 1);

            if (esc == NULL) {
                json_decref(v);
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            esc[0] = '?';
            memcpy(esc + 1, s, len);
            json_decref(v);
            v = json_stringn(esc, len + 1);
            free(esc);
        }
        json_array_append_new(t, v);
    }
    /* Object templates hold formals of their own: they are checked here. */
    tm = ts_tmpl_compile(json_incref(t), why, sizeof why);
    if (tm == NULL) {
        snprintf(err, errlen, "%s", why);
        goto fail;
    }
    ts_tmpl_free(tm);
    return t;
fail:
    json_decref(t);
    return NULL;
}

static json_t *
json_array_arg(const char *text, const char *what, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    char why[300];
    size_t i;

    if (v == NULL) {
        if (json_error_code(&e) != json_error_numeric_overflow ||
            ts_check_numbers(text, strlen(text), 1, NULL, why, sizeof why) == 0)
            snprintf(why, sizeof why, "%s", ts_json_why(&e));
        snprintf(err, errlen, "bad %s '%s': %s", what, text, why);
        return NULL;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, errlen, "bad %s '%s': not a non-empty JSON array", what, text);
        json_decref(v);
        return NULL;
    }
    if (ts_check_numbers(text, strlen(text), 1, NULL, why, sizeof why) < 0) {
        snprintf(err, errlen, "bad %s '%s': %s", what, text, why);
        json_decref(v);
        return NULL;
    }
    for (i = 0; i < json_array_size(v); i++) {
        if (ts_depth(json_array_get(v, i), TS_DEPTH_MAX) > TS_DEPTH_MAX) {
            snprintf(err, errlen,
                     "bad %s: field %zu nests arrays and objects more than " TS_STR(
                         TS_DEPTH_MAX) " deep",
                     what, i + 1);
            json_decref(v);
            return NULL;
        }
    }
    return v;
}

json_t *
ts_json_tuple(const char *text, char *err, size_t errlen)
{
    return json_array_arg(text, "tuple", err, errlen);
}

json_t *
ts_json_template(const char *text, char *err, size_t errlen)
{
    json_t *v = json_array_arg(text, "template", err, errlen);
    struct ts_tmpl *tm;
    char why[300];

    if (v == NULL)
        return NULL;
    tm = ts_tmpl_compile(json_incref(v), why, sizeof why);
    if (tm == NULL) {
        snprintf(err, errlen, "%s", why);
        json_decref(v);
        return NULL;
    }
    ts_tmpl_free(tm);
    return v;
}

/* Room for one more word and the NULL after it: -1 when memory ran out. */
static int
room(char ***v, size_t *cap, size_t n)
{
    char **grown = ts_xgrow(*v, cap, n + 2, sizeof **v);

    if (grown == NULL)
        return -1;
    *v = grown;
    (*v)[n] = NULL;
    return 0;
}

int
ts_split_words(const char *s, char ***words, char *err, size_t errlen)
{
    struct ts_buf w = TS_BUF_INIT;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int inword = 0;

    if (room(&v, &cap, 0) < 0)
        goto nomem;
    for (;;) {
        char c = *s;

        if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
            if (inword) {
                if (w.failed || room(&v, &cap, n) < 0 ||
                    (v[n] = ts_xstrndup(ts_buf_head(&w), ts_buf_len(&w))) == NULL)
                    goto nomem;
                v[++n] = NULL;
                ts_buf_reset(&w);
                inword = 0;
            }
            if (c == '\0')
                break;
            s++;
            continue;
        }
        inword = 1;
        if (c == '\'' || c == '"') {
            const char *end = s + 1;

            while (*end != '\0' && *end != c) {
                if (c == '"' && *end == '\\' && (end[1] == '"' || end[1] == '\\'))
                    end++;
                end++;
            }
            if (*end == '\0') {
                snprintf(err, errlen, "unterminated %c quote", c);
                goto fail;
            }
            for (s++; s < end; s++) {
                if (c == '"' && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
                    s++;
                ts_buf_add(&w, s, 1);
            }
            s = end + 1;
            /* An empty quoted word is still a word. */
            ts_buf_space(&w, 1);
            continue;
        }
        if (c == '\\' && s[1] != '\0')
            s++;
        ts_buf_add(&w, s, 1);
        s++;
    }
    ts_buf_free(&w);
    *words = v;
    return (int)n;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    ts_buf_free(&w);
    ts_words_free(v);
    return -1;
}

void
ts_words_free(char **words)
{
    char **p;

    if (words == NULL)
        return;
    for (p = words; *p != NULL; p++)
        free(*p);
    free(words);
}
