/*
 * lease.c: deadlines and the processes tuples live with (see lease.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lease.h"
#include "mem.h"

/* A process some tuples live with. */
struct ts_owner {
    pid_t pid;
    int fd;                 /* its pidfd, in the loop */
    struct ts_proc_id id;   /* read while fd showed it alive */
    struct ts_lease *head;  /* its leases */
    size_t n;               /* how many */
    struct ts_owner *chain; /* next in the same slot of the table */
    struct ts_leases *ls;
};

struct ts_leases {
    struct ts_loop *loop;
    ts_lease_fn *fn;
    void *arg;
    struct ts_owner **tab;  /* owners by pid, chained */
    size_t cap;             /* a power of two, or 0 */
    struct ts_lease *loose; /* leases without an owner */
    struct ts_lease_stats st;
};

static void on_deadline(struct ts_loop *loop, void *arg);
static void on_pidfd(struct ts_loop *loop, int fd, uint32_t events, void *arg);
static struct ts_owner *find(struct ts_leases *ls, pid_t pid);
static void owner_ended(struct ts_leases *ls, struct ts_owner *o);
static void owner_free(struct ts_leases *ls, struct ts_owner *o);
static void link_to(struct ts_lease **head, struct ts_lease *l);
static void unlink_from(struct ts_lease **head, struct ts_lease *l);
static void detach(struct ts_leases *ls, struct ts_lease *l);
static ssize_t read_file(const char *path, char *buf, size_t len);
static uint64_t boot_id(void);

int64_t
ts_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct ts_leases *
ts_leases_new(struct ts_loop *loop, ts_lease_fn *fn, void *arg)
{
    struct ts_leases *ls = ts_xcalloc(1, sizeof *ls);

    ls->loop = loop;
    ls->fn = fn;
    ls->arg = arg;
    return ls;
}

void
ts_leases_free(struct ts_leases *ls)
{
    struct ts_lease *l;
    size_t i;

    if (ls == NULL)
        return;
    for (i = 0; i < ls->cap; i++) {
        while (ls->tab[i] != NULL) {
            struct ts_owner *o = ls->tab[i];

            while ((l = o->head) != NULL) {
                unlink_from(&o->head, l);
                ts_timer_cancel(ls->loop, &l->timer);
                free(l);
            }
            o->n = 0;
            owner_free(ls, o);
        }
    }
    while ((l = ls->loose) != NULL) {
        unlink_from(&ls->loose, l);
        ts_timer_cancel(ls->loop, &l->timer);
        free(l);
    }
    free(ls->tab);
    free(ls);
}

static void
link_to(struct ts_lease **head, struct ts_lease *l)
{
    l->prev = NULL;
    l->next = *head;
    if (*head != NULL)
        (*head)->prev = l;
    *head = l;
}

static void
unlink_from(struct ts_lease **head, struct ts_lease *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        *head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

static struct ts_owner **
slot_of(struct ts_leases *ls, pid_t pid)
{
    return &ls->tab[((size_t)pid * 0x9E3779B97F4A7C15u >> 32) & (ls->cap - 1)];
}

static struct ts_owner *
find(struct ts_leases *ls, pid_t pid)
{
    struct ts_owner *o;

    if (ls->cap == 0)
        return NULL;
    for (o = *slot_of(ls, pid); o != NULL && o->pid != pid; o = o->chain)
        ;
    return o;
}

/* Has the process behind a pidfd ended (is it readable)? */
static int
has_ended(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};

    return poll(&p, 1, 0) > 0;
}

/* Read up to len - 1 bytes of a small file, NUL-terminated; -1 with errno. */
static ssize_t
read_file(const char *path, char *buf, size_t len)
{
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    do
        n = read(fd, buf, len - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* The first 64 bits of this boot's id, read once; 0 if it cannot be read. */
static uint64_t
boot_id(void)
{
    static uint64_t id;
    static int done;
    char buf[64];
    const char *p;
    int k = 0;

    if (done)
        return id;
    done = 1;
    if (read_file("/proc/sys/kernel/random/boot_id", buf, sizeof buf) < 0)
        return 0;
    for (p = buf; *p != '\0' && k < 16; p++) {
        const char *hex = "0123456789abcdef", *d;

        if (*p == '-')
            continue;
        if ((d = strchr(hex, *p)) == NULL)
            break;
        id = id << 4 | (uint64_t)(d - hex);
        k++;
    }
    if (k < 16)
        id = 0;
    return id;
}

int
ts_proc_id(pid_t pid, struct ts_proc_id *id)
{
    char path[64], buf[1024], *p, *end;
    unsigned long long start;
    int field;

    id->start = 0;
    id->boot = boot_id();
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (read_file(path, buf, sizeof buf) < 0) {
        if (errno == ENOENT)
            errno = ESRCH;
        return -1;
    }
    /* "pid (comm) state ...": comm may hold anything, so count from its last ')'. */
    if ((p = strrchr(buf, ')')) == NULL)
        return 0;
    for (field = 2; field < 22 && *p != '\0'; p++)
        if (*p == ' ')
            field++;
    if (field == 22) {
        errno = 0;
        start = strtoull(p, &end, 10);
        if (errno == 0 && end != p)
            id->start = start;
    }
    return 0;
}

int
ts_leases_owner_id(struct ts_leases *ls, pid_t pid, struct ts_proc_id *id)
{
    struct ts_owner *o = find(ls, pid);

    if (o == NULL) {
        errno = ESRCH;
        return -1;
    }
    *id = o->id;
    return 0;
}

int
ts_leases_watch(struct ts_leases *ls, pid_t pid)
{
    struct ts_owner *o = find(ls, pid), **pp;
    struct ts_proc_id id;
    int fd;

    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if (o != NULL) {
        if (!has_ended(o->fd))
            return 0;
        /* It ended and we have not heard yet: end its tuples now, then look again. */
        if (o->n == 0)
            owner_free(ls, o);
        else
            owner_ended(ls, o);
    }
    fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -1;
    /*
     * Its identity is read before the pidfd is asked whether it ended: if
     * it has not, the pid was not given to another process in between, so
     * what was read is this one's.  A process that has ended but is not
     * yet reaped has a pidfd too.
     */
    if ((ts_proc_id(pid, &id) < 0 && errno == ESRCH) || has_ended(fd)) {
        close(fd);
        errno = ESRCH;
        return -1;
    }
    if (ls->st.owners + 1 > ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 64, i;
        struct ts_owner **old = ls->tab;
        size_t oldcap = ls->cap;

        ls->tab = ts_xcalloc(cap, sizeof *ls->tab);
        ls->cap = cap;
        for (i = 0; i < oldcap; i++) {
            while ((o = old[i]) != NULL) {
                old[i] = o->chain;
                pp = slot_of(ls, o->pid);
                o->chain = *pp;
                *pp = o;
            }
        }
        free(old);
    }
    o = ts_xcalloc(1, sizeof *o);
    o->pid = pid;
    o->fd = fd;
    o->id = id;
    o->ls = ls;
    if (ts_loop_add(ls->loop, fd, EPOLLIN, on_pidfd, o) < 0) {
        int e = errno;

        close(fd);
        free(o);
        errno = e;
        return -1;
    }
    pp = slot_of(ls, pid);
    o->chain = *pp;
    *pp = o;
    ls->st.owners++;
    return 0;
}

void
ts_leases_unwatch(struct ts_leases *ls, pid_t pid)
{
    struct ts_owner *o = find(ls, pid);

    if (o != NULL && o->n == 0)
        owner_free(ls, o);
}

static void
owner_free(struct ts_leases *ls, struct ts_owner *o)
{
    struct ts_owner **pp = slot_of(ls, o->pid);

    while (*pp != o)
        pp = &(*pp)->chain;
    *pp = o->chain;
    ts_loop_del(ls->loop, o->fd);
    close(o->fd);
    free(o);
    ls->st.owners--;
}

struct ts_lease *
ts_leases_add(struct ts_leases *ls, struct ts_tuple *t, int64_t deadline, pid_t owner)
{
    struct ts_lease *l;
    struct ts_owner *o = NULL;

    if (owner != 0) {
        if ((o = find(ls, owner)) == NULL && ts_leases_watch(ls, owner) < 0)
            return NULL;
        if (o == NULL)
            o = find(ls, owner);
    }
    l = ts_xcalloc(1, sizeof *l);
    l->t = t;
    l->ls = ls;
    l->deadline = deadline;
    ts_timer_init(&l->timer, on_deadline, l);
    if (deadline != 0) {
        int64_t left = deadline - ts_wall_ns();

        ts_timer_set(ls->loop, &l->timer, ts_now() + (left > 0 ? (uint64_t)left : 0));
        ls->st.deadlines++;
    }
    if (o != NULL) {
        l->owner = o;
        link_to(&o->head, l);
        o->n++;
        ls->st.bound++;
    } else {
        link_to(&ls->loose, l);
    }
    *ts_tuple_slot(t) = l;
    return l;
}

pid_t
ts_lease_owner(const struct ts_lease *l)
{
    return l->owner != NULL ? l->owner->pid : 0;
}

/* Stop its timer and take it from its owner: it ends, or goes. */
static void
detach(struct ts_leases *ls, struct ts_lease *l)
{
    struct ts_owner *o = l->owner;

    if (l->deadline != 0 && !l->ended)
        ls->st.deadlines--;
    ts_timer_cancel(ls->loop, &l->timer);
    if (o != NULL) {
        unlink_from(&o->head, l);
        l->owner = NULL;
        ls->st.bound--;
        link_to(&ls->loose, l);
        if (--o->n == 0)
            owner_free(ls, o);
    }
}

void
ts_leases_del(struct ts_leases *ls, struct ts_lease *l)
{
    detach(ls, l);
    unlink_from(&ls->loose, l);
    *ts_tuple_slot(l->t) = NULL;
    free(l);
}

void
ts_leases_expire(struct ts_leases *ls, struct ts_lease *l)
{
    detach(ls, l);
    l->ended = 1;
    ls->st.expired++;
    ls->fn(ls->arg, l, TS_LEASE_EXPIRED, 0);
}

static void
on_deadline(struct ts_loop *loop, void *arg)
{
    struct ts_lease *l = arg;

    (void)loop;
    ts_leases_expire(l->ls, l);
}

/* Every tuple of a process that ended ends, in the order they were bound. */
static void
owner_ended(struct ts_leases *ls, struct ts_owner *o)
{
    struct ts_lease *l, *prev;
    pid_t pid = o->pid;

    /* The oldest is at the tail.  The owner is freed with its last lease. */
    for (l = o->head; l->next != NULL; l = l->next)
        ;
    for (; l != NULL; l = prev) {
        prev = l->prev;
        detach(ls, l);
        l->ended = 1;
        ls->st.gone++;
        ls->fn(ls->arg, l, TS_LEASE_GONE, pid);
    }
}

static void
on_pidfd(struct ts_loop *loop, int fd, uint32_t events, void *arg)
{
    struct ts_owner *o = arg;

    (void)loop;
    (void)fd;
    (void)events;
    if (o->n == 0) {
        owner_free(o->ls, o);
        return;
    }
    owner_ended(o->ls, o);
}

void
ts_leases_stats(const struct ts_leases *ls, struct ts_lease_stats *s)
{
    *s = ls->st;
}
