/*
 * fuzz-words.c: libFuzzer target for the command-line parsers.
 *
 * The input is split on NUL bytes into words (a final NUL ends the last word
 * rather than starting an empty one).  The words go through
 * ts_words_template and ts_words_tuple as one command line, and again with
 * TS_WORDS_STRINGS; each word goes through ts_word_value, ts_word_parse (with
 * and without the flag), ts_word_respelled, ts_json_template, ts_json_tuple
 * and ts_split_words,
 * and the split words through ts_placeholders_check (as a command, and as
 * --put words after the previous word's split) and again through
 * ts_words_template and ts_words_tuple.
 *
 * Besides crashes, leaks and undefined behaviour, it checks what the
 * functions promise to each other:
 *   - a template made from words, or accepted by ts_json_template, compiles;
 *   - a tuple made from words, or accepted by ts_json_tuple, has a canonical
 *     form (a non-empty array) and one field per word;
 *   - with TS_WORDS_STRINGS every field of a tuple is a string, the word
 *     itself, and a word of valid UTF-8 is never refused;
 *   - ts_word_value never refuses, and agrees with ts_word_parse where that
 *     accepts;
 *   - ts_split_words gives the same words back when they are joined again,
 *     each quoted with '...' (a ' inside written '\'');
 *   - the script ts_sh_script makes of a word holds no placeholder (the
 *     worker would fill it in), and its parameters are all placeholders;
 *   - the part of a word that ts_stdout_part picks for a {stdout:L:F} in
 *     the word lies within it.
 * Each word also goes through ts_shell_hazard, split and whole.
 *
 * With FUZZ_KNOWN=1, inputs that could hold a regular expression of a kind
 * known to be costly are skipped (known.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "placeholder.h"
#include "template.h"
#include "tuple.h"
#include "mem.h"
#include "ts.h"

#include "known.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *word) __attribute__((noreturn));

static void
fail(const char *what, const char *word)
{
    fprintf(stderr, "fuzz-words: %s: '%s'\n", what, word != NULL ? word : "");
    abort();
}

static void
check_template(json_t *t, const char *word)
{
    char err[300];
    struct ts_tmpl *tm;

    if (t == NULL)
        return;
    tm = ts_tmpl_compile(json_incref(t), err, sizeof err);
    if (tm == NULL) {
        fprintf(stderr, "fuzz-words: %s\n", err);
        fail("accepted template does not compile", word);
    }
    ts_tmpl_free(tm);
    json_decref(t);
}

static void
check_tuple(json_t *t, size_t n, const char *word)
{
    struct ts_buf b = TS_BUF_INIT;
    uint32_t *off;
    char err[200];

    if (t == NULL)
        return;
    if (!json_is_array(t) || json_array_size(t) == 0 || (n > 0 && json_array_size(t) != n))
        fail("tuple of the wrong shape", word);
    off = ts_xmalloc(json_array_size(t) * sizeof *off);
    if (ts_canon_tuple(t, &b, off, err, sizeof err) < 0)
        fail("accepted tuple has no canonical form", word);
    free(off);
    ts_buf_free(&b);
    json_decref(t);
}

/* With TS_WORDS_STRINGS, a tuple of the words themselves, or NULL only for bad UTF-8. */
static void
check_strings(json_t *t, char **words, size_t n)
{
    size_t i;

    if (t == NULL) {
        for (i = 0; i < n; i++)
            if (ts_utf8_check(words[i], strlen(words[i])) < strlen(words[i]))
                return;
        if (n > 0)
            fail("TS_WORDS_STRINGS refused words of valid UTF-8", words[0]);
        return;
    }
    for (i = 0; i < n; i++) {
        const json_t *f = json_array_get(t, i);

        if (!json_is_string(f) || strcmp(json_string_value(f), words[i]) != 0)
            fail("TS_WORDS_STRINGS field is not its word", words[i]);
    }
    json_decref(t);
}

/* Quote every word with '...' and join them with blanks. */
static char *
requote(char **words)
{
    struct ts_buf b = TS_BUF_INIT;
    char **w, *s;

    for (w = words; *w != NULL; w++) {
        if (w != words)
            ts_buf_add(&b, " ", 1);
        ts_buf_add(&b, "'", 1);
        for (s = *w; *s != '\0'; s++) {
            if (*s == '\'')
                ts_buf_addstr(&b, "'\\''");
            else
                ts_buf_add(&b, s, 1);
        }
        ts_buf_add(&b, "'", 1);
    }
    ts_buf_add(&b, "", 1);
    s = ts_xstrdup(ts_buf_len(&b) > 0 ? ts_buf_head(&b) : "");
    ts_buf_free(&b);
    return s;
}

static void
check_split(char **split, int n, const char *word)
{
    char *joined = requote(split), **again = NULL, err[200];
    int m = ts_split_words(joined, &again, err, sizeof err), i;

    if (m != n)
        fail("split words, quoted and split again, differ in number", word);
    for (i = 0; i < n; i++)
        if (strcmp(split[i], again[i]) != 0)
            fail("split words, quoted and split again, differ", word);
    ts_words_free(again);
    free(joined);
}

static void
check_sh(const char *w)
{
    char **params = NULL, err[300], *text = ts_sh_script(w, &params, err, sizeof err);
    const char *words[2] = {text, NULL};
    size_t i, len;
    struct ts_ph_arg a;

    if (text == NULL)
        return;
    if (ts_placeholders_check(words, NULL, 0, err, sizeof err) < 0)
        fail("an --sh script still holds a placeholder", w);
    for (i = 0; params[i] != NULL; i++)
        if (ts_placeholder(params[i], &len, &a) == TS_PH_NONE || params[i][len] != '\0')
            fail("an --sh parameter is not a placeholder", w);
    ts_free_words(params);
    free(text);
}

static void
check_stdout(const char *w)
{
    size_t n = strlen(w), len, partlen;
    struct ts_ph_arg a;
    const char *s, *part;

    for (s = w; *s != '\0'; s++) {
        if (ts_placeholder(s, &len, &a) != TS_PH_STDOUT)
            continue;
        ts_stdout_part(w, n, &a, &part, &partlen);
        if (partlen > 0 && (part < w || part + partlen > w + n))
            fail("a part of the output outside it", w);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, **words, **prev = NULL, err[600];
    size_t n = 0, i, start, arity = 0;
    json_t *tm;

    if (fuzz_known() && fuzz_risky_ere((const char *)data, size))
        return 0; /* a known bug: see known.h */
    buf = ts_xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* Words: the pieces between NULs; a final NUL ends the last word. */
    words = ts_xmalloc((size + 2) * sizeof *words);
    for (i = 0, start = 0; size > 0 && i <= size; i++) {
        if (i < size && buf[i] != '\0')
            continue;
        if (i == size && start == size && buf[size - 1] == '\0')
            break;
        words[n++] = buf + start;
        start = i + 1;
    }
    words[n] = NULL;

    /* The words as one command line. */
    tm = ts_words_template(words, (int)n, err, sizeof err);
    if (n == 0 && tm != NULL)
        fail("template of no words", NULL);
    arity = json_array_size(tm);
    check_template(tm, n > 0 ? words[0] : NULL);
    check_tuple(ts_words_tuple(words, (int)n, err, sizeof err), n, n > 0 ? words[0] : NULL);
    check_template(ts_words_template_flags(words, (int)n, TS_WORDS_STRINGS, err, sizeof err),
                   n > 0 ? words[0] : NULL);
    check_strings(ts_words_tuple_flags(words, (int)n, TS_WORDS_STRINGS, err, sizeof err), words, n);

    for (i = 0; i < n; i++) {
        const char *w = words[i];
        char **split = NULL;
        json_t *v = ts_word_value(w);
        int k;

        if (v == NULL)
            fail("ts_word_value returned NULL", w);
        {
            json_t *p = ts_word_parse(w, 0, err, sizeof err);

            if (p != NULL && !json_equal(p, v))
                fail("ts_word_value and ts_word_parse differ", w);
            json_decref(p);
            p = ts_word_parse(w, TS_WORDS_STRINGS, err, sizeof err);
            if (p != NULL && (!json_is_string(p) || strcmp(json_string_value(p), w) != 0))
                fail("ts_word_parse with TS_WORDS_STRINGS is not the word as a string", w);
            json_decref(p);
            (void)ts_word_respelled(w);
        }
        json_decref(v);
        check_sh(w);
        check_stdout(w);
        check_template(ts_json_template(w, err, sizeof err), w);
        check_tuple(ts_json_tuple(w, err, sizeof err), 0, w);

        k = ts_split_words(w, &split, err, sizeof err);
        if (k < 0)
            continue;
        check_split(split, k, w);
        ts_shell_hazard((const char *const *)split, err, sizeof err);
        ts_placeholders_check((const char *const *)split, NULL, arity, err, sizeof err);
        ts_placeholders_check((const char *const *)split, (const char *const *)split, arity, err,
                              sizeof err);
        ts_placeholders_check(NULL, (const char *const *)split, 0, err, sizeof err);
        if (prev != NULL)
            ts_placeholders_check((const char *const *)prev, (const char *const *)split, arity, err,
                                  sizeof err);
        if (k > 0) {
            tm = ts_words_template(split, k, err, sizeof err);
            check_template(tm, w);
            check_tuple(ts_words_tuple(split, k, err, sizeof err), (size_t)k, w);
        }
        ts_words_free(prev);
        prev = split;
    }
    ts_words_free(prev);
    free(words);
    free(buf);
    return 0;
}
