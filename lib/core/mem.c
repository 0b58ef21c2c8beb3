/*
 * mem.c: allocation with a choice of what failure means (see mem.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static ts_oom_fn *oom;

void
ts_mem_fatal(ts_oom_fn *fn)
{
    oom = fn;
}

/* NULL came back: the fatal handler, if there is one, does not return. */
static void *
failed(size_t size)
{
    if (oom != NULL)
        oom(size);
    return NULL;
}

void *
ts_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    return p != NULL ? p : failed(size);
}

void *
ts_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    return p != NULL ? p : failed(n * size);
}

void *
ts_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    return q != NULL ? q : failed(size);
}

void *
ts_xgrow(void *p, size_t *n, size_t min, size_t size)
{
    size_t want = *n ? *n : 8;

    if (min <= *n)
        return p;
    while (want < min) {
        if (want > SIZE_MAX / 2 / size)
            return failed(SIZE_MAX);
        want *= 2;
    }
    p = ts_xrealloc(p, want * size);
    if (p != NULL)
        *n = want;
    return p;
}

char *
ts_xstrdup(const char *s)
{
    return ts_xstrndup(s, strlen(s));
}

char *
ts_xstrndup(const char *s, size_t n)
{
    char *p = ts_xmalloc(n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
