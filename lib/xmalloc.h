/*
 * xmalloc.h: allocation that cannot fail.
 *
 * The daemon and the commands treat running out of memory as fatal: every
 * allocation goes through these wrappers, which print one line and exit(111)
 * when the C library returns NULL.  Nothing else in lib/ exits.
 */
#ifndef TS_XMALLOC_H
#define TS_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Grow an array of n elements of the given size to at least min elements. */
void *xgrow(void *p, size_t *n, size_t min, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
