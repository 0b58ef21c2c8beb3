/*
 * loop.c: epoll, timers and a pre-wait hook (see loop.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "mem.h"

struct handler {
    ts_io_fn *fn;
    void *arg;
};

struct ts_loop {
    int epfd;
    int stop;
    struct handler *fds; /* indexed by descriptor */
    size_t nfds;
    struct ts_timer **heap;
    size_t nheap;
    size_t heapcap;
    ts_hook_fn *hook;
    void *hookarg;
};

static void heap_up(struct ts_loop *loop, size_t i);
static void heap_down(struct ts_loop *loop, size_t i);
static int wait_ms(struct ts_loop *loop);
static void run_timers(struct ts_loop *loop);

uint64_t
ts_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct ts_loop *
ts_loop_new(void)
{
    struct ts_loop *loop = ts_xcalloc(1, sizeof *loop);

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    return loop;
}

int
ts_loop_fd(const struct ts_loop *loop)
{
    return loop->epfd;
}

void
ts_loop_free(struct ts_loop *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop->fds);
    free(loop->heap);
    free(loop);
}

int
ts_loop_add(struct ts_loop *loop, int fd, uint32_t events, ts_io_fn *fn, void *arg)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    size_t old = loop->nfds, i;

    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    loop->fds = ts_xgrow(loop->fds, &loop->nfds, (size_t)fd + 1, sizeof *loop->fds);
    for (i = old; i < loop->nfds; i++)
        loop->fds[i].fn = NULL;
    loop->fds[fd].fn = fn;
    loop->fds[fd].arg = arg;
    return 0;
}

int
ts_loop_mod(struct ts_loop *loop, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};

    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void
ts_loop_del(struct ts_loop *loop, int fd)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    if ((size_t)fd < loop->nfds)
        loop->fds[fd].fn = NULL;
}

void
ts_timer_init(struct ts_timer *t, ts_timer_fn *fn, void *arg)
{
    t->when = 0;
    t->slot = SIZE_MAX;
    t->fn = fn;
    t->arg = arg;
}

void
ts_timer_set(struct ts_loop *loop, struct ts_timer *t, uint64_t when)
{
    ts_timer_cancel(loop, t);
    t->when = when;
    loop->heap = ts_xgrow(loop->heap, &loop->heapcap, loop->nheap + 1, sizeof *loop->heap);
    t->slot = loop->nheap++;
    loop->heap[t->slot] = t;
    heap_up(loop, t->slot);
}

void
ts_timer_cancel(struct ts_loop *loop, struct ts_timer *t)
{
    size_t i = t->slot;

    if (i == SIZE_MAX)
        return;
    t->slot = SIZE_MAX;
    if (i == --loop->nheap)
        return;
    loop->heap[i] = loop->heap[loop->nheap];
    loop->heap[i]->slot = i;
    heap_up(loop, i);
    heap_down(loop, loop->heap[i]->slot);
}

static void
swap(struct ts_loop *loop, size_t a, size_t b)
{
    struct ts_timer *t = loop->heap[a];

    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->slot = a;
    loop->heap[b]->slot = b;
}

static void
heap_up(struct ts_loop *loop, size_t i)
{
    while (i > 0 && loop->heap[(i - 1) / 2]->when > loop->heap[i]->when) {
        swap(loop, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void
heap_down(struct ts_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < loop->nheap && loop->heap[l]->when < loop->heap[m]->when)
            m = l;
        if (r < loop->nheap && loop->heap[r]->when < loop->heap[m]->when)
            m = r;
        if (m == i)
            return;
        swap(loop, i, m);
        i = m;
    }
}

void
ts_loop_hook(struct ts_loop *loop, ts_hook_fn *fn, void *arg)
{
    loop->hook = fn;
    loop->hookarg = arg;
}

static int
wait_ms(struct ts_loop *loop)
{
    uint64_t now, when;

    if (loop->nheap == 0)
        return -1;
    now = ts_now();
    when = loop->heap[0]->when;
    if (when <= now)
        return 0;
    if (when - now > (uint64_t)24 * 3600 * 1000000000u)
        return 24 * 3600 * 1000;
    return (int)((when - now + 999999) / 1000000);
}

static void
run_timers(struct ts_loop *loop)
{
    uint64_t now = ts_now();

    while (loop->nheap > 0 && loop->heap[0]->when <= now) {
        struct ts_timer *t = loop->heap[0];

        ts_timer_cancel(loop, t);
        t->fn(loop, t->arg);
    }
}

int
ts_loop_run(struct ts_loop *loop)
{
    struct epoll_event evs[64];
    int n, i;

    loop->stop = 0;
    while (!loop->stop) {
        int busy = loop->hook != NULL && loop->hook(loop, loop->hookarg);

        if (loop->stop)
            break;
        n = epoll_wait(loop->epfd, evs, 64, busy ? 0 : wait_ms(loop));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;

            /* A handler may have stopped watching a descriptor later in the batch. */
            if ((size_t)fd < loop->nfds && loop->fds[fd].fn != NULL)
                loop->fds[fd].fn(loop, fd, evs[i].events, loop->fds[fd].arg);
        }
        run_timers(loop);
    }
    return 0;
}

void
ts_loop_stop(struct ts_loop *loop)
{
    loop->stop = 1;
}
