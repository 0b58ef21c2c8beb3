/*
 * field.h: tuples and templates from command-line words.
 *
 * Each word is one field.  A word that is JSON text (42, -1.5e3, true, null,
 * "quoted", [1,2], {"a":1}) with no blank at either end is that value; any
 * other word is a string (job, a b, the empty word).  In a template a word
 * that is not JSON text and begins with '?' is a formal (see template.h); a
 * literal string beginning with '?' is written as JSON: '"?x"'.
 *
 * The results are wire forms (template.h): ready to send.  All functions
 * return new references, or NULL with a one-line message in err.
 */
#ifndef TS_FIELD_H
#define TS_FIELD_H

#include <jansson.h>
#include <stddef.h>

/* The value of one word (never NULL). */
json_t *ts_word_value(const char *word);

/* A tuple from n words (n >= 1). */
json_t *ts_words_tuple(char *const *words, int n, char *err, size_t errlen);
/* A wire template from n words (n >= 1). */
json_t *ts_words_template(char *const *words, int n, char *err, size_t errlen);

/* A tuple given as one JSON array text (-j). */
json_t *ts_json_tuple(const char *text, char *err, size_t errlen);
/* A wire template given as one JSON array text (-j): formals as on the wire. */
json_t *ts_json_template(const char *text, char *err, size_t errlen);

/*
 * Split a string into words the way a shell splits unquoted blanks, with
 * '...' and "..." grouping (no expansions, backslash escapes the next
 * character outside single quotes).  Returns the number of words, or -1
 * with err for an unterminated quote; *words is a NULL-terminated array to
 * free with ts_words_free.
 */
int ts_split_words(const char *s, char ***words, char *err, size_t errlen);
void ts_words_free(char **words);

#endif
