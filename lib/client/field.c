/*
 * field.c: tuples and templates from command-line words (see ts.h).
 *
 * Each word is one field.  A word that is JSON text (42, -1.5e3, true, null,
 * "quoted", [1,2], {"a":1}) with no blank at either end is that value; any
 * other word is a string (job, a b, the empty word).  In a template a word
 * that is not JSON text and begins with '?' is a formal (see template.h); a
 * literal string beginning with '?' is written as JSON: '"?x"'.  The
 * results are wire forms (template.h): ready to send.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "template.h"
#include "ts.h"

json_t *
ts_word_value(const char *word)
{
    size_t n = strlen(word);
    json_error_t e;
    json_t *v;

    if (n == 0 || isspace((unsigned char)word[0]) || isspace((unsigned char)word[n - 1])) {
        v = json_stringn(word, n);
        return v != NULL ? v : json_string("");
    }
    v = json_loadb(word, n, JSON_DECODE_ANY, &e);
    /* 123456789012345678901234567890 is a number too big for an integer, not a string. */
    if (v == NULL && json_error_code(&e) == json_error_numeric_overflow)
        v = json_loadb(word, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    if (v == NULL)
        v = json_stringn(word, n);
    if (v == NULL) /* not UTF-8: keep the bytes we can say */
        v = json_string("");
    return v;
}

json_t *
ts_words_tuple(char *const *words, int n, char *err, size_t errlen)
{
    json_t *t = json_array();
    int i;

    if (n < 1) {
        snprintf(err, errlen, "a tuple needs at least one field");
        json_decref(t);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        json_t *v = ts_word_value(words[i]);

        if (json_is_string(v) && json_string_length(v) == 0 && words[i][0] != '\0') {
            snprintf(err, errlen, "bad field '%s': not valid UTF-8", words[i]);
            json_decref(v);
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
    json_t *t = json_array();
    char why[200];
    int i;

    if (n < 1) {
        snprintf(err, errlen, "a template needs at least one field");
        json_decref(t);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        const char *w = words[i];
        json_t *v = ts_word_value(w);
        const char *s = json_string_value(v);

        if (s != NULL && s[0] == '\0' && w[0] != '\0') {
            snprintf(err, errlen, "bad template field '%s': not valid UTF-8", w);
            goto fail;
        }
        if (s != NULL && w[0] == '?' && strcmp(s, w) == 0) {
            struct ts_tfield f;
            int rc = ts_formal_parse(w, &f, why, sizeof why);

            if (rc == 1 && f.kind == TS_F_RE)
                regfree(&f.re);
            if (rc < 0) {
                snprintf(err, errlen, "bad template field '%s': %s", w, why);
                goto fail;
            }
            if (rc == 0) {
                /* "??x" typed bare is a formal spelling mistake, not a literal. */
                snprintf(err, errlen,
                         "bad template field '%s': unknown type (write a literal "
                         "string starting with '?' as JSON: '\"%s\"')",
                         w, w + 1);
                goto fail;
            }
        } else if (s != NULL && s[0] == '?') {
            /* A literal string starting with '?': escaped on the wire. */
            char *esc = ts_xmalloc(strlen(s) + 2);

            if (esc == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            esc[0] = '?';
            strcpy(esc + 1, s);
            json_decref(v);
            v = json_string(esc);
            free(esc);
        }
        json_array_append_new(t, v);
        continue;
    fail:
        json_decref(v);
        json_decref(t);
        return NULL;
    }
    return t;
}

static json_t *
json_array_arg(const char *text, const char *what, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (v == NULL) {
        snprintf(err, errlen, "bad %s '%s': %s", what, text, e.text);
        return NULL;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, errlen, "bad %s '%s': not a non-empty JSON array", what, text);
        json_decref(v);
        return NULL;
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
