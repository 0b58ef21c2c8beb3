/*
 * tsbench: the load generator behind `make bench` (not installed).
 *
 * It speaks the wire protocol directly, with preformatted requests, so that
 * what is measured is the daemon and the socket, not a JSON library in the
 * client (redis-benchmark does the same for Redis).  Results are printed as
 * "key value" lines.
 *
 *   tsbench pairs SOCKET CLIENTS SECONDS DEPTH
 *       CLIENTS connections, each with its own key, putting and taking as
 *       fast as they can, all from one process (as redis-benchmark does);
 *       DEPTH 1 waits for every reply, DEPTH d sends d outs and d ins in
 *       one write.  Each write starts with the ack of what was taken
 *       before.  Prints pairs_per_sec.
 *   tsbench take SOCKET REPS N
 *       With tuples ["k<i mod 1000>", i, "payload-<i>"] for i < N stored:
 *       REPS takes of a random concrete key (template [key, ?, ?]) and REPS
 *       takes of a random concrete second field ([?, i, ?]), each put back.
 *       Prints the median microseconds of each.
 *   tsbench rdall SOCKET REPS
 *       REPS reads of all 100 tuples ["hundred", i, ...]; median microseconds.
 *   tsbench waiters SOCKET N
 *       N connections wait on distinct templates ["w", j, ?]; then the median
 *       time of an out nobody waits for, the time per out+in pair nobody
 *       waits for when 1000 are pipelined, and the time for N outs to wake
 *       each waiter exactly once.
 *   tsbench idle SOCKET N K
 *       N connections wait as above; then K outs nobody waits for (each
 *       taken back), and a shutdown.  For counting the server's
 *       instructions under callgrind: run with K = 0 and K > 0.
 *   tsbench leases SOCKET N SPREAD
 *       A follower of the event stream; then N leases ["lease", i] with
 *       random times to live from 0.5 to 0.5 + SPREAD seconds, pipelined
 *       on one connection; then the N expire events.  Prints the rate of
 *       the puts, how many expired, how many expired out of the order of
 *       their deadlines, and the median, 99th percentile and largest delay
 *       from deadline to expiry, in milliseconds.
 *   tsbench putleases SOCKET N TTL
 *       Put N leases ["pending", i] with random times to live from TTL/2
 *       to TTL seconds, and return: the space for a pairs run with leases
 *       pending, or ending during it.
 *   tsbench regex SOCKET N SECONDS TEMPLATE
 *       Puts one tuple holding a string of N random a and b, then measures
 *       the request {"op":"rd","tmpl":TEMPLATE,"timeout":0}: its median
 *       time over 20 and how it ended (match, nomatch or the error code).
 *       Then for SECONDS one process sends it back to back while this one
 *       measures another connection's stats round trips (median, 99th
 *       percentile and maximum, and the median before, on an idle daemon).  Last, the
 *       daemon's resident set.  TEMPLATE must not match a string of a and
 *       b (its tuple line would not fit the reader).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct reader {
    int fd;
    char buf[1 << 16];
    size_t start, end;
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
    fprintf(stderr, "tsbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int
connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    return fd;
}

static void
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* The next line, NUL-terminated, without its newline. */
static char *
read_line(struct reader *r)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        ssize_t n;

        if (nl != NULL) {
            char *line = r->buf + r->start;

            *nl = '\0';
            r->start = (size_t)(nl - r->buf) + 1;
            return line;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->end == sizeof r->buf) {
            fprintf(stderr, "tsbench: reply line too long\n");
            exit(1);
        }
        n = read(r->fd, r->buf + r->end, sizeof r->buf - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "tsbench: connection closed\n");
            exit(1);
        }
        r->end += (size_t)n;
    }
}

/* Read through the final line of one request; returns the last id seen. */
static long
finish(struct reader *r)
{
    long id = -1;

    for (;;) {
        char *line = read_line(r);
        char *p = strstr(line, "\"id\":");

        if (strncmp(line, "{\"ok\":", 6) == 0) {
            if (strncmp(line, "{\"ok\":true", 10) != 0) {
                fprintf(stderr, "tsbench: %s\n", line);
                exit(1);
            }
            return id;
        }
        if (p != NULL)
            id = strtol(p + 5, NULL, 10);
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
ack(int fd, long id)
{
    char line[64];
    int n = snprintf(line, sizeof line, "{\"op\":\"ack\",\"id\":%ld}\n", id);

    send_all(fd, line, (size_t)n);
}

/*
 * One connection of the pairs workload.  Like redis-benchmark, a single
 * process drives every connection from one epoll loop: with a process per
 * client, two cores would spend the run switching between clients, and
 * measure the scheduler rather than the server.
 */
struct pairer {
    struct reader r;
    int cid;
    long seq;
    int phase;  /* depth 1: 0 waiting for the out's reply, 1 for the in's */
    int finals; /* final lines still expected for the batch in flight */
    long id;    /* last delivery id seen, to ack */
};

/* Send the next request(s) of p, with the ack of what it took first. */
static void
pairer_send(struct pairer *p, int depth, char *batch)
{
    size_t n = 0;
    int i;

    if (p->id >= 0 && p->phase == 0) {
        n += (size_t)sprintf(batch, "{\"op\":\"ack\",\"id\":%ld}\n", p->id);
        p->id = -1;
    }
    if (depth == 1 && p->phase == 1) {
        n += (size_t)sprintf(batch + n, "{\"op\":\"in\",\"tmpl\":[\"b\",%d,\"?\"]}\n", p->cid);
        p->finals = 1;
    } else {
        for (i = 0; i < depth; i++)
            n += (size_t)sprintf(batch + n, "{\"op\":\"out\",\"tuple\":[\"b\",%d,%ld]}\n", p->cid,
                                 p->seq++);
        for (i = 0; i < depth && depth > 1; i++)
            n += (size_t)sprintf(batch + n, "{\"op\":\"in\",\"tmpl\":[\"b\",%d,\"?\"]}\n", p->cid);
        p->finals = depth > 1 ? 2 * depth : 1;
    }
    send_all(p->r.fd, batch, n);
}

/* Read what has arrived; returns pairs completed. */
static long
pairer_read(struct pairer *p, int depth, char *batch)
{
    long done = 0;
    ssize_t n = read(p->r.fd, p->r.buf + p->r.end, sizeof p->r.buf - p->r.end);

    if (n <= 0) {
        fprintf(stderr, "tsbench: connection closed\n");
        exit(1);
    }
    p->r.end += (size_t)n;
    for (;;) {
        char *line = p->r.buf + p->r.start;
        char *nl = memchr(line, '\n', p->r.end - p->r.start);

        if (nl == NULL)
            break;
        *nl = '\0';
        p->r.start = (size_t)(nl - p->r.buf) + 1;
        if (strncmp(line, "{\"id\":", 6) == 0) {
            p->id = strtol(line + 6, NULL, 10);
            continue;
        }
        if (strncmp(line, "{\"ok\":true", 10) != 0) {
            fprintf(stderr, "tsbench: %s\n", line);
            exit(1);
        }
        if (--p->finals > 0)
            continue;
        if (depth == 1) {
            done += p->phase;
            p->phase = !p->phase;
        } else {
            done += depth;
        }
        pairer_send(p, depth, batch);
    }
    memmove(p->r.buf, p->r.buf + p->r.start, p->r.end - p->r.start);
    p->r.end -= p->r.start;
    p->r.start = 0;
    return done;
}

static int
cmd_pairs(const char *path, int clients, double seconds, int depth)
{
    struct pairer *ps = calloc((size_t)clients, sizeof *ps);
    char *batch = malloc((size_t)depth * 160 + 64);
    int ep = epoll_create1(0), i;
    long total = 0;
    double t0 = now(), end = t0 + seconds;

    for (i = 0; i < clients; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

        ps[i].r.fd = connect_to(path);
        ps[i].cid = i;
        ps[i].id = -1;
        epoll_ctl(ep, EPOLL_CTL_ADD, ps[i].r.fd, &ev);
        pairer_send(&ps[i], depth, batch);
    }
    while (now() < end) {
        struct epoll_event evs[64];
        int k = epoll_wait(ep, evs, 64, 1000), j;

        for (j = 0; j < k; j++)
            total += pairer_read(&ps[evs[j].data.u32], depth, batch);
    }
    printf("pairs_per_sec %.0f\nclients %d\ndepth %d\n", (double)total / (now() - t0), clients,
           depth);
    for (i = 0; i < clients; i++)
        close(ps[i].r.fd);
    free(ps);
    free(batch);
    return 0;
}

/* One timed take with template text tmpl, then the tuple goes back. */
static double
timed_take(struct reader *r, const char *tmpl)
{
    char req[256], *line, back[512];
    double t0;
    int n = snprintf(req, sizeof req, "{\"op\":\"in\",\"tmpl\":%s}\n", tmpl);
    long id = -1;

    t0 = now();
    send_all(r->fd, req, (size_t)n);
    line = read_line(r);
    if (strncmp(line, "{\"id\":", 6) != 0) {
        fprintf(stderr, "tsbench: no match for %s: %s\n", tmpl, line);
        exit(1);
    }
    id = strtol(line + 6, NULL, 10);
    n = snprintf(back, sizeof back, "{\"op\":\"out\",\"tuple\":%s\n",
                 strstr(line, "\"tuple\":") + 8); /* ends with the reply's } */
    finish(r);
    t0 = now() - t0;
    ack(r->fd, id);
    send_all(r->fd, back, (size_t)n);
    finish(r);
    return t0;
}

static int
cmd_take(const char *path, int reps, long n)
{
    struct reader *r = calloc(1, sizeof *r);
    double *key = malloc((size_t)reps * sizeof *key), *field = malloc((size_t)reps * sizeof *field);
    char tmpl[128];
    int i;

    r->fd = connect_to(path);
    srand(1);
    for (i = 0; i < reps; i++) {
        snprintf(tmpl, sizeof tmpl, "[\"k%ld\",\"?\",\"?\"]", (long)rand() % (n < 1000 ? n : 1000));
        key[i] = timed_take(r, tmpl);
        snprintf(tmpl, sizeof tmpl, "[\"?\",%ld,\"?\"]", (long)rand() % n);
        field[i] = timed_take(r, tmpl);
    }
    printf("take_key_us %.1f\ntake_field_us %.1f\n", median(key, reps) * 1e6,
           median(field, reps) * 1e6);
    close(r->fd);
    free(key);
    free(field);
    free(r);
    return 0;
}

static int
cmd_rdall(const char *path, int reps)
{
    struct reader *r = calloc(1, sizeof *r);
    double *t = malloc((size_t)reps * sizeof *t);
    static const char req[] = "{\"op\":\"rd\",\"tmpl\":[\"hundred\",\"?\",\"?\"],\"all\":true}\n";
    int i;

    r->fd = connect_to(path);
    for (i = 0; i < reps; i++) {
        double t0 = now();

        send_all(r->fd, req, sizeof req - 1);
        finish(r);
        t[i] = now() - t0;
    }
    printf("rd_all_100_us %.1f\n", median(t, reps) * 1e6);
    close(r->fd);
    free(t);
    free(r);
    return 0;
}

static long
stat_of(struct reader *r, const char *key)
{
    static const char req[] = "{\"op\":\"stats\"}\n";
    char pat[64], *line, *p;

    send_all(r->fd, req, sizeof req - 1);
    line = read_line(r);
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(line, pat);
    return p != NULL ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static int
cmd_waiters(const char *path, int n)
{
    struct reader *ctl = calloc(1, sizeof *ctl);
    int *fds = malloc((size_t)n * sizeof *fds), ep = epoll_create1(0), i, woken = 0;
    char *got = calloc((size_t)n, 1), line[128], *batch, tag[32];
    double idle[200], t0, piped;
    size_t len = 0;

    /* A tag of our own: tuples left by an earlier run must not match. */
    snprintf(tag, sizeof tag, "w%ld", (long)getpid());
    ctl->fd = connect_to(path);
    for (i = 0; i < n; i++) {
        int k = snprintf(line, sizeof line, "{\"op\":\"in\",\"tmpl\":[\"%s\",%d,\"?\"]}\n", tag, i);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

        fds[i] = connect_to(path);
        send_all(fds[i], line, (size_t)k);
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    while (stat_of(ctl, "waiters") < n)
        usleep(1000);
    for (i = 0; i < 200; i++) {
        static const char out[] = "{\"op\":\"out\",\"tuple\":[\"w\",-1,\"x\"]}\n";
        static const char in[] = "{\"op\":\"in\",\"tmpl\":[\"w\",-1,\"?\"]}\n";

        t0 = now();
        send_all(ctl->fd, out, sizeof out - 1);
        finish(ctl);
        idle[i] = now() - t0;
        send_all(ctl->fd, in, sizeof in - 1);
        ack(ctl->fd, finish(ctl));
    }
    /* The same pairs pipelined, 1000 in one write: the server's own cost. */
    batch = malloc((size_t)(n > 2000 ? n : 2000) * 80);
    len = 0;
    for (i = 0; i < 1000; i++)
        len += (size_t)sprintf(batch + len, "{\"op\":\"out\",\"tuple\":[\"w\",-1,\"x\"]}\n"
                                            "{\"op\":\"in\",\"tmpl\":[\"w\",-1,\"?\"]}\n");
    t0 = now();
    send_all(ctl->fd, batch, len);
    {
        long id = -1;

        for (i = 0; i < 2000; i++) {
            long last = finish(ctl);

            if (last >= 0)
                id = last;
        }
        piped = (now() - t0) * 1e6 / 1000;
        ack(ctl->fd, id);
    }
    len = 0;
    for (i = 0; i < n; i++)
        len +=
            (size_t)sprintf(batch + len, "{\"op\":\"out\",\"tuple\":[\"%s\",%d,\"x\"]}\n", tag, i);
    t0 = now();
    send_all(ctl->fd, batch, len);
    while (woken < n) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 10000), j;

        if (k <= 0) {
            fprintf(stderr, "tsbench: only %d of %d waiters woke\n", woken, n);
            return 1;
        }
        for (j = 0; j < k; j++) {
            uint32_t w = evs[j].data.u32;
            char buf[512];
            ssize_t m = read(fds[w], buf, sizeof buf - 1);
            char want[64];

            if (m <= 0)
                continue;
            buf[m] = '\0';
            snprintf(want, sizeof want, "\"tuple\":[\"%s\",%u,\"x\"]", tag, w);
            if (got[w] || strstr(buf, want) == NULL) {
                fprintf(stderr, "tsbench: waiter %u got %s\n", w, buf);
                return 1;
            }
            got[w] = 1;
            woken++;
            epoll_ctl(ep, EPOLL_CTL_DEL, fds[w], NULL);
        }
    }
    printf("waiters %d\nidle_out_us %.1f\nidle_pair_piped_us %.2f\nwake_all_ms %.1f\n"
           "wake_each_us %.2f\n",
           n, median(idle, 200) * 1e6, piped, (now() - t0) * 1e3, (now() - t0) * 1e6 / n);
    for (i = 0; i < n; i++)
        close(fds[i]);
    for (i = 0; i < n; i++)
        finish(ctl);
    return 0;
}

static int
cmd_idle(const char *path, int n, int k)
{
    struct reader *ctl = calloc(1, sizeof *ctl);
    int *fds = malloc((size_t)n * sizeof *fds), i;
    static const char out[] = "{\"op\":\"out\",\"tuple\":[\"w\",-1,\"x\"]}\n";
    static const char in[] = "{\"op\":\"in\",\"tmpl\":[\"w\",-1,\"?\"]}\n";
    static const char bye[] = "{\"op\":\"shutdown\"}\n";
    char line[128];

    ctl->fd = connect_to(path);
    for (i = 0; i < n; i++) {
        int m = snprintf(line, sizeof line, "{\"op\":\"in\",\"tmpl\":[\"i\",%d,\"?\"]}\n", i);

        fds[i] = connect_to(path);
        send_all(fds[i], line, (size_t)m);
    }
    while (stat_of(ctl, "waiters") < n)
        usleep(100000);
    for (i = 0; i < k; i++) {
        send_all(ctl->fd, out, sizeof out - 1);
        finish(ctl);
        send_all(ctl->fd, in, sizeof in - 1);
        ack(ctl->fd, finish(ctl));
    }
    send_all(ctl->fd, bye, sizeof bye - 1);
    finish(ctl);
    return 0;
}

/* Pipeline n leased outs on fd, and read their replies. */
static void
put_leases(struct reader *r, const char *tag, int n, double lo, double hi)
{
    char *batch = malloc(1 << 20);
    int i = 0, sent = 0;

    if (batch == NULL)
        die("malloc");
    while (sent < n) {
        size_t len = 0;
        int k;

        for (k = 0; k < 1000 && sent < n; k++, sent++)
            len += (size_t)sprintf(batch + len,
                                   "{\"op\":\"out\",\"tuple\":[\"%s\",%d],\"ttl\":%.6f}\n", tag,
                                   sent, lo + (hi - lo) * drand48());
        send_all(r->fd, batch, len);
        for (; i < sent; i++)
            finish(r);
    }
    free(batch);
}

static int
cmd_leases(const char *path, int n, double spread)
{
    struct reader *ctl = calloc(1, sizeof *ctl), *fol = calloc(1, sizeof *fol);
    struct reader *put = calloc(1, sizeof *put);
    static const char follow[] = "{\"op\":\"follow\",\"tmpl\":[\"lease\",\"?\"]}\n";
    double *late = malloc((size_t)n * sizeof *late), last = 0, t0;
    int expired = 0, disorder = 0;
    pid_t pid;

    if (ctl == NULL || fol == NULL || put == NULL || late == NULL)
        die("malloc");
    srand48(getpid());
    ctl->fd = connect_to(path);
    fol->fd = connect_to(path);
    put->fd = connect_to(path);
    send_all(fol->fd, follow, sizeof follow - 1);
    while (stat_of(ctl, "followers") < 1)
        usleep(1000);
    /* The puts from another process: the follower must be read meanwhile. */
    fflush(stdout);
    if ((pid = fork()) < 0)
        die("fork");
    if (pid == 0) {
        t0 = now();
        put_leases(put, "lease", n, 0.5, 0.5 + spread);
        printf("lease_puts_per_sec %.0f\n", n / (now() - t0));
        fflush(stdout);
        _exit(0);
    }
    while (expired < n) {
        char *line = read_line(fol), *p, *q;
        double t, d;

        if (strncmp(line, "{\"dropped\":", 11) == 0) {
            fprintf(stderr, "tsbench: the follower dropped events: %s\n", line);
            exit(1);
        }
        if (strncmp(line, "{\"event\":\"expire\",", 18) != 0)
            continue;
        p = strstr(line, "\"time\":");
        q = strstr(line, "\"deadline\":");
        if (p == NULL || q == NULL)
            continue;
        t = atof(p + 7);
        d = atof(q + 11);
        if (d < last)
            disorder++;
        last = d;
        late[expired++] = (t - d) * 1e3;
    }
    waitpid(pid, NULL, 0);
    qsort(late, (size_t)n, sizeof *late, cmp_double);
    printf("expired %d\nout_of_order %d\n", expired, disorder);
    printf("late_median_ms %.2f\nlate_p99_ms %.2f\nlate_max_ms %.2f\n", late[n / 2],
           late[(int)(n * 0.99)], late[n - 1]);
    return 0;
}

static int
cmd_putleases(const char *path, int n, double ttl)
{
    struct reader *r = calloc(1, sizeof *r);

    if (r == NULL)
        die("malloc");
    srand48(getpid());
    r->fd = connect_to(path);
    put_leases(r, "pending", n, ttl / 2, ttl);
    return 0;
}

/* One request on r, through its final line: returns the time, and its code in *how. */
static double
ask(struct reader *r, const char *req, size_t n, char *how, size_t howlen)
{
    double t0 = now();
    int tuples = 0;
    char *line, *code;

    send_all(r->fd, req, n);
    while (strncmp(line = read_line(r), "{\"ok\":", 6) != 0)
        tuples++;
    if (strncmp(line, "{\"ok\":true", 10) == 0)
        snprintf(how, howlen, "%s", tuples ? "match" : "ok");
    else if ((code = strstr(line, "\"code\":\"")) != NULL)
        snprintf(how, howlen, "%.*s", (int)strcspn(code + 8, "\""), code + 8);
    else
        snprintf(how, howlen, "error");
    return now() - t0;
}

static int
cmd_regex(const char *path, long n, double seconds, const char *tmpl)
{
    static const char stats[] = "{\"op\":\"stats\"}\n";
    struct reader *r = calloc(1, sizeof *r), *other = calloc(1, sizeof *other);
    size_t cap = (size_t)n + 64, len, reqlen, nrtt = 0, rttcap = 1 << 16;
    double idle[200], times[20], *rtt = malloc(rttcap * sizeof *rtt), end, worst = 0, busy;
    char *out = malloc(cap), *req = malloc(strlen(tmpl) + 64), how[64], junk[64];
    char status[64], rss[64] = "?";
    long i, served = 0, pid;
    int fds[2];
    pid_t child;
    FILE *f;

    r->fd = connect_to(path);
    other->fd = connect_to(path);
    srand(14);
    len = (size_t)sprintf(out, "{\"op\":\"out\",\"tuple\":[\"");
    for (i = 0; i < n; i++)
        out[len++] = "ab"[rand() & 1];
    len += (size_t)sprintf(out + len, "\"]}\n");
    ask(r, out, len, how, sizeof how);
    for (i = 0; i < 200; i++)
        idle[i] = ask(other, stats, sizeof stats - 1, junk, sizeof junk);
    reqlen = (size_t)sprintf(req, "{\"op\":\"rd\",\"tmpl\":%s,\"timeout\":0}\n", tmpl);
    for (i = 0; i < 20; i++)
        times[i] = ask(r, req, reqlen, how, sizeof how);
    if (pipe(fds) < 0)
        die("pipe");
    if ((child = fork()) < 0)
        die("fork");
    if (child == 0) {
        end = now() + seconds;
        while (now() < end) {
            ask(r, req, reqlen, junk, sizeof junk);
            served++;
        }
        dprintf(fds[1], "%ld\n", served);
        _exit(0);
    }
    close(fds[1]);
    end = now() + seconds;
    while (now() < end) {
        if (nrtt == rttcap)
            rtt = realloc(rtt, (rttcap *= 2) * sizeof *rtt);
        rtt[nrtt] = ask(other, stats, sizeof stats - 1, junk, sizeof junk);
        if (rtt[nrtt] > worst)
            worst = rtt[nrtt];
        nrtt++;
    }
    f = fdopen(fds[0], "r");
    if (f == NULL || fscanf(f, "%ld", &served) != 1)
        served = -1;
    waitpid(child, NULL, 0);
    pid = stat_of(other, "pid");
    snprintf(status, sizeof status, "/proc/%ld/status", pid);
    if ((f = fopen(status, "r")) != NULL) {
        while (fgets(junk, sizeof junk, f) != NULL)
            if (sscanf(junk, "VmRSS: %63s", rss) == 1)
                break;
        fclose(f);
    }
    busy = median(rtt, (int)nrtt); /* sorts rtt, for the 99th percentile */
    printf("bytes %ld\noutcome %s\nrequest_us %.1f\nidle_rtt_us %.1f\nbusy_rtt_us %.1f\n"
           "busy_rtt_p99_us %.1f\nbusy_rtt_max_us %.1f\nrequests_meanwhile %ld\nrss_kb %s\n",
           n, how, median(times, 20) * 1e6, median(idle, 200) * 1e6, busy * 1e6,
           rtt[nrtt * 99 / 100] * 1e6, worst * 1e6, served, rss);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "pairs") == 0)
        return cmd_pairs(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
    if (argc == 5 && strcmp(argv[1], "take") == 0)
        return cmd_take(argv[2], atoi(argv[3]), atol(argv[4]));
    if (argc == 4 && strcmp(argv[1], "rdall") == 0)
        return cmd_rdall(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "waiters") == 0)
        return cmd_waiters(argv[2], atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "idle") == 0)
        return cmd_idle(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "leases") == 0)
        return cmd_leases(argv[2], atoi(argv[3]), atof(argv[4]));
    if (argc == 5 && strcmp(argv[1], "putleases") == 0)
        return cmd_putleases(argv[2], atoi(argv[3]), atof(argv[4]));
    if (argc == 6 && strcmp(argv[1], "regex") == 0)
        return cmd_regex(argv[2], atol(argv[3]), atof(argv[4]), argv[5]);
    fprintf(stderr, "usage: tsbench pairs|take|rdall|waiters|idle|leases|putleases|regex SOCKET "
                    "... (see the source)\n");
    return 2;
}
