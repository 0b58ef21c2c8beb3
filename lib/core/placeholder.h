/*
 * placeholder.h: the placeholders of ts-eval and ts-worker.
 *
 * {N} is field N (from 1) of the taken tuple, {} the whole tuple as JSON,
 * {status} the command's exit status (128+N for signal N), {stdout} its
 * standard output less the final newline; {{ is a literal {.  In COMMAND's
 * arguments only {N} and {} may appear.  ts-eval checks them before it
 * asks the daemon, the daemon checks them again (a raw client may send
 * anything), and ts-worker fills them in.
 */
#ifndef TS_PLACEHOLDER_H
#define TS_PLACEHOLDER_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

enum ts_ph { TS_PH_NONE, TS_PH_FIELD, TS_PH_TUPLE, TS_PH_STATUS, TS_PH_STDOUT };

/*
 * Recognise a placeholder at s: returns its kind and sets *len to its
 * length (and *field for {N}), or TS_PH_NONE when s does not start one.
 */
enum ts_ph ts_placeholder(const char *s, size_t *len, long *field);

/* Does word hold a placeholder, or the {{ escape? */
int ts_has_placeholder(const char *word);

/*
 * Check the placeholders of a command and a --put word list (NULL-terminated,
 * put may be NULL) against the arity of the take template (0 without one).
 * -1 with err if one is misused.
 */
int ts_placeholders_check(const char *const *argv, const char *const *put, size_t take_arity,
                          char *err, size_t errlen);

/*
 * Append word to out with its placeholders filled in: fields from tuple (a
 * JSON array, or NULL), status, and the command's output out_text.
 */
void ts_placeholder_fill(const char *word, const json_t *tuple, int status, const char *out_text,
                         size_t out_len, struct ts_buf *out);

#endif
