/*
 * buf.c: growable byte buffers (see buf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

char *
ts_buf_space(struct ts_buf *b, size_t n)
{
    char *p;

    if (b->cap - b->end >= n)
        return b->data + b->end;
    if (b->start > 0 && b->start >= b->cap / 2) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
        if (b->cap - b->end >= n)
            return b->data + b->end;
    }
    p = ts_xgrow(b->data, &b->cap, b->end + n, 1);
    if (p == NULL) {
        b->failed = 1;
        return NULL;
    }
    b->data = p;
    return b->data + b->end;
}

void
ts_buf_commit(struct ts_buf *b, size_t n)
{
    b->end += n;
}

void
ts_buf_add(struct ts_buf *b, const void *p, size_t n)
{
    char *to;

    if (n == 0 || (to = ts_buf_space(b, n)) == NULL)
        return;
    memcpy(to, p, n);
    b->end += n;
}

void
ts_buf_add_tail(struct ts_buf *b, const void *p, size_t n, size_t max)
{
    ts_buf_add(b, p, n);
    if (ts_buf_len(b) > max)
        ts_buf_consume(b, ts_buf_len(b) - max);
}

void
ts_buf_addstr(struct ts_buf *b, const char *s)
{
    ts_buf_add(b, s, strlen(s));
}

void
ts_buf_printf(struct ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *to;
    int n;

    if ((to = ts_buf_space(b, 64)) == NULL)
        return;
    va_start(ap, fmt);
    n = vsnprintf(to, 64, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n >= 64) {
        if ((to = ts_buf_space(b, (size_t)n + 1)) == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(to, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->end += (size_t)n;
}

void
ts_buf_add_u64(struct ts_buf *b, uint64_t n)
{
    char tmp[20], *p = tmp + sizeof tmp;

    do
        *--p = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    ts_buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

void
ts_buf_consume(struct ts_buf *b, size_t n)
{
    b->start += n;
    if (b->start >= b->end)
        b->start = b->end = 0;
}

long
ts_buf_line(struct ts_buf *b, char **line)
{
    char *p = ts_buf_head(b);
    char *nl;

    if (ts_buf_len(b) == 0)
        return -1;
    nl = memchr(p, '\n', ts_buf_len(b));
    if (nl == NULL)
        return -1;
    *nl = '\0';
    *line = p;
    return nl - p;
}

int
ts_buf_has_line(const struct ts_buf *b)
{
    return ts_buf_len(b) > 0 && memchr(ts_buf_head(b), '\n', ts_buf_len(b)) != NULL;
}

void
ts_buf_reset(struct ts_buf *b)
{
    b->start = b->end = 0;
    b->failed = 0;
}

void
ts_buf_free(struct ts_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
    b->failed = 0;
}
