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
