/*
 * lease.h: tuples that end by themselves, at a deadline or when a process
 * they live with ends.
 *
 * A leaf over the event loop, as the workers are: it keeps the time and
 * watches processes, and reports each ending through the callback it was
 * given; what an ending means (delete the tuple, or wait for its holder to
 * let go of it) is the space's business.
 *
 * Deadlines
 * ---------
 * A deadline is given as an absolute wall-clock time, in nanoseconds since
 * the Epoch, so that it can be written down and read back (a durable log
 * does that) and means the same after a restart.  It is kept as well on
 * the monotonic clock, converted once when the lease is made, and that is
 * the one that fires: setting the system clock neither ends leases early
 * nor keeps them late.  Each lease is one timer in the loop's heap, so the
 * next deadline is found without looking at the others, and leases end in
 * the order of their deadlines.
 *
 * Processes
 * ---------
 * A process is watched through a pidfd (pidfd_open(2)) in the loop's epoll
 * set: it becomes readable when the process ends, however it ends, with
 * no polling and no race with the reuse of its pid.  One pidfd serves every
 * tuple of that process.
 *
 * A lease lives in its tuple's slot (store.h), so the tuples without one
 * pay nothing for any of this.
 */
#ifndef TS_LEASE_H
#define TS_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "store.h"

enum ts_lease_end {
    TS_LEASE_EXPIRED, /* its deadline came */
    TS_LEASE_GONE,    /* the process it lives with ended */
};

struct ts_owner;

struct ts_lease {
    struct ts_tuple *t;
    int64_t deadline;       /* ns since the Epoch; 0: none */
    struct ts_timer timer;  /* the deadline on the monotonic clock */
    struct ts_owner *owner; /* the process it lives with, or NULL */
    struct ts_lease *prev;  /* the owner's leases, or the leases without one */
    struct ts_lease *next;
    struct ts_leases *ls;
    int ended; /* ended while lent: gone once its holder lets go */
};

/*
 * Called when a lease ends (once per lease), with the process it lived
 * with for TS_LEASE_GONE: its timer is no longer armed, it no longer has
 * an owner, and it is marked ended.  The callback ends it for good with
 * ts_leases_del, or leaves it to be deleted later.
 */
typedef void ts_lease_fn(void *arg, struct ts_lease *l, enum ts_lease_end why, pid_t owner);

struct ts_leases;

struct ts_leases *ts_leases_new(struct ts_loop *loop, ts_lease_fn *fn, void *arg);
/* Forget every lease and watch (not the tuples: they are the store's). */
void ts_leases_free(struct ts_leases *ls);

/*
 * Can tuples live with process pid?  0, or -1 with errno: ESRCH when there
 * is no such process (or it has ended), another errno when it cannot be
 * watched.
 */
int ts_leases_watch(struct ts_leases *ls, pid_t pid);

/*
 * Who a process is, beyond its pid, which the kernel gives out again: when
 * it started, in clock ticks after boot (field 22 of /proc/PID/stat), and
 * in which boot (the first 64 bits of the boot id).  A durable space keeps
 * these with a tuple bound to the process, and after a restart takes the
 * process with that pid for the same one only if they match.  A field that
 * cannot be read (no /proc) is 0.
 */
struct ts_proc_id {
    uint64_t start;
    uint64_t boot;
};

/* Read pid's identity now: 0, or -1 with errno (ESRCH: no such process). */
int ts_proc_id(pid_t pid, struct ts_proc_id *id);

/*
 * The identity of a watched process, read when the watch began and while
 * its pidfd showed it alive, so it is that process's and no later one's:
 * 0, or -1 with ESRCH when pid is not watched.
 */
int ts_leases_owner_id(struct ts_leases *ls, pid_t pid, struct ts_proc_id *id);

/* Stop watching pid if no tuple lives with it (a request that put nothing). */
void ts_leases_unwatch(struct ts_leases *ls, pid_t pid);

/*
 * Give bound tuple t a deadline (0: none) and an owner (0: none), which
 * ts_leases_watch accepted; stores the lease in t's slot.  NULL (and no
 * lease) when the owner cannot be watched any more.
 */
struct ts_lease *ts_leases_add(struct ts_leases *ls, struct ts_tuple *t, int64_t deadline,
                               pid_t owner);
/* The lease of a tuple, or NULL. */
static inline struct ts_lease *
ts_lease_of(const struct ts_tuple *t)
{
    return t->bound ? (struct ts_lease *)*ts_tuple_slot(t) : NULL;
}
/* Its tuple is gone: forget the lease (and clear the slot). */
void ts_leases_del(struct ts_leases *ls, struct ts_lease *l);
/*
 * Its deadline has passed though its timer has not fired yet (the loop
 * serves descriptors before timers): end it now, as the timer would.
 */
void ts_leases_expire(struct ts_leases *ls, struct ts_lease *l);

/* Has the deadline passed, by the monotonic clock's reading now (ts_now)? */
static inline int
ts_lease_due(const struct ts_lease *l, uint64_t now)
{
    return l->deadline != 0 && l->timer.when <= now;
}
/* The process it lives with, or 0. */
pid_t ts_lease_owner(const struct ts_lease *l);

/* Now, in nanoseconds since the Epoch. */
int64_t ts_wall_ns(void);

struct ts_lease_stats {
    size_t deadlines; /* leases with a deadline, not ended */
    size_t bound;     /* leases with an owner */
    size_t owners;    /* processes watched */
    uint64_t expired; /* leases that reached their deadline, ever */
    uint64_t gone;    /* leases whose process ended, ever */
};
void ts_leases_stats(const struct ts_leases *ls, struct ts_lease_stats *s);

#endif
