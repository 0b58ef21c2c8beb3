/*
 * scan.h: canonical text straight from wire text, for the common cases.
 *
 * Most tuples that arrive are already canonical (see tuple.h): short ASCII
 * strings, integers, true, false, null, arrays of these.  Parsing them into
 * jansson values only to write them out again cost more than everything
 * else the daemon does with such a request.  These functions read the
 * simple subset of JSON in one pass and give up on anything else: objects,
 * reals, non-ASCII bytes, escapes other than the canonical ones, -0, and
 * integers of more than 18 digits.  Giving up is not an error: the caller
 * then takes the long way through jansson, which is also where every error
 * message comes from.  So the fast path and the long way accept the same
 * input and produce the same canonical text; only their speed differs.
 */
#ifndef TS_SCAN_H
#define TS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * One value of the simple subset at p, with leading whitespace, copied in
 * canonical form to out (when out is not NULL).  Returns the first byte
 * after the value, or NULL when it is not in the subset; out may then hold
 * part of it, so callers remember its length and cut back to it.
 */
const char *ts_scan_value(const char *p, const char *end, struct ts_buf *out);

/*
 * A tuple: a non-empty array of simple values, with its canonical text
 * appended to out and the offset of each field's text (from the start of
 * what was appended) appended to the growable array *off of *noff entries
 * and *offcap room.  Returns the first byte after the tuple, or NULL with
 * out and *noff as they were.
 */
const char *ts_scan_tuple(const char *p, const char *end, struct ts_buf *out, uint32_t **off,
                          size_t *noff, size_t *offcap);

/* p after any JSON whitespace, up to end. */
const char *ts_scan_space(const char *p, const char *end);

#endif
