/*
 * template.h: templates and matching.
 *
 * A template is a JSON array of the same arity as the tuples it matches.  On
 * the wire (and with -j on the command line) a field is
 *
 *   "?"            a formal matching any value
 *   "?str" "?int" "?num" "?bool" "?null" "?arr" "?obj"
 *                  a formal matching a value of that type; "?int" is any
 *                  number with an integral value
 *   "?~ERE"        a formal matching a string that the POSIX extended regular
 *                  expression ERE matches (unanchored, as grep -E), within
 *                  a cost budget (ere.h)
 *   "?~i:ERE"      the same, ignoring case
 *   "?LO..HI"      a formal matching a number from LO to HI, both included;
 *                  either may be left out ("?10..", "?..5"), not both; LO and
 *                  HI are JSON numbers
 *   "??text"       the literal string "?text" (one leading '?' removed)
 *   {"k":V,...}    an object template: it matches an object with exactly
 *                  these keys, each value V matched by the same rules
 *                  (formals, "??" escapes and object templates in turn); an
 *                  object without formals in it is a literal, its escapes
 *                  removed
 *   anything else  a literal, matched by deep equality (strings in arrays are
 *                  always literals)
 *
 * Among the fields, literals are compared as canonical texts (see tuple.h).
 */
#ifndef TS_TEMPLATE_H
#define TS_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ere.h"

enum ts_fkind {
    TS_F_LIT,   /* literal: lit/litlen/hash */
    TS_F_ANY,   /* "?" */
    TS_F_TYPE,  /* typed formal: types */
    TS_F_RE,    /* regular expression: re */
    TS_F_RANGE, /* numbers from lo to hi: lo, hi */
    TS_F_OBJ,   /* object template: obj */
};

/* A bound of a range: an integer exactly, or a double. */
struct ts_num {
    int set;   /* this end is bounded */
    int isint; /* i holds it; else d */
    int64_t i;
    double d;
};

struct ts_tobj;

struct ts_tfield {
    enum ts_fkind kind;
    unsigned types;       /* TS_F_TYPE: TS_TYPE_ bits accepted */
    int integral;         /* TS_F_TYPE: "?int", reals must have an integral value */
    struct ts_ere *re;    /* TS_F_RE: the compiled expression */
    struct ts_num lo, hi; /* TS_F_RANGE: the bounds, both included */
    struct ts_tobj *obj;  /* TS_F_OBJ: keys and the fields their values match */
    char *lit;            /* TS_F_LIT: canonical text, NUL-terminated */
    size_t litlen;        /* TS_F_LIT: length of lit */
    uint64_t hash;        /* TS_F_LIT: ts_hash(arity, position, lit) */
};

/* An object template: its keys in canonical order and text, and their values' fields. */
struct ts_tobj {
    size_t n;
    char **key; /* canonical texts of the keys, quotes included */
    size_t *keylen;
    struct ts_tfield *val;
};

struct ts_tmpl {
    uint32_t arity;
    uint32_t nlit; /* number of literal fields */
    json_t *wire;  /* the template as received; owned */
    struct ts_tfield f[];
};

/*
 * Parse one wire field that is a string beginning with '?'.  Returns 1 and
 * fills f for a formal, 0 when s is an escaped literal ("??..."), -1 with a
 * message in err for an unknown formal, a bad range or a bad regular
 * expression.  What a formal holds is freed with ts_tfield_free.
 */
int ts_formal_parse(const char *s, struct ts_tfield *f, char *err, size_t errlen);
void ts_tfield_free(struct ts_tfield *f);

/*
 * Does a wire template field bind a value: is it a formal, or an object
 * template with a formal in it?  (What ts-in prints.)
 */
int ts_tmpl_binds(const json_t *field);

/*
 * Compile a wire template.  Steals wire, even on failure.  Returns NULL with a
 * one-line message in err when the template is invalid.
 */
struct ts_tmpl *ts_tmpl_compile(json_t *wire, char *err, size_t errlen);
void ts_tmpl_free(struct ts_tmpl *tm);

/*
 * Does a tuple, given as canonical text and field offsets, match?  1 yes,
 * 0 no, TS_MATCH_COSTLY when the answer would cost more regular expression
 * work than allowed.  The top-level "?~" fields are matched last, once
 * every other field matched.  The cost of each expression against its
 * string (ere.h, with n the length of the string's canonical text less its
 * quotes) is known before it runs; the costs of one tuple's expressions
 * add up as they run, and an expression that would take the sum over
 * TS_ERE_MATCH_BUDGET does not run.  With spent not NULL, the sum is also
 * added to *spent, which must stay within TS_ERE_REQUEST_BUDGET: what one
 * request looking at many tuples may spend.
 */
#define TS_MATCH_COSTLY (-1)
int ts_tmpl_match(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
                  uint32_t arity, uint64_t *spent);

/* Why ts_tmpl_match said TS_MATCH_COSTLY for this tuple: one line in err. */
void ts_tmpl_costly(const struct ts_tmpl *tm, const char *text, size_t len, const uint32_t *off,
                    uint32_t arity, char *err, size_t errlen);

/* Index of the literal field to use as an index key, or -1 if none. */
int ts_tmpl_key(const struct ts_tmpl *tm);

#endif
