/*
 * buf.h: a growable byte buffer with a read position.
 *
 * Used for every socket's input and output queue.  Data is appended at the
 * end and consumed from the front; consumed space is reclaimed lazily, when
 * more than half the buffer is dead, so consuming is O(1).
 *
 * Growing can fail only where allocation failure is not fatal (mem.h): the
 * buffer then drops what could not be added and remembers it in failed, so
 * a writer appends without checking each step and looks once at the end.
 */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ts_buf {
    char *data;   /* allocation, NULL while empty and never used */
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last byte */
    size_t cap;   /* size of data */
    int failed;   /* an append was dropped for lack of memory */
};

#define TS_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

static inline size_t
ts_buf_len(const struct ts_buf *b)
{
    return b->end - b->start;
}

static inline char *
ts_buf_head(const struct ts_buf *b)
{
    return b->data != NULL ? b->data + b->start : (char *)"";
}

void ts_buf_add(struct ts_buf *b, const void *p, size_t n);
void ts_buf_addstr(struct ts_buf *b, const char *s);
void ts_buf_printf(struct ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append, then keep only the last max bytes (the tail of a log). */
void ts_buf_add_tail(struct ts_buf *b, const void *p, size_t n, size_t max);
/* Append a number in decimal (the hot path's printf). */
void ts_buf_add_u64(struct ts_buf *b, uint64_t n);
/* Make room for at least n more bytes; returns where to write them, or NULL. */
char *ts_buf_space(struct ts_buf *b, size_t n);
/* Mark n bytes written after ts_buf_space. */
void ts_buf_commit(struct ts_buf *b, size_t n);
void ts_buf_consume(struct ts_buf *b, size_t n);
/*
 * Find the next complete line.  Returns its length without the newline and
 * sets *line to its start, or returns -1 when no full line is buffered.  The
 * newline is replaced by a NUL; call ts_buf_consume(b, len + 1) after use.
 */
long ts_buf_line(struct ts_buf *b, char **line);
/* Is a complete line buffered?  (Unlike ts_buf_line, changes nothing.) */
int ts_buf_has_line(const struct ts_buf *b);
/* Empty the buffer (and forget a failure), keeping its memory. */
void ts_buf_reset(struct ts_buf *b);
void ts_buf_free(struct ts_buf *b);

#endif
