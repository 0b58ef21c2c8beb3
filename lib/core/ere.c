/*
 * ere.c: POSIX extended regular expressions through TRE, read and sized
 * here first (see ere.h).
 *
 * TRE's <tre/tre.h> is included here and nowhere else: it defines its own
 * regex_t and REG_ constants, which clash with the system's <regex.h>.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tre/tre.h>

#include "buf.h"
#include "ere.h"
#include "mem.h"

/*
 * The size of TRE's automaton for a piece of expression, counted the way
 * Glushkov's construction builds it: positions (one per literal byte or
 * bracket range), the positions a match of the piece can begin and end
 * with, and the transitions from one position to the next.  Counted in
 * doubles: a nest of counted repetitions multiplies them, and is refused
 * without ever being built.
 */
struct size {
    double pos;
    double first;
    double last;
    double trans;
    double sets;  /* the sizes of the first and last sets of every node: TRE builds them all */
    int nullable; /* it can match the empty string */
    /*
     * Shapes TRE 0.8.0 matches wrongly.  empty_anchor: the piece can match
     * empty by a path through an anchor (^, $, \< or \>); TRE then loses
     * the path that skips it when it is optional or repeated, or an empty
     * alternative beside it: (^)*x, x(^a*)?b and (^|x*)y never match "yx",
     * "xb" and "ay".  counted: the piece holds a counted repetition that TRE
     * copies (all but {0,1} {1} {0,} {1,}).  alt_counted: it holds an
     * alternation with such a branch; repeated, it gives false matches:
     * ((c{2}){1}|s){2} matches "cc".
     */
    int empty_anchor;
    int counted;
    int alt_counted;
};

struct parse {
    const unsigned char *start; /* the expression */
    const unsigned char *p;     /* where reading is */
    const unsigned char *end;
    struct ts_buf out; /* the expression as TRE gets it */
    int icase;
    int depth; /* of open groups */
    int error; /* errno of the first error, 0 while none */
    char *err; /* its message */
    size_t errlen;
};

struct ts_ere {
    regex_t tre;    /* TRE's, compiled in the C locale */
    locale_t c;     /* the C locale, to match in */
    uint64_t trans; /* estimated transitions */
};

static void fail(struct parse *ps, int error, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static struct size size_leaf(double n);
static struct size size_empty(void);
static struct size size_assert(void);
static struct size size_cat(struct size a, struct size b);
static struct size size_alt(struct size a, struct size b);
static struct size size_plus(struct size a);
static struct size size_star(struct size a);
static struct size size_opt(struct size a);
static struct size size_count(struct size a, long m, long n);
static struct size parse_re(struct parse *ps);
static struct size parse_branch(struct parse *ps);
static struct size parse_piece(struct parse *ps);
static struct size parse_atom(struct parse *ps);
static void parse_repeat(struct parse *ps, struct size *a);
static int parse_count(struct parse *ps, long *v);
static void parse_bracket(struct parse *ps, unsigned char set[256]);
static int add_class(struct parse *ps, unsigned char set[256], const unsigned char *name,
                     size_t len);
static struct size emit_set(struct parse *ps, const unsigned char set[256]);
static void emit_byte(struct parse *ps, int c);
static int upper(int c);

/* The C locale's classes, which glibc's regcomp uses in that locale. */
static const struct {
    const char *name;
    const char *ranges; /* pairs of bytes: first, last */
} classes[] = {
    {"alnum", "09AZaz"},   {"alpha", "AZaz"},   {"blank", "\t\t  "}, {"cntrl", "\001\037\177\177"},
    {"digit", "09"},       {"graph", "!~"},     {"lower", "az"},     {"print", " ~"},
    {"punct", "!/:@[`{~"}, {"space", "\t\r  "}, {"upper", "AZ"},     {"xdigit", "09AFaf"},
};

struct ts_ere *
ts_ere_compile(const char *pat, size_t len, int flags, char *err, size_t errlen)
{
    struct parse ps;
    struct size s;
    struct ts_ere *re;
    double states, trans, build;
    locale_t old;
    int rc;

    if (len > TS_ERE_MAX_LEN) {
        snprintf(err, errlen, "longer than %d bytes", TS_ERE_MAX_LEN);
        errno = E2BIG;
        return NULL;
    }
    memset(&ps, 0, sizeof ps);
    ps.start = ps.p = (const unsigned char *)pat;
    ps.end = ps.start + len;
    ps.icase = (flags & TS_ERE_ICASE) != 0;
    ps.err = err;
    ps.errlen = errlen;
    s = parse_re(&ps); /* reads it all: ')' outside a group is a literal */
    if (ps.error == 0 && ps.out.failed)
        fail(&ps, ENOMEM, ps.p, "out of memory");
    if (ps.error != 0) {
        ts_buf_free(&ps.out);
        errno = ps.error;
        return NULL;
    }
    /*
     * TRE adds a final position, reached from every last position, and
     * starts from every first one.  Each position also counts once, for
     * the bookkeeping TRE does per state and byte.  Building costs about
     * one unit per element of the first and last sets and five per
     * transition.
     */
    states = s.pos + 1;
    trans = s.trans + s.first + s.last + states;
    build = s.sets + TS_ERE_BUILD_TRANS * trans;
    if (states > TS_ERE_MAX_STATES || build > TS_ERE_MAX_BUILD) {
        snprintf(err, errlen,
                 "too costly to compile: about %.0f states and %.0f units to build, over %d "
                 "or %d (a counted repetition is copied: use * or + where you can)",
                 states, build, TS_ERE_MAX_STATES, TS_ERE_MAX_BUILD);
        ts_buf_free(&ps.out);
        errno = E2BIG;
        return NULL;
    }
    re = ts_xcalloc(1, sizeof *re);
    if (re == NULL || (re->c = newlocale(LC_ALL_MASK, "C", (locale_t)0)) == (locale_t)0) {
        snprintf(err, errlen, "out of memory");
        free(re);
        ts_buf_free(&ps.out);
        errno = ENOMEM;
        return NULL;
    }
    old = uselocale(re->c);
    rc =
        tre_regncomp(&re->tre, ts_buf_head(&ps.out), ts_buf_len(&ps.out), REG_EXTENDED | REG_NOSUB);
    uselocale(old);
    ts_buf_free(&ps.out);
    if (rc != REG_OK) {
        /* What was written here TRE should read: a bug, or no memory. */
        char msg[100];

        tre_regerror(rc, &re->tre, msg, sizeof msg);
        snprintf(err, errlen, "%s", msg);
        freelocale(re->c);
        free(re);
        errno = rc == REG_ESPACE ? ENOMEM : EINVAL;
        return NULL;
    }
    re->trans = (uint64_t)trans;
    return re;
}

void
ts_ere_free(struct ts_ere *re)
{
    if (re == NULL)
        return;
    tre_regfree(&re->tre);
    freelocale(re->c);
    free(re);
}

uint64_t
ts_ere_trans(const struct ts_ere *re)
{
    return re->trans;
}

uint64_t
ts_ere_cost(const struct ts_ere *re, size_t n)
{
    return (re->trans + TS_ERE_BYTE) * (uint64_t)n;
}

int
ts_ere_match(const struct ts_ere *re, const char *s, size_t n)
{
    locale_t old;
    int rc;

    if (n > INT_MAX || memchr(s, '\0', n) != NULL)
        return 0;
    old = uselocale(re->c);
    rc = tre_regnexec(&re->tre, s, n, 0, NULL, 0);
    uselocale(old);
    return rc == REG_OK;
}

static void
fail(struct parse *ps, int error, const unsigned char *at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (ps->error != 0)
        return;
    ps->error = error;
    va_start(ap, fmt);
    n = vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < ps->errlen && error != ENOMEM)
        snprintf(ps->err + n, ps->errlen - (size_t)n, " (at byte %ld)", (long)(at - ps->start));
}

/* ---- sizes */

static struct size
size_leaf(double n)
{
    struct size s = {n, n, n, 0, 2 * n, 0, 0, 0, 0};

    return s;
}

static struct size
size_empty(void)
{
    struct size s = {0, 0, 0, 0, 0, 1, 0, 0, 0};

    return s;
}

static struct size
size_assert(void)
{
    struct size s = {0, 0, 0, 0, 0, 1, 1, 0, 0};

    return s;
}

static struct size
size_cat(struct size a, struct size b)
{
    struct size s;

    s.pos = a.pos + b.pos;
    s.first = a.first + (a.nullable ? b.first : 0);
    s.last = b.last + (b.nullable ? a.last : 0);
    s.trans = a.trans + b.trans + a.last * b.first;
    s.sets = a.sets + b.sets + s.first + s.last;
    s.nullable = a.nullable && b.nullable;
    s.empty_anchor = s.nullable && (a.empty_anchor || b.empty_anchor);
    s.counted = a.counted || b.counted;
    s.alt_counted = a.alt_counted || b.alt_counted;
    return s;
}

static struct size
size_alt(struct size a, struct size b)
{
    struct size s;

    s.pos = a.pos + b.pos;
    s.first = a.first + b.first;
    s.last = a.last + b.last;
    s.trans = a.trans + b.trans;
    s.sets = a.sets + b.sets + s.first + s.last;
    s.nullable = a.nullable || b.nullable;
    s.empty_anchor = a.empty_anchor || b.empty_anchor;
    s.counted = a.counted || b.counted;
    s.alt_counted = a.alt_counted || b.alt_counted || a.counted || b.counted;
    return s;
}

static struct size
size_plus(struct size a)
{
    a.trans += a.last * a.first;
    a.sets += a.first + a.last;
    return a;
}

static struct size
size_star(struct size a)
{
    a = size_plus(a);
    a.nullable = 1;
    return a;
}

static struct size
size_opt(struct size a)
{
    a.nullable = 1;
    a.sets += a.first + a.last;
    return a;
}

/*
 * TRE expands x{m,n} into m copies of x and then n - m nested optional
 * ones, x{2,4} as xx(x(x)?)?, and x{m,} into m copies and x*.  x{0} keeps
 * a node, counted here as x?.
 */
static struct size
size_count(struct size a, long m, long n)
{
    struct size s = size_empty(), tail;
    long i;

    if (n == 0) {
        s = size_opt(a);
        s.counted = 1;
        return s;
    }
    for (i = 0; i < m; i++)
        s = size_cat(s, a);
    if (n < 0) {
        s = size_cat(s, size_star(a));
    } else if (n > m) {
        tail = size_opt(a);
        for (i = 1; i < n - m; i++)
            tail = size_opt(size_cat(a, tail));
        s = size_cat(s, tail);
    }
    s.counted = s.counted || m > 1 || n > 1;
    return s;
}

/* ---- reading */

static struct size
parse_re(struct parse *ps)
{
    struct size s = parse_branch(ps), b;
    const unsigned char *bar;

    while (ps->error == 0 && ps->p < ps->end && *ps->p == '|') {
        bar = ps->p++;
        ts_buf_add(&ps->out, "|", 1);
        b = parse_branch(ps);
        if ((s.empty_anchor && b.nullable) || (s.nullable && b.empty_anchor))
            fail(ps, ENOTSUP, bar,
                 "an alternative that matches empty through an anchor beside another that "
                 "matches empty, such as (^|) or (^|x*), is not supported");
        s = size_alt(s, b);
    }
    return s;
}

static struct size
parse_branch(struct parse *ps)
{
    struct size s = size_empty();

    while (ps->error == 0 && ps->p < ps->end && *ps->p != '|' && !(*ps->p == ')' && ps->depth > 0))
        s = size_cat(s, parse_piece(ps));
    return s;
}

static struct size
parse_piece(struct parse *ps)
{
    struct size a = parse_atom(ps);

    if (ps->error == 0 && ps->p < ps->end &&
        (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' || *ps->p == '{'))
        parse_repeat(ps, &a);
    return a;
}

static struct size
parse_atom(struct parse *ps)
{
    const unsigned char *at = ps->p;
    unsigned char set[256];
    struct size s = size_empty();
    int c = *ps->p, d, i;

    switch (c) {
    case '*':
    case '+':
    case '?':
    case '{': fail(ps, EINVAL, at, "%c with nothing to repeat", c); return s;
    case '(':
        if (++ps->depth > 100) {
            fail(ps, ENOTSUP, at, "groups nested over 100 deep");
            return s;
        }
        ps->p++;
        ts_buf_add(&ps->out, "(", 1);
        s = parse_re(ps);
        if (ps->error != 0)
            return s;
        if (ps->p >= ps->end) {
            fail(ps, EINVAL, at, "unmatched (");
            return s;
        }
        ps->p++;
        ps->depth--;
        ts_buf_add(&ps->out, ")", 1);
        return s;
    case '[': parse_bracket(ps, set); return ps->error == 0 ? emit_set(ps, set) : s;
    case '.':
        ps->p++;
        ts_buf_add(&ps->out, ".", 1);
        return size_leaf(1);
    case '^':
    case '$':
        ps->p++;
        ts_buf_add(&ps->out, at, 1);
        return size_assert();
    case '\\': break;
    case '\0': fail(ps, EINVAL, at, "a NUL byte"); return s;
    default:
        /* A literal byte, and ')' outside a group, as glibc reads it. */
        ps->p++;
        memset(set, 0, sizeof set);
        set[c] = 1;
        if (ps->icase)
            for (i = 0; i < 256; i++)
                set[i] = upper(i) == upper(c);
        return emit_set(ps, set);
    }
    if (ps->p + 1 >= ps->end) {
        fail(ps, EINVAL, at, "trailing backslash");
        return s;
    }
    d = ps->p[1];
    ps->p += 2;
    switch (d) {
    case 'w':
    case 'W':
    case 's':
    case 'S':
        memset(set, 0, sizeof set);
        add_class(ps, set, (const unsigned char *)(d == 'w' || d == 'W' ? "alnum" : "space"), 5);
        if (d == 'w' || d == 'W')
            set['_'] = 1;
        if (d == 'W' || d == 'S')
            for (i = 0; i < 256; i++)
                set[i] = !set[i];
        set[0] = 0;
        return emit_set(ps, set);
    case '<':
    case '>': ts_buf_add(&ps->out, at, 2); return size_assert();
    case 'b':
    case 'B':
        fail(ps, ENOTSUP, at,
             "\\%c is not supported: engines differ at the ends of a string (use \\< or \\>)", d);
        return s;
    case '`':
    case '\'': fail(ps, ENOTSUP, at, "\\%c is not supported (use ^ or $)", d); return s;
    }
    if (d >= '1' && d <= '9') {
        fail(ps, ENOTSUP, at,
             "back-references (\\1 to \\9) are not supported: they take exponential time");
        return s;
    }
    if ((d >= '0' && d <= '9') || (d >= 'A' && d <= 'Z') || (d >= 'a' && d <= 'z')) {
        fail(ps, ENOTSUP, at,
             "\\%c is not supported: it means something else to each engine (write the "
             "character itself, or a bracket expression such as [0-9])",
             d);
        return s;
    }
    /* Any other escaped byte is itself. */
    memset(set, 0, sizeof set);
    set[d] = 1;
    return emit_set(ps, set);
}

static void
parse_repeat(struct parse *ps, struct size *a)
{
    const unsigned char *at = ps->p;
    long m, n;
    int c = *ps->p;
    char text[48];

    if (a->empty_anchor) {
        fail(ps, ENOTSUP, at,
             "repeating what matches empty through an anchor, such as (^)* or (a*$)?, "
             "is not supported");
        return;
    }
    if (a->alt_counted) {
        fail(ps, ENOTSUP, at,
             "repeating a group whose alternatives hold a counted repetition, such as "
             "(a{2}|b)+, is not supported");
        return;
    }
    ps->p++;
    if (c == '*') {
        *a = size_star(*a);
        ts_buf_add(&ps->out, "*", 1);
    } else if (c == '+') {
        *a = size_plus(*a);
        ts_buf_add(&ps->out, "+", 1);
    } else if (c == '?') {
        *a = size_opt(*a);
        ts_buf_add(&ps->out, "?", 1);
    } else {
        const unsigned char *q;

        /* glibc reads \, in an interval as a comma: a{\,2} is a{,2} there. */
        for (q = ps->p; q < ps->end && *q != '}'; q++) {
            if (*q == '\\') {
                fail(ps, ENOTSUP, at, "a backslash inside an interval {m,n} is not supported");
                return;
            }
        }
        if (!parse_count(ps, &m))
            m = -1;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            if (!parse_count(ps, &n))
                n = -1;
            if (m < 0)
                m = 0; /* {,n} and {,}: from 0, as glibc reads them */
        } else if (m < 0) {
            fail(ps, EINVAL, at, "{} without a count");
            return;
        } else {
            n = m;
        }
        if (ps->p >= ps->end || *ps->p != '}') {
            fail(ps, EINVAL, at, "bad interval: {m}, {m,}, {m,n} or {,n} (a literal { is \\{)");
            return;
        }
        ps->p++;
        if (m > 32767 || n > 32767) {
            fail(ps, EINVAL, at, "a count over 32767");
            return;
        }
        if (n >= 0 && m > n) {
            fail(ps, EINVAL, at, "{m,n} with m over n");
            return;
        }
        if (m > 255 || n > 255) {
            fail(ps, ENOTSUP, at, "a count over 255 (use * or +)");
            return;
        }
        if (n < 0)
            snprintf(text, sizeof text, "{%ld,}", m);
        else
            snprintf(text, sizeof text, "{%ld,%ld}", m, n);
        ts_buf_addstr(&ps->out, text);
        *a = size_count(*a, m, n);
    }
    if (ps->p < ps->end && (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' || *ps->p == '{'))
        fail(ps, ENOTSUP, ps->p,
             "a repetition right after another, such as a**, a+? or a{2}{3}, is not "
             "supported: engines read it differently");
}

/* Digits of an interval; 0 when there are none.  Big counts stop growing. */
static int
parse_count(struct parse *ps, long *v)
{
    int digits = 0;

    *v = 0;
    for (; ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; ps->p++, digits++)
        if (*v < 100000)
            *v = *v * 10 + (*ps->p - '0');
    return digits;
}

/*
 * A bracket expression, read as glibc reads it in the C locale, into the
 * set of bytes it matches.  With TS_ERE_ICASE glibc reads the expression
 * in upper case, and a byte matches when its upper case is in the set, so
 * [_-a] is out of order there, and [[:lower:]] means [[:alpha:]].
 */
static void
parse_bracket(struct parse *ps, unsigned char set[256])
{
    const unsigned char *open = ps->p, *q;
    unsigned char items[256];
    int neg = 0, first = 1, lo, hi, i;

    memset(items, 0, sizeof items);
    ps->p++;
    if (ps->p < ps->end && *ps->p == '^') {
        neg = 1;
        ps->p++;
    }
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, EINVAL, open, "unmatched [");
            return;
        }
        if (*ps->p == ']' && !first) {
            ps->p++;
            break;
        }
        first = 0;
        if (*ps->p == '[' && ps->p + 1 < ps->end &&
            (ps->p[1] == ':' || ps->p[1] == '.' || ps->p[1] == '=')) {
            for (q = ps->p + 2; q + 1 < ps->end && !(q[0] == ps->p[1] && q[1] == ']'); q++)
                continue;
            if (q + 1 >= ps->end) {
                fail(ps, EINVAL, ps->p, "unmatched [%c", ps->p[1]);
                return;
            }
            if (ps->p[1] != ':') {
                fail(ps, ENOTSUP, ps->p,
                     "collating symbols [. .] and equivalence classes [= =] are not supported");
                return;
            }
            if (add_class(ps, items, ps->p + 2, (size_t)(q - ps->p - 2)) < 0)
                return;
            ps->p = q + 2;
            if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
                fail(ps, EINVAL, ps->p, "a range that starts with a class");
                return;
            }
            continue;
        }
        lo = hi = *ps->p++;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            hi = ps->p[1];
            if (hi == '[' && ps->p + 2 < ps->end &&
                (ps->p[2] == ':' || ps->p[2] == '.' || ps->p[2] == '=')) {
                fail(ps, ps->p[2] == ':' ? EINVAL : ENOTSUP, ps->p + 1,
                     "a range must end with a plain byte");
                return;
            }
            ps->p += 2;
            if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
                fail(ps, EINVAL, ps->p, "a range that starts where another ends, such as a-c-e");
                return;
            }
        }
        if (ps->icase) {
            lo = upper(lo);
            hi = upper(hi);
        }
        if (lo > hi) {
            fail(ps, EINVAL, ps->p - 1, "a range out of order");
            return;
        }
        for (i = lo; i <= hi; i++)
            items[i] = 1;
    }
    for (i = 0; i < 256; i++)
        set[i] = items[ps->icase ? upper(i) : i] != neg;
    set[0] = 0; /* strings with a NUL never match (ere.h) */
}

static int
add_class(struct parse *ps, unsigned char set[256], const unsigned char *name, size_t len)
{
    const char *r;
    size_t k;
    int i;

    if (ps->icase && ((len == 5 && memcmp(name, "upper", 5) == 0) ||
                      (len == 5 && memcmp(name, "lower", 5) == 0))) {
        name = (const unsigned char *)"alpha";
        len = 5;
    }
    for (k = 0; k < sizeof classes / sizeof classes[0]; k++)
        if (strlen(classes[k].name) == len && memcmp(classes[k].name, name, len) == 0)
            break;
    if (k == sizeof classes / sizeof classes[0]) {
        fail(ps, EINVAL, name - 2, "unknown class [:%.*s:]", (int)(len > 20 ? 20 : len), name);
        return -1;
    }
    for (r = classes[k].ranges; *r != '\0'; r += 2)
        for (i = (unsigned char)r[0]; i <= (unsigned char)r[1]; i++)
            set[i] = 1;
    return 0;
}

/*
 * Write a set of bytes (never NUL) for TRE: one byte as a literal, more as
 * a bracket expression of ranges "x-y", which TRE reads before anything
 * else.  ']' goes first, '-' last, and '^' anywhere but first.  TRE makes
 * one position of each item.
 */
static struct size
emit_set(struct parse *ps, const unsigned char set[256])
{
    int n = 0, items = 0, only = 0, c, d;

    for (c = 1; c < 256; c++)
        if (set[c]) {
            n++;
            only = c;
        }
    if (n == 0) {
        fail(ps, ENOTSUP, ps->p, "a bracket expression that matches no byte");
        return size_empty();
    }
    if (n == 1) {
        emit_byte(ps, only);
        return size_leaf(1);
    }
    ts_buf_add(&ps->out, "[", 1);
    if (set[']']) {
        ts_buf_add(&ps->out, "]", 1);
        items++;
    }
    for (c = 1; c < 256; c++) {
        if (!set[c] || c == ']' || c == '-' || c == '^')
            continue;
        for (d = c; d + 1 < 256 && set[d + 1] && d + 1 != ']' && d + 1 != '-' && d + 1 != '^'; d++)
            continue;
        ts_buf_printf(&ps->out, "%c-%c", c, d);
        items++;
        c = d;
    }
    if (items == 0) {
        /* Only '-' and '^': '-' first is a literal too. */
        ts_buf_add(&ps->out, "-^]", 3);
        return size_leaf(2);
    }
    if (set['^']) {
        ts_buf_add(&ps->out, "^", 1);
        items++;
    }
    if (set['-']) {
        ts_buf_add(&ps->out, "-", 1);
        items++;
    }
    ts_buf_add(&ps->out, "]", 1);
    return size_leaf(items);
}

/* One byte as a literal outside brackets. */
static void
emit_byte(struct parse *ps, int c)
{
    char b[2] = {'\\', (char)c};

    if (strchr("^$.[]()|*+?{}\\", c) != NULL)
        ts_buf_add(&ps->out, b, 2);
    else
        ts_buf_add(&ps->out, b + 1, 1);
}

/* ASCII only, whatever the locale, as glibc in the C locale. */
static int
upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}
