/*
 * mem.h: allocation for every layer.
 *
 * A program that runs out of memory has two sane choices, and which one is
 * right depends on who is running.  The daemon and the commands treat it
 * as fatal: they install a handler with ts_mem_fatal() before anything
 * else, and from then on these functions never return NULL (the handler
 * prints one line and exits 111).  A program linked with libts installs
 * nothing: these functions then return NULL, and every libts function
 * reports that as TS_EXIT_FAIL with "out of memory" instead of dying in
 * its caller's process.
 *
 * ts_xgrow grows an array of *n elements of the given size to hold at
 * least min; on failure it returns NULL and leaves p and *n as they were.
 */
#ifndef TS_MEM_H
#define TS_MEM_H

#include <stddef.h>

typedef void ts_oom_fn(size_t size);

/* Install the handler called when an allocation fails (it must not return). */
void ts_mem_fatal(ts_oom_fn *fn);

void *ts_xmalloc(size_t size);
void *ts_xcalloc(size_t n, size_t size);
void *ts_xrealloc(void *p, size_t size);
void *ts_xgrow(void *p, size_t *n, size_t min, size_t size);
char *ts_xstrdup(const char *s);
char *ts_xstrndup(const char *s, size_t n);

#endif
