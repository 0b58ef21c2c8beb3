/*
 * tuple.h: the tuple model.
 *
 * A tuple is a non-empty JSON array of any JSON values.  Inside the daemon a
 * tuple is kept as its canonical text: compact JSON, object keys sorted by
 * byte value, and every number with an integral value that fits in 64 bits
 * written as an integer (so 1, 1.0 and 1e0 all become "1").  Reals use the
 * shortest form that reads back to the same double.
 *
 * The point of the canonical form: two values are equal under the matching
 * rules (deep equality, numbers by value, key order ignored) exactly when
 * their canonical texts are equal byte for byte.  Equality is memcmp, and a
 * hash of the text is an index key.
 */
#ifndef TS_TUPLE_H
#define TS_TUPLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

/*
 * How deep arrays and objects may nest inside one field: [[1]] is 2 deep.
 * jansson stops at 2048 levels for a whole request line, and where a
 * tuple sits in a request changes how many of those are left for it; a
 * limit of our own, well under jansson's, is the same everywhere.
 */
#define TS_DEPTH_MAX 1000
#define TS_STR_(x) #x
#define TS_STR(x) TS_STR_(x) /* a macro's value as a string literal */

/* Types of a field, as bits so a formal can accept several. */
#define TS_TYPE_STR 0x01
#define TS_TYPE_INT 0x02  /* a number written without fraction or exponent */
#define TS_TYPE_REAL 0x04 /* any other number */
#define TS_TYPE_BOOL 0x08
#define TS_TYPE_NULL 0x10
#define TS_TYPE_ARR 0x20
#define TS_TYPE_OBJ 0x40

/* Append the canonical text of any JSON value to out. */
void ts_canon(const json_t *v, struct ts_buf *out);

/* Append the canonical text of a string of n bytes (UTF-8, checked by the caller). */
void ts_canon_string(const char *s, size_t n, struct ts_buf *out);

/*
 * Append the canonical text of a tuple to out and store the offset of each
 * field's text (relative to the start of what was appended) in off, which
 * must have room for json_array_size(tuple) entries.  Returns -1 with a
 * message in err when tuple is not a non-empty array.
 */
int ts_canon_tuple(const json_t *tuple, struct ts_buf *out, uint32_t *off, char *err,
                   size_t errlen);

/*
 * The nesting depth of a value (a scalar is 0 deep, [] and [1] are 1),
 * counted up to limit + 1 only.
 */
size_t ts_depth(const json_t *v, size_t limit);

/*
 * Check the numbers in a JSON text that jansson has read, as the space
 * will keep them.  A number with no fraction and no exponent must fit in
 * a signed 64-bit integer; any other number is read as the nearest double
 * and must not overflow, nor become 0 when it is not.  With strict (text
 * people typed, on the command line), the canonical form must also be the
 * same decimal number as the text, however spelled: 1.10 (stored as 1.1)
 * and 1e3 (1000) are kept, 3.14159265358979323846 (3.141592653589793) is
 * not.  Without strict (the wire, where programs print doubles with 17
 * digits: 0.1 as 0.10000000000000001), only a text of more than 17
 * significant digits must be that same decimal number.  Returns 0, or -1
 * with a message naming the first number that cannot be kept.  When
 * respelled is not NULL, *respelled is set to 1 if some number is stored
 * spelled otherwise than in the text, else 0.
 */
int ts_check_numbers(const char *text, size_t len, int strict, int *respelled, char *err,
                     size_t errlen);

/*
 * Where s (n bytes) stops being UTF-8 as JSON allows it (no overlong forms,
 * no surrogates, nothing past U+10FFFF): the offset of the first bad byte,
 * or n when all of it is good.
 */
size_t ts_utf8_check(const char *s, size_t n);

/*
 * Why jansson refused a JSON text, in words for people: its own message,
 * except where that message names jansson's internals (flags, limits).
 */
const char *ts_json_why(const json_error_t *e);

/* Length of field i of a canonical tuple text of the given length. */
static inline size_t
ts_field_len(const uint32_t *off, uint32_t arity, size_t textlen, uint32_t i)
{
    size_t end = i + 1 < arity ? off[i + 1] - 1 : textlen - 1;

    return end - off[i];
}

/*
 * A JSON string of arbitrary bytes, such as the tail of a log: bytes that
 * are not UTF-8 (a sequence cut at the start, binary output) become '?'.
 */
json_t *ts_text_string(const char *p, size_t n);

/* The TS_TYPE_ bit of a canonical value text. */
unsigned ts_field_type(const char *text, size_t len);

/* The index key of a value at position pos in a tuple of the given arity. */
uint64_t ts_hash(uint32_t arity, uint32_t pos, const char *text, size_t len);

#endif
