/*
 * xmalloc.c: allocation wrappers that exit on failure (see xmalloc.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"

static void oom(size_t size) __attribute__((noreturn));

static void
oom(size_t size)
{
    char msg[80];
    int n = snprintf(msg, sizeof msg, "out of memory allocating %zu bytes\n", size);

    /* No stdio here: it might itself need memory. */
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(111);
    _exit(111);
}

void *
xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        oom(n * size);
    return p;
}

void *
xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL)
        oom(size);
    return q;
}

void *
xgrow(void *p, size_t *n, size_t min, size_t size)
{
    size_t want = *n ? *n : 8;

    if (min <= *n)
        return p;
    while (want < min) {
        if (want > SIZE_MAX / 2 / size)
            oom(SIZE_MAX);
        want *= 2;
    }
    p = xrealloc(p, want * size);
    *n = want;
    return p;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
