/*
 * bulk.h: putting many tuples over one connection (ts-out - and -l).
 *
 * Tuples are gathered into batches, {"op":"out","tuples":[...]}, each well
 * under the daemon's line limit.  A tuple of the simple subset (scan.h) is
 * written in canonical text, which the daemon reads without building JSON
 * values; others are checked with jansson and go as jansson writes them.
 * One batch is in flight while the next is gathered, so that this process
 * and the daemon work at the same time.
 *
 * Every function returns a TS_EXIT_ status (conn.h) and fills err when it
 * is not TS_EXIT_OK.  A batch goes in whole or not at all; every batch
 * sent before a failure has gone in.
 */
#ifndef TS_BULK_H
#define TS_BULK_H

#include <jansson.h>
#include <stddef.h>

#include "conn.h"

struct ts_bulk;

/* Borrows conn until ts_bulk_end. */
struct ts_bulk *ts_bulk_new(struct ts_conn *conn);

/* Add a tuple written as JSON text (a string).  TS_EXIT_USAGE for a bad tuple. */
int ts_bulk_json(struct ts_bulk *b, const char *text, char *err, size_t errlen);

/*
 * Add the tuple [field ..., line], with the fields of the array given to
 * ts_bulk_prefix (none before that) and the line as a string.
 * TS_EXIT_USAGE when the line is not UTF-8.
 */
void ts_bulk_prefix(struct ts_bulk *b, const json_t *fields);
int ts_bulk_line(struct ts_bulk *b, const char *line, size_t n, char *err, size_t errlen);

/* Send the batch if it is full; wait for the one before it. */
int ts_bulk_flush(struct ts_bulk *b, char *err, size_t errlen);

/* Send what is gathered, wait for every answer, and free b. */
int ts_bulk_end(struct ts_bulk *b, char *err, size_t errlen);

#endif
