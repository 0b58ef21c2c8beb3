/*
 * placeholder.h: the placeholders of ts-eval and ts-worker.
 *
 * {N} is field N (from 1) of the taken tuple, {} the whole tuple as JSON,
 * {status} the command's exit status (128+N for signal N), {stdout} its
 * standard output less the final newline, {stdout:L} line L of it (from 1,
 * or from -1 for the last), {stdout:L:F} field F of that line (fields are
 * separated by blanks, as awk's are, and counted the same way); {{ is a
 * literal {.  In COMMAND's arguments only {N} and {} may appear.  ts-eval checks them before it
 * asks the daemon, the daemon checks them again (a raw client may send
 * anything), and ts-worker fills them in.
 */
#ifndef TS_PLACEHOLDER_H
#define TS_PLACEHOLDER_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

enum ts_ph { TS_PH_NONE, TS_PH_FIELD, TS_PH_TUPLE, TS_PH_STATUS, TS_PH_STDOUT };

/* What a placeholder names beyond its kind. */
struct ts_ph_arg {
    long field; /* {N}: N */
    long line;  /* {stdout:L}, {stdout:L:F}: L; 0 for the whole output */
    long col;   /* {stdout:L:F}: F; 0 for the whole line */
};

/*
 * Recognise a placeholder at s: returns its kind and sets *len to its
 * length and *a to what it names, or TS_PH_NONE when s does not start one.
 */
enum ts_ph ts_placeholder(const char *s, size_t *len, struct ts_ph_arg *a);

/* The part of a command's output that a {stdout...} placeholder names. */
void ts_stdout_part(const char *out, size_t n, const struct ts_ph_arg *a, const char **part,
                    size_t *partlen);

/*
 * --sh: rewrite SCRIPT for sh -c, each placeholder replaced by a positional
 * parameter ("$1", "$2", ... in the quoting that keeps it one word where
 * it stands, and with every { that would start a placeholder written {{,
 * since the worker fills in the script's placeholders as in any word); *params gets the
 * placeholders, in the order of their numbers, as the words to pass after $0 (NULL-terminated, to
 * free with ts_free_words).  A placeholder used twice is the same parameter.  Returns the new
 * script, or NULL with err (a placeholder in a quoted here-document, where nothing is expanded).
 */
char *ts_sh_script(const char *script, char ***params, char *err, size_t errlen);

/*
 * Would a shell paste a placeholder's value into its code?  Checks the
 * command word (a placeholder next to blanks or shell operators means the
 * whole word was meant as a shell command) and the script of sh -c and
 * its kin.  -1 with err, pointing at --sh, if so.
 */
int ts_shell_hazard(const char *const *argv, char *err, size_t errlen);

/* Free a NULL-terminated array of strings and the strings. */
void ts_free_words(char **words);

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
 * JSON array, or NULL), status, and the command's whole output out_text
 * (whose one final newline is no part of {stdout}).
 */
void ts_placeholder_fill(const char *word, const json_t *tuple, int status, const char *out_text,
                         size_t out_len, struct ts_buf *out);

#endif
