/*
 * match-test.c: data-driven unit test of the tuple model, the matcher and
 * the store.
 *
 * Usage: match-test DIR
 *
 * DIR holds three tables (lines starting with '#' and blank lines ignored,
 * fields separated by one TAB, an optional last field is a comment):
 *
 *   match-cases    TUPLE  TEMPLATE  match|nomatch
 *   canon-cases    INPUT  EXPECTED-CANONICAL-TEXT
 *   bad-templates  TEMPLATE
 *
 * Every match case is two tests: the matcher (ts_canon_tuple, then
 * ts_tmpl_compile and ts_tmpl_match), and the store (the case's tuple must be
 * found by ts_store_iter/ts_iter_next exactly when it matches, both in a
 * store of its own and in one store holding the tuples of every case, where
 * the indexed walk must also give the same tuples, in the same order, as a
 * scan of the whole store).  Every canon case is one test of ts_canon, and
 * every bad template one test of ts_tmpl_compile.  A few store tests
 * written in C follow (order, lending, deletion, many tuples).
 *
 * Values are read with jansson (JSON_DECODE_ANY | JSON_ALLOW_NUL); an integer
 * too big for 64 bits is read again as a real, as lib/client/field.c does.
 *
 * Output is TAP; the exit status is 0 when every test passed, 1 otherwise.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "store.h"
#include "template.h"
#include "tuple.h"

/* ---- small helpers */

static void *
must(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "match-test: out of memory\n");
        exit(1);
    }
    return p;
}

/* A growable string for failure messages. */
struct sb {
    char *p;
    size_t len, cap;
};

static void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sb *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->p = must(realloc(s->p, s->cap));
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

static void
sb_reset(struct sb *s)
{
    s->len = 0;
    if (s->p != NULL)
        s->p[0] = '\0';
}

/* ---- TAP */

static unsigned test_no, failed;

/* Print a description, shortened, with '#' escaped so it is not a directive. */
static void
put_desc(const char *d)
{
    size_t i, n = strlen(d);

    for (i = 0; i < n && i < 150; i++) {
        if (d[i] == '#' || d[i] == '\\')
            putchar('\\');
        putchar(d[i]);
    }
    if (i < n)
        fputs("...", stdout);
}

/* Print text as diagnostics: "# " before every line. */
static void
diag(const char *text)
{
    const char *p = text, *nl;

    while (*p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        printf("# %.*s\n", (int)(nl - p), p);
        p = *nl == '\n' ? nl + 1 : nl;
    }
}

/* Report one test; why (may be empty) is printed as diagnostics on failure. */
static void
report(int pass, const char *desc, const struct sb *why)
{
    test_no++;
    printf("%s %u - ", pass ? "ok" : "not ok", test_no);
    put_desc(desc);
    putchar('\n');
    if (!pass) {
        failed++;
        diag(why->len > 0 ? why->p : "failed (no detail)");
    }
    fflush(stdout);
}

/* ---- reading JSON and the tables */

static json_t *
load_json(const char *text, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;

    v = json_loads(text, flags, &e);
    if (v == NULL && json_error_code(&e) == json_error_numeric_overflow)
        v = json_loads(text, flags | JSON_DECODE_INT_AS_REAL, &e);
    if (v == NULL)
        snprintf(err, errlen, "bad JSON at column %d: %s", e.column, e.text);
    return v;
}

struct row {
    char where[64]; /* "file:line" */
    int nf;         /* fields found (comment included) */
    char *f[4];
    char *mem;
};

struct table {
    struct row *rows;
    size_t n, cap;
};

static int
read_table(const char *dir, const char *name, struct table *tb)
{
    char path[4096];
    char *line = NULL;
    size_t lcap = 0, lineno = 0;
    ssize_t len;
    FILE *fp;

    memset(tb, 0, sizeof *tb);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "r");
    if (fp == NULL) {
        printf("Bail out! cannot open %s\n", path);
        return -1;
    }
    while ((len = getline(&line, &lcap, fp)) != -1) {
        struct row *r;
        char *p;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line[0] == '#' || strspn(line, " \t") == (size_t)len)
            continue;
        if (tb->n == tb->cap) {
            tb->cap = tb->cap ? tb->cap * 2 : 64;
            tb->rows = must(realloc(tb->rows, tb->cap * sizeof *tb->rows));
        }
        r = &tb->rows[tb->n++];
        memset(r, 0, sizeof *r);
        snprintf(r->where, sizeof r->where, "%s:%zu", name, lineno);
        r->mem = must(strdup(line));
        p = r->mem;
        /* At most 3 splits: the fourth field (a comment) may hold TABs. */
        for (r->nf = 1, r->f[0] = p; r->nf < 4 && (p = strchr(p, '\t')) != NULL; r->nf++) {
            *p++ = '\0';
            r->f[r->nf] = p;
        }
    }
    free(line);
    fclose(fp);
    return 0;
}

static void
free_table(struct table *tb)
{
    size_t i;

    for (i = 0; i < tb->n; i++)
        free(tb->rows[i].mem);
    free(tb->rows);
}

/* ---- canonical tuples */

struct ctuple {
    struct ts_buf text;
    uint32_t *off;
    uint32_t arity;
};

/* Canonicalize a tuple; 0, or -1 with a message in err. */
static int
ctuple_make(struct ctuple *ct, const json_t *v, char *err, size_t errlen)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;

    memset(ct, 0, sizeof *ct);
    ct->off = must(calloc(n ? n : 1, sizeof *ct->off));
    ct->arity = (uint32_t)n;
    if (ts_canon_tuple(v, &ct->text, ct->off, err, errlen) != 0) {
        free(ct->off);
        ct->off = NULL;
        ts_buf_free(&ct->text);
        return -1;
    }
    return 0;
}

static void
ctuple_free(struct ctuple *ct)
{
    free(ct->off);
    ts_buf_free(&ct->text);
}

/* The canonical text of one value, NUL-terminated, malloc'd. */
static char *
canon_str(const json_t *v)
{
    struct ts_buf b = TS_BUF_INIT;
    char *s;

    ts_canon(v, &b);
    s = must(malloc(ts_buf_len(&b) + 1));
    memcpy(s, ts_buf_head(&b), ts_buf_len(&b));
    s[ts_buf_len(&b)] = '\0';
    ts_buf_free(&b);
    return s;
}

/* Does each field's text at its offset equal that field's own canonical text? */
static int
check_offsets(const struct ctuple *ct, const json_t *v, struct sb *why)
{
    const char *text = ts_buf_head(&ct->text);
    size_t len = ts_buf_len(&ct->text);
    uint32_t i;
    int ok = 1;

    if (len < 2 || text[0] != '[' || text[len - 1] != ']') {
        sb_printf(why, "canonical tuple text '%.*s' is not an array\n", (int)len, text);
        return 0;
    }
    for (i = 0; i < ct->arity; i++) {
        char *want = canon_str(json_array_get(v, i));
        size_t flen = ts_field_len(ct->off, ct->arity, len, i);

        if (ct->off[i] > len || flen != strlen(want) ||
            memcmp(text + ct->off[i], want, flen) != 0) {
            sb_printf(why, "field %u: offset %u gives '%.*s', its canonical text is '%s'\n", i,
                      ct->off[i], (int)flen, text + ct->off[i], want);
            ok = 0;
        }
        free(want);
    }
    return ok;
}

/* ---- match cases */

struct mcase {
    struct row *row;
    int expect;    /* 1 match, 0 nomatch */
    int usable;    /* parsed, canonicalized and compiled */
    char why[512]; /* why not usable */
    json_t *tuple;
    struct ctuple ct;
    struct ts_tmpl *tm;
    struct ts_tuple *stored; /* this case's tuple in the shared store */
};

static void
mcase_prepare(struct mcase *mc, struct row *r)
{
    char err[300];
    json_t *w;

    memset(mc, 0, sizeof *mc);
    mc->row = r;
    if (r->nf < 3) {
        snprintf(mc->why, sizeof mc->why,
                 "malformed case line: want TUPLE TAB TEMPLATE TAB EXPECTED");
        return;
    }
    if (strcmp(r->f[2], "match") == 0)
        mc->expect = 1;
    else if (strcmp(r->f[2], "nomatch") == 0)
        mc->expect = 0;
    else {
        snprintf(mc->why, sizeof mc->why,
                 "malformed case line: expected '%s' is not match or nomatch", r->f[2]);
        return;
    }
    mc->tuple = load_json(r->f[0], err, sizeof err);
    if (mc->tuple == NULL) {
        snprintf(mc->why, sizeof mc->why, "malformed case line: tuple: %s", err);
        return;
    }
    if (ctuple_make(&mc->ct, mc->tuple, err, sizeof err) != 0) {
        snprintf(mc->why, sizeof mc->why, "ts_canon_tuple rejected the tuple: %s", err);
        return;
    }
    w = load_json(r->f[1], err, sizeof err);
    if (w == NULL) {
        snprintf(mc->why, sizeof mc->why, "malformed case line: template: %s", err);
        return;
    }
    mc->tm = ts_tmpl_compile(w, err, sizeof err); /* steals w */
    if (mc->tm == NULL) {
        snprintf(mc->why, sizeof mc->why, "ts_tmpl_compile rejected the template: %s", err);
        return;
    }
    mc->usable = 1;
}

static void
mcase_free(struct mcase *mc)
{
    if (mc->tuple != NULL && mc->ct.off != NULL)
        ctuple_free(&mc->ct);
    json_decref(mc->tuple);
    ts_tmpl_free(mc->tm);
}

static const char *
yesno(int m)
{
    return m ? "match" : "nomatch";
}

static void
test_matcher(struct mcase *mc, struct sb *why)
{
    char desc[512];
    int pass = 0;

    snprintf(desc, sizeof desc, "%s matcher: %s ~ %s -> %s", mc->row->where, mc->row->f[0],
             mc->row->nf > 1 ? mc->row->f[1] : "?", mc->row->nf > 2 ? mc->row->f[2] : "?");
    sb_reset(why);
    if (!mc->usable) {
        sb_printf(why, "%s", mc->why);
    } else {
        int got = ts_tmpl_match(mc->tm, ts_buf_head(&mc->ct.text), ts_buf_len(&mc->ct.text),
                                mc->ct.off, mc->ct.arity, NULL);
        int offs_ok = check_offsets(&mc->ct, mc->tuple, why);

        pass = offs_ok && got == mc->expect;
        if (got != mc->expect)
            sb_printf(why,
                      "expected %s, got %s (ts_tmpl_match returned %d)\n"
                      "tuple %s, canonical %.*s; template %s\n",
                      yesno(mc->expect), yesno(got), got, mc->row->f[0],
                      (int)ts_buf_len(&mc->ct.text), ts_buf_head(&mc->ct.text), mc->row->f[1]);
    }
    report(pass, desc, why);
}

/* Collect what an iteration over st with tm yields. */
struct tlist {
    struct ts_tuple **t;
    size_t n, cap;
};

static void
tlist_add(struct tlist *l, struct ts_tuple *t)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->t = must(realloc(l->t, l->cap * sizeof *l->t));
    }
    l->t[l->n++] = t;
}

static void
iter_all(struct ts_store *st, const struct ts_tmpl *tm, struct tlist *out)
{
    struct ts_iter it;
    struct ts_tuple *t;

    out->n = 0;
    ts_store_iter(st, tm, &it);
    while ((t = ts_iter_next(&it)) != NULL)
        tlist_add(out, t);
}

struct scan_arg {
    const struct ts_tmpl *tm;
    struct tlist *out;
};

static void
scan_cb(struct ts_tuple *t, void *arg)
{
    struct scan_arg *a = arg;

    if (ts_tmpl_match(a->tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, NULL) == 1)
        tlist_add(a->out, t);
}

/* The tuples of st that tm matches, by a scan of the whole store. */
static void
scan_all(struct ts_store *st, const struct ts_tmpl *tm, struct tlist *out)
{
    struct scan_arg a = {tm, out};

    out->n = 0;
    ts_store_each(st, scan_cb, &a);
}

static size_t
count_in(const struct tlist *l, const struct ts_tuple *t)
{
    size_t i, n = 0;

    for (i = 0; i < l->n; i++)
        n += l->t[i] == t;
    return n;
}

static void
sb_tlist(struct sb *why, const struct tlist *l)
{
    size_t i;

    sb_printf(why, "(%zu)", l->n);
    for (i = 0; i < l->n && i < 12; i++)
        sb_printf(why, " #%llu %s", (unsigned long long)l->t[i]->seq, ts_tuple_text(l->t[i]));
    if (i < l->n)
        sb_printf(why, " ...");
}

static void
test_store(struct mcase *mc, struct ts_store *shared, struct sb *why)
{
    struct tlist walk = {0}, scan = {0};
    struct ts_store *own;
    struct ts_tuple *t;
    char desc[512];
    int pass = 1;
    size_t i, n;

    snprintf(desc, sizeof desc, "%s store: %s ~ %s -> %s", mc->row->where, mc->row->f[0],
             mc->row->nf > 1 ? mc->row->f[1] : "?", mc->row->nf > 2 ? mc->row->f[2] : "?");
    sb_reset(why);
    if (!mc->usable) {
        sb_printf(why, "%s", mc->why);
        report(0, desc, why);
        return;
    }

    /* A store holding this tuple alone. */
    own = ts_store_new();
    t = ts_store_add(own, ts_buf_head(&mc->ct.text), ts_buf_len(&mc->ct.text), mc->ct.off,
                     mc->ct.arity);
    iter_all(own, mc->tm, &walk);
    n = count_in(&walk, t);
    if (n != (size_t)mc->expect || walk.n != n) {
        pass = 0;
        sb_printf(why, "store with this tuple alone: expected %s, the walk found ",
                  mc->expect ? "it once" : "nothing");
        sb_tlist(why, &walk);
        sb_printf(why, "\n");
    }
    ts_store_free(own);

    /* The store holding every case's tuple. */
    iter_all(shared, mc->tm, &walk);
    n = count_in(&walk, mc->stored);
    if (n != (size_t)mc->expect) {
        pass = 0;
        sb_printf(why, "shared store: expected %s, got %s (found %zu times)\n", yesno(mc->expect),
                  yesno(n != 0), n);
    }
    for (i = 1; i < walk.n; i++) {
        if (walk.t[i - 1]->seq >= walk.t[i]->seq) {
            pass = 0;
            sb_printf(why, "shared store: walk not oldest first at result %zu\n", i);
            break;
        }
    }
    scan_all(shared, mc->tm, &scan);
    if (scan.n != walk.n || (walk.n > 0 && memcmp(scan.t, walk.t, walk.n * sizeof *walk.t) != 0)) {
        pass = 0;
        sb_printf(why, "shared store: indexed walk and full scan differ\n  walk ");
        sb_tlist(why, &walk);
        sb_printf(why, "\n  scan ");
        sb_tlist(why, &scan);
        sb_printf(why, "\n");
    }
    if (!pass)
        sb_printf(why, "tuple %s; template %s\n", mc->row->f[0], mc->row->f[1]);
    free(walk.t);
    free(scan.t);
    report(pass, desc, why);
}

/* ---- canon cases */

static void
test_canon(struct row *r, struct sb *why)
{
    char desc[512], err[300];
    json_t *v = NULL, *again = NULL;
    char *got = NULL, *got2 = NULL;
    int pass = 0;

    snprintf(desc, sizeof desc, "%s canon: %s => %s", r->where, r->f[0], r->nf > 1 ? r->f[1] : "?");
    sb_reset(why);
    if (r->nf < 2) {
        sb_printf(why, "malformed case line: want INPUT TAB EXPECTED");
        goto out;
    }
    v = load_json(r->f[0], err, sizeof err);
    if (v == NULL) {
        sb_printf(why, "malformed case line: input: %s", err);
        goto out;
    }
    got = canon_str(v);
    pass = strcmp(got, r->f[1]) == 0;
    if (!pass)
        sb_printf(why, "expected %s\n     got %s\n", r->f[1], got);
    /* Canonical text is a fixed point. */
    again = load_json(got, err, sizeof err);
    if (again == NULL) {
        pass = 0;
        sb_printf(why, "canonical text %s does not read back: %s\n", got, err);
    } else {
        got2 = canon_str(again);
        if (strcmp(got, got2) != 0) {
            pass = 0;
            sb_printf(why, "not a fixed point: %s canonicalizes to %s\n", got, got2);
        }
    }
out:
    report(pass, desc, why);
    free(got);
    free(got2);
    json_decref(v);
    json_decref(again);
}

/* ---- bad templates */

static void
test_bad_template(struct row *r, struct sb *why)
{
    char desc[512], err[300];
    struct ts_tmpl *tm;
    json_t *w;
    int pass = 0;

    snprintf(desc, sizeof desc, "%s rejected: %s", r->where, r->f[0]);
    sb_reset(why);
    w = load_json(r->f[0], err, sizeof err);
    if (w == NULL) {
        sb_printf(why, "malformed line: %s", err);
    } else {
        err[0] = '\0';
        tm = ts_tmpl_compile(w, err, sizeof err); /* steals w */
        if (tm != NULL) {
            sb_printf(why,
                      "expected ts_tmpl_compile to fail, it compiled %s (arity %u, %u literals)",
                      r->f[0], tm->arity, tm->nlit);
            ts_tmpl_free(tm);
        } else if (err[0] == '\0') {
            sb_printf(why, "ts_tmpl_compile failed without a message");
        } else {
            pass = 1;
        }
    }
    report(pass, desc, why);
}

/* ---- store tests written in C */

/* Add a tuple given as JSON text; the test's own data, so errors abort. */
static struct ts_tuple *
put(struct ts_store *st, const char *json)
{
    char err[300];
    struct ctuple ct;
    struct ts_tuple *t;
    json_t *v = load_json(json, err, sizeof err);

    if (v == NULL || ctuple_make(&ct, v, err, sizeof err) != 0) {
        fprintf(stderr, "match-test: bad tuple in the test itself: %s: %s\n", json, err);
        abort();
    }
    t = ts_store_add(st, ts_buf_head(&ct.text), ts_buf_len(&ct.text), ct.off, ct.arity);
    ctuple_free(&ct);
    json_decref(v);
    return t;
}

static struct ts_tmpl *
tmpl(const char *json)
{
    char err[300];
    json_t *w = load_json(json, err, sizeof err);
    struct ts_tmpl *tm = w != NULL ? ts_tmpl_compile(w, err, sizeof err) : NULL;

    if (tm == NULL) {
        fprintf(stderr, "match-test: bad template in the test itself: %s: %s\n", json, err);
        abort();
    }
    return tm;
}

/* Does the walk with template json yield exactly want[0..n), in that order? */
static int
expect_walk(struct ts_store *st, const char *label, const char *json, struct ts_tuple *const *want,
            size_t n, struct sb *why)
{
    struct ts_tmpl *tm = tmpl(json);
    struct tlist got = {0};
    int ok;
    size_t i;

    iter_all(st, tm, &got);
    ok = got.n == n && (n == 0 || memcmp(got.t, want, n * sizeof *want) == 0);
    if (!ok) {
        sb_printf(why, "%s: template %s\n  expected (%zu)", label, json, n);
        for (i = 0; i < n; i++)
            sb_printf(why, " #%llu %s", (unsigned long long)want[i]->seq, ts_tuple_text(want[i]));
        sb_printf(why, "\n  got      ");
        sb_tlist(why, &got);
        sb_printf(why, "\n");
    }
    free(got.t);
    ts_tmpl_free(tm);
    return ok;
}

struct each_arg {
    struct tlist *out;
};

static void
each_cb(struct ts_tuple *t, void *arg)
{
    tlist_add(((struct each_arg *)arg)->out, t);
}

static int
expect_each(struct ts_store *st, const char *label, struct ts_tuple *const *want, size_t n,
            struct sb *why)
{
    struct tlist got = {0};
    struct each_arg a = {&got};
    size_t i;
    int ok;

    ts_store_each(st, each_cb, &a);
    ok = got.n == n && (n == 0 || memcmp(got.t, want, n * sizeof *want) == 0);
    if (!ok) {
        sb_printf(why, "%s: ts_store_each\n  expected (%zu)", label, n);
        for (i = 0; i < n; i++)
            sb_printf(why, " #%llu %s", (unsigned long long)want[i]->seq, ts_tuple_text(want[i]));
        sb_printf(why, "\n  got      ");
        sb_tlist(why, &got);
        sb_printf(why, "\n");
    }
    free(got.t);
    return ok;
}

static int
expect_stats(struct ts_store *st, const char *label, size_t tuples, size_t lent, struct sb *why)
{
    struct ts_store_stats s;

    ts_store_stats(st, &s);
    if (s.tuples == tuples && s.lent == lent)
        return 1;
    sb_printf(why, "%s: stats say %zu tuples, %zu lent; expected %zu, %zu\n", label, s.tuples,
              s.lent, tuples, lent);
    return 0;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Five jobs among decoys of another name and another arity. */
struct jobs {
    struct ts_store *st;
    struct ts_tuple *job[6];   /* job[1..5]: ["job", i] */
    struct ts_tuple *other[6]; /* other[1..5]: ["other", i] */
    struct ts_tuple *wide[6];  /* wide[1..5]: ["job", i, "x"] */
};

static void
jobs_make(struct jobs *j)
{
    char buf[64];
    int i;

    j->st = ts_store_new();
    for (i = 1; i <= 5; i++) {
        snprintf(buf, sizeof buf, "[\"other\",%d]", i);
        j->other[i] = put(j->st, buf);
        snprintf(buf, sizeof buf, "[\"job\",%d]", i);
        j->job[i] = put(j->st, buf);
        snprintf(buf, sizeof buf, "[\"job\",%d,\"x\"]", i);
        j->wide[i] = put(j->st, buf);
    }
}

static int
st_fifo(struct sb *why)
{
    struct jobs j;
    int ok = 1;

    jobs_make(&j);
    {
        struct ts_tuple *want[] = {j.job[1], j.job[2], j.job[3], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "literal name", "[\"job\",\"?int\"]", want, 5, why);
        ok &= expect_walk(j.st, "literal name, any", "[\"job\",\"?\"]", want, 5, why);
    }
    {
        struct ts_tuple *want[] = {j.other[1], j.job[1],   j.other[2], j.job[2],   j.other[3],
                                   j.job[3],   j.other[4], j.job[4],   j.other[5], j.job[5]};

        ok &= expect_walk(j.st, "formals only (arity list)", "[\"?\",\"?\"]", want, 10, why);
        ok &= expect_walk(j.st, "typed formals only", "[\"?str\",\"?num\"]", want, 10, why);
    }
    {
        struct ts_tuple *want[] = {j.other[3], j.job[3]};

        ok &= expect_walk(j.st, "literal second field", "[\"?\",3]", want, 2, why);
        ok &= expect_walk(j.st, "literal second field as a real", "[\"?str\",3.0]", want, 2, why);
    }
    {
        struct ts_tuple *want[] = {j.wide[1], j.wide[2], j.wide[3], j.wide[4], j.wide[5]};

        ok &= expect_walk(j.st, "arity 3", "[\"job\",\"?\",\"x\"]", want, 5, why);
    }
    {
        struct ts_tuple *want[] = {j.job[4]};

        ok &= expect_walk(j.st, "two literals", "[\"job\",4]", want, 1, why);
        ok &= expect_walk(j.st, "absent value", "[\"job\",6]", want, 0, why);
        ok &= expect_walk(j.st, "absent arity", "[\"job\",4,\"x\",1]", want, 0, why);
    }
    ts_store_free(j.st);
    return ok;
}

static int
st_lend(struct sb *why)
{
    struct jobs j;
    int ok = 1;

    jobs_make(&j);
    ts_store_lend(j.st, j.job[2]);
    ts_store_lend(j.st, j.job[4]);
    ok &= expect_stats(j.st, "two lent", 15, 2, why);
    {
        struct ts_tuple *want[] = {j.job[1], j.job[3], j.job[5]};

        ok &= expect_walk(j.st, "two lent", "[\"job\",\"?int\"]", want, 3, why);
    }
    {
        struct ts_tuple *want[] = {j.other[2]};

        ok &= expect_walk(j.st, "lent skipped in a value list", "[\"?\",2]", want, 1, why);
    }
    {
        struct ts_tuple *want[] = {j.other[1], j.job[1], j.wide[1], j.other[2], j.wide[2],
                                   j.other[3], j.job[3], j.wide[3], j.other[4], j.wide[4],
                                   j.other[5], j.job[5], j.wide[5]};

        ok &= expect_each(j.st, "two lent", want, N_OF(want), why);
    }
    /* Back in their old places, whatever the order they come back in. */
    ts_store_unlend(j.st, j.job[4]);
    {
        struct ts_tuple *want[] = {j.job[1], j.job[3], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "one unlent", "[\"job\",\"?int\"]", want, 4, why);
    }
    ts_store_unlend(j.st, j.job[2]);
    ok &= expect_stats(j.st, "all unlent", 15, 0, why);
    {
        struct ts_tuple *want[] = {j.job[1], j.job[2], j.job[3], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "all unlent", "[\"job\",\"?int\"]", want, 5, why);
    }
    {
        struct ts_tuple *want[] = {j.other[2], j.job[2]};

        ok &= expect_walk(j.st, "unlent in a value list", "[\"?\",2]", want, 2, why);
    }
    /* The oldest lent: the walk starts at the next one. */
    ts_store_lend(j.st, j.job[1]);
    {
        struct ts_tuple *want[] = {j.job[2], j.job[3], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "oldest lent", "[\"job\",\"?\"]", want, 4, why);
    }
    /* Deleting a lent tuple (a confirmed take). */
    ts_store_del(j.st, j.job[1]);
    ok &= expect_stats(j.st, "lent one deleted", 14, 0, why);
    {
        struct ts_tuple *want[] = {j.job[2], j.job[3], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "lent one deleted", "[\"job\",\"?\"]", want, 4, why);
    }
    ts_store_free(j.st);
    return ok;
}

static int
st_lend_all(struct sb *why)
{
    struct ts_store *st = ts_store_new();
    struct ts_tuple *t[4];
    int ok = 1, i;

    t[0] = put(st, "[\"d\"]");
    t[1] = put(st, "[\"d\"]");
    t[2] = put(st, "[\"d\"]");
    t[3] = put(st, "[\"e\"]");
    {
        struct ts_tuple *want[] = {t[0], t[1], t[2]};

        ok &= expect_walk(st, "duplicates, oldest first", "[\"d\"]", want, 3, why);
    }
    for (i = 0; i < 4; i++)
        ts_store_lend(st, t[i]);
    ok &= expect_walk(st, "all lent", "[\"d\"]", t, 0, why);
    ok &= expect_walk(st, "all lent", "[\"?\"]", t, 0, why);
    ok &= expect_each(st, "all lent", t, 0, why);
    for (i = 3; i >= 0; i--)
        ts_store_unlend(st, t[i]);
    ok &= expect_walk(st, "all back", "[\"?\"]", t, 4, why);
    ok &= expect_each(st, "all back", t, 4, why);
    ts_store_free(st);
    return ok;
}

static int
st_delete(struct sb *why)
{
    struct jobs j;
    int ok = 1;

    jobs_make(&j);
    ts_store_del(j.st, j.job[3]);
    {
        struct ts_tuple *want[] = {j.job[1], j.job[2], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "middle deleted", "[\"job\",\"?int\"]", want, 4, why);
    }
    {
        struct ts_tuple *want[] = {j.other[3]};

        ok &= expect_walk(j.st, "middle deleted, its value list", "[\"?\",3]", want, 1, why);
    }
    ts_store_del(j.st, j.job[1]);
    {
        struct ts_tuple *want[] = {j.job[2], j.job[4], j.job[5]};

        ok &= expect_walk(j.st, "head deleted", "[\"job\",\"?int\"]", want, 3, why);
    }
    ts_store_del(j.st, j.job[5]);
    {
        struct ts_tuple *want[] = {j.job[2], j.job[4]};

        ok &= expect_walk(j.st, "tail deleted", "[\"job\",\"?int\"]", want, 2, why);
    }
    {
        struct ts_tuple *want[] = {j.other[1], j.other[2], j.job[2],  j.other[3],
                                   j.other[4], j.job[4],   j.other[5]};

        ok &= expect_walk(j.st, "arity list after deletes", "[\"?\",\"?\"]", want, N_OF(want), why);
    }
    /* A new tuple goes after the survivors. */
    j.job[3] = put(j.st, "[\"job\",3]");
    {
        struct ts_tuple *want[] = {j.job[2], j.job[4], j.job[3]};

        ok &= expect_walk(j.st, "re-added is newest", "[\"job\",\"?int\"]", want, 3, why);
    }
    {
        struct ts_tuple *want[] = {j.other[3], j.job[3]};

        ok &= expect_walk(j.st, "re-added in its value list", "[\"?\",3]", want, 2, why);
    }
    ok &= expect_stats(j.st, "after deletes", 13, 0, why);
    ts_store_free(j.st);
    return ok;
}

/* Deleting each tuple as the walk returns it (what "in" with a count does). */
static int
st_take_all(struct sb *why)
{
    struct jobs j;
    struct ts_tmpl *tm;
    struct ts_iter it;
    struct ts_tuple *t, *got[16];
    struct ts_store_stats s;
    size_t n = 0, i;
    int ok = 1;

    jobs_make(&j);
    tm = tmpl("[\"job\",\"?\"]");
    ts_store_iter(j.st, tm, &it);
    while ((t = ts_iter_next(&it)) != NULL) {
        if (n < N_OF(got))
            got[n] = t;
        n++;
        ts_store_del(j.st, t);
    }
    ts_tmpl_free(tm);
    if (n != 5) {
        ok = 0;
        sb_printf(why, "take all: the walk yielded %zu tuples, expected 5\n", n);
    }
    for (i = 0; i < n && i < 5; i++) {
        if (got[i] != j.job[i + 1]) {
            ok = 0;
            sb_printf(why, "take all: result %zu is not job %zu\n", i, i + 1);
        }
    }
    ok &= expect_walk(j.st, "after take all", "[\"job\",\"?\"]", got, 0, why);
    {
        struct ts_tuple *want[] = {j.other[1], j.other[2], j.other[3], j.other[4], j.other[5]};

        ok &= expect_walk(j.st, "others untouched", "[\"?\",\"?\"]", want, 5, why);
    }
    for (i = 1; i <= 5; i++) {
        ts_store_del(j.st, j.other[i]);
        ts_store_del(j.st, j.wide[i]);
    }
    ts_store_stats(j.st, &s);
    if (s.tuples != 0 || s.bytes != 0 || s.buckets != 0) {
        ok = 0;
        sb_printf(why, "empty store: stats say %zu tuples, %zu bytes, %zu buckets\n", s.tuples,
                  s.bytes, s.buckets);
    }
    ok &= expect_each(j.st, "empty store", got, 0, why);
    ok &= expect_walk(j.st, "empty store", "[\"?\"]", got, 0, why);
    ts_store_free(j.st);
    return ok;
}

static int
st_shapes(struct sb *why)
{
    struct ts_store *st = ts_store_new();
    struct ts_tuple *a1 = put(st, "[\"a\"]");
    struct ts_tuple *a2 = put(st, "[\"a\",1]");
    struct ts_tuple *a3 = put(st, "[\"a\",1,2]");
    struct ts_tuple *p12 = put(st, "[1,2]");
    struct ts_tuple *p21 = put(st, "[2,1]");
    int ok = 1;

    ok &= expect_walk(st, "arity 1 literal", "[\"a\"]", &a1, 1, why);
    ok &= expect_walk(st, "arity 1 formal", "[\"?\"]", &a1, 1, why);
    ok &= expect_walk(st, "arity 2 literal", "[\"a\",\"?\"]", &a2, 1, why);
    ok &= expect_walk(st, "arity 3 literal", "[\"a\",1,\"?\"]", &a3, 1, why);
    ok &= expect_walk(st, "value at position 0", "[1,\"?\"]", &p12, 1, why);
    ok &=
        expect_walk(st, "value at position 1", "[\"?\",1]", (struct ts_tuple *[]){a2, p21}, 2, why);
    ok &= expect_walk(st, "value 2 at position 1", "[\"?int\",2]", &p12, 1, why);
    ts_store_free(st);
    return ok;
}

static int
st_canon_tuple_errors(struct sb *why)
{
    static const char *const bad[] = {"[]", "{}", "1", "\"[1]\"", "null"};
    size_t i;
    int ok = 1;

    for (i = 0; i < N_OF(bad); i++) {
        char err[300];
        struct ts_buf b = TS_BUF_INIT;
        uint32_t off[4];
        json_t *v = load_json(bad[i], err, sizeof err);

        err[0] = '\0';
        if (ts_canon_tuple(v, &b, off, err, sizeof err) != -1 || err[0] == '\0') {
            ok = 0;
            sb_printf(why, "ts_canon_tuple accepted %s or gave no message\n", bad[i]);
        }
        ts_buf_free(&b);
        json_decref(v);
    }
    return ok;
}

#define NKEYS 100000

static int
lookup_key(struct ts_store *st, long i, const char *pattern, int want, struct sb *why)
{
    char key[32], expect[96];
    json_t *w;
    struct ts_tmpl *tm;
    struct tlist got = {0};
    char err[300];
    int ok;

    snprintf(key, sizeof key, "key-%ld", i);
    snprintf(expect, sizeof expect, "[\"rec\",\"key-%ld\",%ld]", i, i);
    if (strcmp(pattern, "name") == 0)
        w = json_pack("[s,s,s]", "rec", key, "?");
    else if (strcmp(pattern, "formals") == 0)
        w = json_pack("[s,s,s]", "?str", key, "?int");
    else
        w = json_pack("[s,s,I]", "?", "?", (json_int_t)i);
    tm = ts_tmpl_compile(w, err, sizeof err);
    if (tm == NULL) {
        sb_printf(why, "key %ld: template rejected: %s\n", i, err);
        return 0;
    }
    iter_all(st, tm, &got);
    ok = want ? got.n == 1 && strcmp(ts_tuple_text(got.t[0]), expect) == 0 : got.n == 0;
    if (!ok) {
        sb_printf(why, "key %ld by %s: expected %s, got ", i, pattern, want ? expect : "nothing");
        sb_tlist(why, &got);
        sb_printf(why, "\n");
    }
    free(got.t);
    ts_tmpl_free(tm);
    return ok;
}

static int
st_many(struct sb *why)
{
    struct ts_store *st = ts_store_new();
    struct ts_tuple **t = must(calloc(NKEYS, sizeof *t));
    struct ts_store_stats s;
    int ok = 1, errors = 0;
    long i;

    for (i = 0; i < NKEYS; i++) {
        char key[32], err[300];
        struct ctuple ct;
        json_t *v;

        snprintf(key, sizeof key, "key-%ld", i);
        v = json_pack("[s,s,I]", "rec", key, (json_int_t)i);
        if (ctuple_make(&ct, v, err, sizeof err) != 0) {
            fprintf(stderr, "match-test: %s\n", err);
            abort();
        }
        t[i] = ts_store_add(st, ts_buf_head(&ct.text), ts_buf_len(&ct.text), ct.off, ct.arity);
        ctuple_free(&ct);
        json_decref(v);
    }
    ok &= expect_stats(st, "100000 added", NKEYS, 0, why);
    /* Every key, by the key with a literal name. */
    for (i = 0; i < NKEYS && errors < 5; i++)
        errors += !lookup_key(st, i, "name", 1, why);
    /* Some, by the key alone and by the number alone. */
    for (i = 0; i < NKEYS && errors < 5; i += 997) {
        errors += !lookup_key(st, i, "formals", 1, why);
        errors += !lookup_key(st, i, "number", 1, why);
    }
    errors += !lookup_key(st, NKEYS - 1, "formals", 1, why);
    errors += !lookup_key(st, NKEYS, "name", 0, why);
    errors += !lookup_key(st, -1, "number", 0, why);
    /* Delete the even ones. */
    for (i = 0; i < NKEYS; i += 2)
        ts_store_del(st, t[i]);
    ok &= expect_stats(st, "even ones deleted", NKEYS / 2, 0, why);
    for (i = 0; i < NKEYS && errors < 10; i++)
        errors += !lookup_key(st, i, "name", i % 2, why);
    for (i = 0; i < NKEYS && errors < 10; i += 1009)
        errors += !lookup_key(st, i, "number", i % 2, why);
    /* The whole list of the arity is still in order. */
    {
        struct ts_tmpl *tm = tmpl("[\"rec\",\"?str\",\"?int\"]");
        struct tlist got = {0};
        long bad = -1;

        iter_all(st, tm, &got);
        for (i = 0; i < (long)got.n && bad < 0; i++)
            if (got.t[i] != t[2 * i + 1])
                bad = i;
        if (got.n != NKEYS / 2 || bad >= 0) {
            ok = 0;
            sb_printf(why, "walk of the survivors: %zu found, first out of place at %ld\n", got.n,
                      bad);
        }
        free(got.t);
        ts_tmpl_free(tm);
    }
    ts_store_stats(st, &s);
    /* Values held by one tuple take no bucket: only the arity and the shared name do. */
    if (s.buckets != 1 + 1) {
        ok = 0;
        sb_printf(why, "buckets: %zu, expected 2 (the arity and the shared name)\n", s.buckets);
    }
    ts_store_free(st);
    free(t);
    return ok && errors == 0;
}

/*
 * A range formal, or an object template, must not make a take scan the
 * space when the template has a literal too: the walk starts at the
 * literal's own list, here at its only tuple, not at the oldest tuple of
 * that length.
 */
static int
st_range_uses_index(struct sb *why)
{
    static const char *const tmpls[] = {
        "[\"job\",\"?1..5\"]",
        "[\"?1..5\",\"job\"]",
        "[\"task\",{\"a\":\"?int\"}]",
    };
    struct ts_store *st = ts_store_new();
    struct ts_tuple *job[3];
    struct ts_iter it;
    int ok = 1;
    size_t k;
    long i;

    for (i = 0; i < 1000; i++) {
        char json[64];

        snprintf(json, sizeof json, "[\"other\",%ld]", i % 5 + 1);
        put(st, json);
    }
    job[0] = put(st, "[\"job\",3]");
    job[1] = put(st, "[3,\"job\"]");
    job[2] = put(st, "[\"task\",{\"a\":1}]");
    for (k = 0; k < N_OF(tmpls); k++) {
        struct ts_tmpl *tm = tmpl(tmpls[k]);

        ts_store_iter(st, tm, &it);
        if (ts_tmpl_key(tm) < 0 || it.next != job[k]) {
            ok = 0;
            sb_printf(why, "%s: key %d, the walk starts at %s, not at the literal's tuple\n",
                      tmpls[k], ts_tmpl_key(tm), it.next != NULL ? ts_tuple_text(it.next) : "none");
        }
        if (ts_iter_next(&it) != job[k] || ts_iter_next(&it) != NULL) {
            ok = 0;
            sb_printf(why, "%s: the walk does not find exactly its tuple\n", tmpls[k]);
        }
        ts_tmpl_free(tm);
    }
    ts_store_free(st);
    return ok;
}

/* A tuple of one string: n bytes of fill, then last (if not NUL). */
static struct ts_tuple *
put_string(struct ts_store *st, size_t n, char fill, char last)
{
    char *text = must(malloc(n + 4));
    struct ts_tuple *t;
    uint32_t off = 1;

    text[0] = '[';
    text[1] = '"';
    memset(text + 2, fill, n);
    if (last != '\0')
        text[n + 1] = last;
    text[n + 2] = '"';
    text[n + 3] = ']';
    t = ts_store_add(st, text, n + 4, &off, 1);
    free(text);
    return t;
}

static int
match_one(const struct ts_tmpl *tm, const struct ts_tuple *t)
{
    return ts_tmpl_match(tm, ts_tuple_text(t), t->len, ts_tuple_off(t), t->arity, NULL);
}

/*
 * The regular expression budget (template.h): a string whose cost is just
 * within it is matched, one byte more is too costly whatever it holds, and
 * escapes count as written.  A walk adds up what it spends and stops at
 * the tuple that passes the request's budget, after the matches before it.
 */
static int
st_costly(struct sb *why)
{
    struct ts_store *st = ts_store_new();
    struct ts_tmpl *tm = tmpl("[\"?~(a|b)*a(a|b){99}c\"]");
    struct ts_tmpl *other = tmpl("[\"?~^a(.?){90}\"]");
    uint64_t per = ts_ere_trans(tm->f[0].re) + TS_ERE_BYTE;
    size_t max = (size_t)(TS_ERE_MATCH_BUDGET / per), want, i;
    struct ts_tuple *fits = put_string(st, max, 'a', 'c');
    struct ts_tuple *over = put_string(st, max + 1, 'a', 'c');
    struct ts_tuple *nl = put_string(st, 2 * ((max + 1) / 2), '\\', '\0');
    struct ts_iter it;
    struct tlist got = {0};
    char err[300];
    int ok = 1, m;

    if ((m = match_one(tm, fits)) != 1) {
        ok = 0;
        sb_printf(why, "a string of %zu bytes (the most within budget): got %d, not 1\n", max, m);
    }
    if ((m = match_one(tm, over)) != TS_MATCH_COSTLY) {
        ok = 0;
        sb_printf(why, "a string of %zu bytes: got %d, not TS_MATCH_COSTLY\n", max + 1, m);
    }
    ts_tmpl_costly(tm, ts_tuple_text(over), over->len, ts_tuple_off(over), 1, err, sizeof err);
    if (strstr(err, "too costly to match") == NULL || strstr(err, "field 1") == NULL) {
        ok = 0;
        sb_printf(why, "the message for one match: %s\n", err);
    }
    /* The escaped backslashes: half as many bytes, the same canonical length. */
    if ((m = match_one(tm, nl)) != (max % 2 ? TS_MATCH_COSTLY : 0)) {
        ok = 0;
        sb_printf(why, "%zu escaped backslashes: got %d\n", (max + 1) / 2, m);
    }
    ts_store_free(st);

    /* A walk: each tuple costs at most a match's budget; together they pass the request's. */
    st = ts_store_new();
    per = ts_ere_trans(other->f[0].re) + TS_ERE_BYTE;
    max = (size_t)(TS_ERE_MATCH_BUDGET / per);
    want = (size_t)(TS_ERE_REQUEST_BUDGET / (per * max));
    for (i = 0; i < want + 5; i++)
        put_string(st, max, 'a', '\0');
    ts_store_iter(st, other, &it);
    while ((fits = ts_iter_next(&it)) != NULL)
        tlist_add(&got, fits);
    if (got.n != want || it.costly == NULL || it.costly->seq != got.t[got.n - 1]->seq + 1) {
        ok = 0;
        sb_printf(why, "a walk over %zu tuples of %zu bytes: %zu matches (want %zu), then %s\n",
                  want + 5, max, got.n, want, it.costly != NULL ? "costly" : "nothing");
    }
    ts_tmpl_costly(other, ts_tuple_text(it.costly), it.costly->len, ts_tuple_off(it.costly), 1, err,
                   sizeof err);
    if (strstr(err, "all the tuples this request looks at") == NULL) {
        ok = 0;
        sb_printf(why, "the message for the request: %s\n", err);
    }
    free(got.t);
    ts_tmpl_free(tm);
    ts_tmpl_free(other);
    ts_store_free(st);
    return ok;
}

static const struct {
    const char *name;
    int (*fn)(struct sb *);
} store_tests[] = {
    {"store: a range or object formal beside a literal walks the literal's list",
     st_range_uses_index},
    {"store: FIFO among matches, oldest first, every kind of walk", st_fifo},
    {"store: lent tuples skipped, back in their old place after unlend", st_lend},
    {"store: duplicates oldest first; everything lent, then back", st_lend_all},
    {"store: deletion keeps the others' order", st_delete},
    {"store: deleting each tuple as the walk returns it", st_take_all},
    {"store: arities and positions are kept apart", st_shapes},
    {"tuple: ts_canon_tuple rejects non-arrays and empty arrays", st_canon_tuple_errors},
    {"store: 100000 distinct keys, lookup by key returns exactly the one", st_many},
    {"template: regular expressions within their budget, per match and per walk", st_costly},
};

/* ---- main */

int
main(int argc, char **argv)
{
    struct table match, canon, bad;
    struct mcase *mc;
    struct ts_store *shared;
    struct sb why = {0};
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: match-test DIR\n");
        return 1;
    }
    if (read_table(argv[1], "match-cases", &match) != 0 ||
        read_table(argv[1], "canon-cases", &canon) != 0 ||
        read_table(argv[1], "bad-templates", &bad) != 0)
        return 1;

    printf("1..%zu\n", 2 * match.n + canon.n + bad.n + N_OF(store_tests));

    mc = must(calloc(match.n ? match.n : 1, sizeof *mc));
    shared = ts_store_new();
    for (i = 0; i < match.n; i++) {
        mcase_prepare(&mc[i], &match.rows[i]);
        if (mc[i].usable)
            mc[i].stored = ts_store_add(shared, ts_buf_head(&mc[i].ct.text),
                                        ts_buf_len(&mc[i].ct.text), mc[i].ct.off, mc[i].ct.arity);
    }
    for (i = 0; i < match.n; i++) {
        test_matcher(&mc[i], &why);
        test_store(&mc[i], shared, &why);
    }
    for (i = 0; i < canon.n; i++)
        test_canon(&canon.rows[i], &why);
    for (i = 0; i < bad.n; i++)
        test_bad_template(&bad.rows[i], &why);
    for (i = 0; i < N_OF(store_tests); i++) {
        sb_reset(&why);
        report(store_tests[i].fn(&why), store_tests[i].name, &why);
    }

    printf("# %u of %u tests failed\n", failed, test_no);
    for (i = 0; i < match.n; i++)
        mcase_free(&mc[i]);
    free(mc);
    ts_store_free(shared);
    free(why.p);
    free_table(&match);
    free_table(&canon);
    free_table(&bad);
    return failed == 0 ? 0 : 1;
}
