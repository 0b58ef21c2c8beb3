/*
 * loop.h: a small event loop: epoll for descriptors, a binary heap for
 * timers, and one hook that runs before each wait for deferred work.
 *
 * Timers use CLOCK_MONOTONIC in nanoseconds; the wait is rounded up to the
 * next millisecond, so a timer never fires early.
 */
#ifndef TS_LOOP_H
#define TS_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct ts_loop;

/* events are EPOLL* bits as epoll reported them. */
typedef void ts_io_fn(struct ts_loop *loop, int fd, uint32_t events, void *arg);
typedef void ts_timer_fn(struct ts_loop *loop, void *arg);
/* Returns 1 when it has more work already: the loop then polls without sleeping. */
typedef int ts_hook_fn(struct ts_loop *loop, void *arg);

struct ts_timer {
    uint64_t when; /* ts_now() value at which it fires */
    size_t slot;   /* place in the heap, SIZE_MAX when not armed */
    ts_timer_fn *fn;
    void *arg;
};

uint64_t ts_now(void);

struct ts_loop *ts_loop_new(void);
void ts_loop_free(struct ts_loop *loop);
/* Its epoll descriptor, for a daemon that closes every other one it inherited. */
int ts_loop_fd(const struct ts_loop *loop);

/* Watch fd for the EPOLL* bits in events; returns -1 with errno on failure. */
int ts_loop_add(struct ts_loop *loop, int fd, uint32_t events, ts_io_fn *fn, void *arg);
int ts_loop_mod(struct ts_loop *loop, int fd, uint32_t events);
void ts_loop_del(struct ts_loop *loop, int fd);

void ts_timer_init(struct ts_timer *t, ts_timer_fn *fn, void *arg);
void ts_timer_set(struct ts_loop *loop, struct ts_timer *t, uint64_t when);
void ts_timer_cancel(struct ts_loop *loop, struct ts_timer *t);

/* fn runs before every wait; there is one such hook. */
void ts_loop_hook(struct ts_loop *loop, ts_hook_fn *fn, void *arg);

/* Run until ts_loop_stop; returns -1 with errno if epoll fails. */
int ts_loop_run(struct ts_loop *loop);
void ts_loop_stop(struct ts_loop *loop);

#endif
