/*
 * placeholder.c: ts-eval's placeholders (see placeholder.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "placeholder.h"
#include "tuple.h"

/* A nonzero index, maybe negative, of at most 9 digits; NULL if there is none at p. */
static const char *
index_at(const char *p, long *v)
{
    const char *d = p + (*p == '-');
    char *end;

    if (*d < '1' || *d > '9')
        return NULL;
    *v = strtol(p, &end, 10);
    return end - d <= 9 ? end : NULL;
}

enum ts_ph
ts_placeholder(const char *s, size_t *len, struct ts_ph_arg *a)
{
    const char *end;

    a->field = a->line = a->col = 0;
    if (s[0] != '{')
        return TS_PH_NONE;
    if (s[1] == '}') {
        *len = 2;
        return TS_PH_TUPLE;
    }
    if (strncmp(s, "{status}", 8) == 0) {
        *len = 8;
        return TS_PH_STATUS;
    }
    if (strncmp(s, "{stdout", 7) == 0) {
        end = s + 7;
        if (*end == ':' && (end = index_at(end + 1, &a->line)) != NULL && *end == ':')
            end = index_at(end + 1, &a->col);
        if (end == NULL || *end != '}') {
            a->line = a->col = 0;
            return TS_PH_NONE;
        }
        *len = (size_t)(end - s) + 1;
        return TS_PH_STDOUT;
    }
    for (end = s + 1; *end >= '0' && *end <= '9'; end++)
        ;
    if (end > s + 1 && *end == '}' && end - s < 12) {
        a->field = strtol(s + 1, NULL, 10);
        *len = (size_t)(end - s) + 1;
        return TS_PH_FIELD;
    }
    return TS_PH_NONE;
}

/* Item k (from 1, or from -1 for the last) of the n items of a list. */
static long
pick(long k, long n)
{
    return k > 0 ? k - 1 : n + k;
}

void
ts_stdout_part(const char *out, size_t n, const struct ts_ph_arg *a, const char **part,
               size_t *partlen)
{
    const char *p = out, *end = out + n, *nl;
    long lines = 0, want, i;

    if (n > 0 && end[-1] == '\n')
        end--;
    *part = out;
    *partlen = (size_t)(end - out);
    if (a->line == 0)
        return;
    *partlen = 0;
    if (end == out)
        return;
    for (p = out; p <= end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        lines++;
        if (nl == NULL)
            break;
    }
    want = pick(a->line, lines);
    if (want < 0 || want >= lines)
        return;
    for (p = out, i = 0; i < want; i++)
        p = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
    nl = memchr(p, '\n', (size_t)(end - p));
    end = nl != NULL ? nl : end;
    if (a->col == 0) {
        *part = p;
        *partlen = (size_t)(end - p);
        return;
    }
    /* Fields: runs of anything but blanks, as awk splits by default. */
    {
        const char *f[2] = {NULL, NULL};
        long nf = 0, pass;

        for (pass = 0; pass < 2; pass++) {
            const char *q = p;
            long k = 0;

            while (q < end) {
                const char *start;

                while (q < end && (*q == ' ' || *q == '\t'))
                    q++;
                if (q == end)
                    break;
                start = q;
                while (q < end && *q != ' ' && *q != '\t')
                    q++;
                if (pass == 1 && k == want) {
                    f[0] = start;
                    f[1] = q;
                }
                k++;
            }
            if (pass == 0) {
                nf = k;
                want = pick(a->col, nf);
                if (want < 0 || want >= nf)
                    return;
            }
        }
        *part = f[0];
        *partlen = (size_t)(f[1] - f[0]);
    }
}

int
ts_has_placeholder(const char *word)
{
    struct ts_ph_arg a;
    size_t len;

    for (; *word != '\0'; word++) {
        if (word[0] == '{' && word[1] == '{')
            return 1; /* the escape counts: the word is text */
        if (ts_placeholder(word, &len, &a) != TS_PH_NONE)
            return 1;
    }
    return 0;
}

int
ts_placeholders_check(const char *const *argv, const char *const *put, size_t take_arity, char *err,
                      size_t errlen)
{
    int pass;

    for (pass = 0; pass < 2; pass++) {
        const char *const *w = pass == 0 ? argv : put;

        for (; w != NULL && *w != NULL; w++) {
            const char *s;

            for (s = *w; *s != '\0'; s++) {
                struct ts_ph_arg a;
                size_t len;
                long field;
                enum ts_ph kind;

                if (s[0] == '{' && s[1] == '{') {
                    s++;
                    continue;
                }
                kind = ts_placeholder(s, &len, &a);
                field = a.field;
                if (kind == TS_PH_NONE)
                    continue;
                if (pass == 0 && (kind == TS_PH_STATUS || kind == TS_PH_STDOUT)) {
                    snprintf(err, errlen, "placeholder %.*s can only be used in --put", (int)len,
                             s);
                    return -1;
                }
                if ((kind == TS_PH_FIELD || kind == TS_PH_TUPLE) && take_arity == 0) {
                    snprintf(err, errlen, "placeholder %.*s needs --take", (int)len, s);
                    return -1;
                }
                if (kind == TS_PH_FIELD && (field < 1 || (size_t)field > take_arity)) {
                    snprintf(err, errlen, "placeholder %.*s but --take has %zu field%s", (int)len,
                             s, take_arity, take_arity == 1 ? "" : "s");
                    return -1;
                }
                s += len - 1;
            }
        }
    }
    return 0;
}

/* A value as command-line text: strings raw, anything else compact JSON. */
static void
value_text(const json_t *v, struct ts_buf *out)
{
    if (json_is_string(v))
        ts_buf_add(out, json_string_value(v), json_string_length(v));
    else
        ts_canon(v, out);
}

void
ts_placeholder_fill(const char *word, const json_t *tuple, int status, const char *out_text,
                    size_t out_len, struct ts_buf *out)
{
    const char *s;

    for (s = word; *s != '\0'; s++) {
        struct ts_ph_arg a;
        const char *part;
        size_t len, partlen;

        if (s[0] == '{' && s[1] == '{') {
            ts_buf_add(out, "{", 1);
            s++;
            continue;
        }
        switch (ts_placeholder(s, &len, &a)) {
        case TS_PH_NONE: ts_buf_add(out, s, 1); continue;
        case TS_PH_FIELD: value_text(json_array_get(tuple, (size_t)a.field - 1), out); break;
        case TS_PH_TUPLE: ts_canon(tuple, out); break;
        case TS_PH_STATUS: ts_buf_printf(out, "%d", status); break;
        case TS_PH_STDOUT:
            ts_stdout_part(out_text, out_len, &a, &part, &partlen);
            ts_buf_add(out, part, partlen);
            break;
        }
        s += len - 1;
    }
}

/*
 * --sh
 * ----
 * The script is read as sh reads it, as far as quoting goes, so that each
 * placeholder can be replaced by its positional parameter in a form that
 * stays one word, unsplit and unglobbed, where it stands:
 *
 *   outside quotes                 "$N"
 *   inside '...'                   '"$N"'   (close, the parameter, reopen)
 *   inside "...", a here-document  $N
 *
 * ($N is ${N} from 10 on.)
 * Backslashes, comments, $( ), backquotes and the here-documents of << and
 * <<- are followed; inside $( ) and backquotes quoting starts afresh, as it
 * does for sh.  A placeholder in a here-document whose delimiter is quoted
 * cannot be expanded at all, and is an error.
 */
enum sh_ctx { SH_TOP, SH_SQ, SH_DQ, SH_BQ, SH_PAREN };

#define SH_DEPTH 64
#define SH_DOCS 16

struct sh_doc {
    char *delim;
    int quoted, tabs;
};

struct sh_state {
    struct ts_buf out;
    char **params; /* the placeholders, by parameter number - 1 */
    size_t nparams;
    enum sh_ctx stack[SH_DEPTH];
    int depth;
    struct sh_doc docs[SH_DOCS]; /* here-documents whose bodies come after this line */
    int ndocs;
};

static enum sh_ctx
sh_top(const struct sh_state *st)
{
    return st->depth > 0 ? st->stack[st->depth - 1] : SH_TOP;
}

static void
sh_push(struct sh_state *st, enum sh_ctx c)
{
    if (st->depth < SH_DEPTH)
        st->stack[st->depth++] = c;
}

static void
sh_pop(struct sh_state *st)
{
    if (st->depth > 0)
        st->depth--;
}

/* The parameter number of a placeholder, a new one the first time. */
static size_t
sh_param(struct sh_state *st, const char *ph, size_t len)
{
    size_t i;

    for (i = 0; i < st->nparams; i++)
        if (strlen(st->params[i]) == len && memcmp(st->params[i], ph, len) == 0)
            return i + 1;
    st->params = ts_xrealloc(st->params, (st->nparams + 2) * sizeof *st->params);
    st->params[st->nparams++] = ts_xstrndup(ph, len);
    st->params[st->nparams] = NULL;
    return st->nparams;
}

/* Positional parameter n: $1 to $9, then ${10} and on. */
static void
sh_ref(struct ts_buf *out, size_t n)
{
    ts_buf_printf(out, n < 10 ? "$%zu" : "${%zu}", n);
}

/*
 * The worker fills in the placeholders of the script it is given, so every
 * { that would start one (or the {{ escape) is written {{: it gets the
 * script back exactly.
 */
static char *
sh_escape(const char *p, size_t n)
{
    struct ts_buf b = TS_BUF_INIT;
    char *text = ts_xstrndup(p, n), *out;
    struct ts_ph_arg a;
    size_t i, len;

    for (i = 0; i < n; i++) {
        if (text[i] == '{' &&
            (text[i + 1] == '{' || ts_placeholder(text + i, &len, &a) != TS_PH_NONE))
            ts_buf_add(&b, "{", 1);
        ts_buf_add(&b, text + i, 1);
    }
    out = ts_xstrndup(ts_buf_head(&b), ts_buf_len(&b));
    ts_buf_free(&b);
    free(text);
    return out;
}

/* A placeholder at s, of a kind a command may hold: its length, or 0. */
static size_t
sh_placeholder(const char *s, char *canon, size_t canonlen)
{
    struct ts_ph_arg a;
    size_t len;

    switch (ts_placeholder(s, &len, &a)) {
    case TS_PH_FIELD: snprintf(canon, canonlen, "{%ld}", a.field); return len;
    case TS_PH_TUPLE: snprintf(canon, canonlen, "{}"); return len;
    default: return 0;
    }
}

static int
sh_word_start(const char *script, const char *p)
{
    return p == script || strchr(" \t\n;&|()<>", p[-1]) != NULL;
}

/* After << or <<-: note the here-document; returns where its delimiter word ends. */
static const char *
sh_heredoc(struct sh_state *st, const char *p)
{
    struct sh_doc *d = st->ndocs < SH_DOCS ? &st->docs[st->ndocs] : NULL;
    struct ts_buf delim = TS_BUF_INIT;
    int quoted = 0, tabs = 0;
    char q = 0;

    if (*p == '-') {
        tabs = 1;
        ts_buf_add(&st->out, p++, 1);
    }
    while (*p == ' ' || *p == '\t')
        ts_buf_add(&st->out, p++, 1);
    for (; *p != '\0'; p++) {
        if (q == 0 && strchr(" \t\n;&|()<>", *p) != NULL)
            break;
        ts_buf_add(&st->out, p, 1);
        if (q != 0 && *p == q) {
            q = 0;
        } else if (q == 0 && (*p == '\'' || *p == '"')) {
            q = *p;
            quoted = 1;
        } else if (q != '\'' && *p == '\\' && p[1] != '\0') {
            quoted = 1;
            ts_buf_add(&st->out, ++p, 1);
            ts_buf_add(&delim, p, 1);
        } else {
            ts_buf_add(&delim, p, 1);
        }
    }
    if (d != NULL) {
        d->delim = ts_xstrndup(ts_buf_head(&delim), ts_buf_len(&delim));
        d->quoted = quoted;
        d->tabs = tabs;
        st->ndocs++;
    }
    ts_buf_free(&delim);
    return p;
}

/* At the newline that ends a line with here-documents: copy their bodies.  NULL on error. */
static const char *
sh_bodies(struct sh_state *st, const char *p, char *err, size_t errlen)
{
    int i;

    for (i = 0; i < st->ndocs; i++) {
        struct sh_doc *d = &st->docs[i];

        while (*p != '\0') {
            const char *line = p, *eol = strchr(p, '\n'), *q = line;

            if (eol == NULL)
                eol = p + strlen(p);
            if (d->tabs)
                while (*q == '\t')
                    q++;
            if ((size_t)(eol - q) == strlen(d->delim) &&
                memcmp(q, d->delim, (size_t)(eol - q)) == 0) {
                ts_buf_add(&st->out, line, (size_t)(eol - line));
                p = eol;
                if (*p == '\n')
                    ts_buf_add(&st->out, p++, 1);
                break;
            }
            for (q = line; q < eol; q++) {
                char canon[32];
                size_t len;

                if (q[0] == '{' && q[1] == '{') {
                    ts_buf_add(&st->out, "{", 1);
                    q++;
                } else if ((len = sh_placeholder(q, canon, sizeof canon)) > 0) {
                    if (d->quoted) {
                        snprintf(err, errlen,
                                 "--sh: placeholder %.*s in a here-document with a quoted "
                                 "delimiter, where nothing is expanded",
                                 (int)len, q);
                        return NULL;
                    }
                    sh_ref(&st->out, sh_param(st, canon, strlen(canon)));
                    q += len - 1;
                } else if (!d->quoted && *q == '\\' && q + 1 < eol) {
                    ts_buf_add(&st->out, q, 2);
                    q++;
                } else {
                    ts_buf_add(&st->out, q, 1);
                }
            }
            p = eol;
            if (*p == '\n')
                ts_buf_add(&st->out, p++, 1);
        }
    }
    for (i = 0; i < st->ndocs; i++)
        free(st->docs[i].delim);
    st->ndocs = 0;
    return p;
}

char *
ts_sh_script(const char *script, char ***params, char *err, size_t errlen)
{
    struct sh_state st;
    const char *p;
    char *text;
    int i;

    memset(&st, 0, sizeof st);
    for (p = script; *p != '\0'; p++) {
        enum sh_ctx c = sh_top(&st);
        char canon[32];
        size_t len;

        if (p[0] == '{' && p[1] == '{') {
            ts_buf_add(&st.out, "{", 1);
            p++;
            continue;
        }
        if ((len = sh_placeholder(p, canon, sizeof canon)) > 0) {
            size_t n = sh_param(&st, canon, strlen(canon));

            if (c == SH_SQ)
                ts_buf_addstr(&st.out, "'\"");
            else if (c != SH_DQ)
                ts_buf_addstr(&st.out, "\"");
            sh_ref(&st.out, n);
            if (c == SH_SQ)
                ts_buf_addstr(&st.out, "\"'");
            else if (c != SH_DQ)
                ts_buf_addstr(&st.out, "\"");
            p += len - 1;
            continue;
        }
        if (c == SH_SQ) {
            ts_buf_add(&st.out, p, 1);
            if (*p == '\'')
                sh_pop(&st);
            continue;
        }
        if (*p == '\\' && p[1] != '\0') {
            ts_buf_add(&st.out, p, 2);
            p++;
            continue;
        }
        if (*p == '$' && p[1] == '(') {
            ts_buf_add(&st.out, p, 2);
            p++;
            sh_push(&st, SH_PAREN);
            continue;
        }
        if (*p == '`') {
            ts_buf_add(&st.out, p, 1);
            if (c == SH_BQ)
                sh_pop(&st);
            else
                sh_push(&st, SH_BQ);
            continue;
        }
        if (c == SH_DQ) {
            ts_buf_add(&st.out, p, 1);
            if (*p == '"')
                sh_pop(&st);
            continue;
        }
        /* Outside quotes: at the top, in $( ) or in backquotes. */
        if (*p == '#' && sh_word_start(script, p)) {
            len = strcspn(p, "\n");
            ts_buf_add(&st.out, p, len);
            p += len - 1;
            continue;
        }
        ts_buf_add(&st.out, p, 1);
        if (*p == '\'')
            sh_push(&st, SH_SQ);
        else if (*p == '"')
            sh_push(&st, SH_DQ);
        else if (*p == '(' && c == SH_PAREN)
            sh_push(&st, SH_PAREN);
        else if (*p == ')' && c == SH_PAREN)
            sh_pop(&st);
        else if (*p == '<' && p[1] == '<' && p[2] != '<' && (p == script || p[-1] != '<')) {
            ts_buf_add(&st.out, ++p, 1);
            p = sh_heredoc(&st, p + 1) - 1;
        } else if (*p == '\n' && st.ndocs > 0) {
            p = sh_bodies(&st, p + 1, err, errlen);
            if (p == NULL)
                goto fail;
            p--;
        }
    }
    for (i = 0; i < st.ndocs; i++)
        free(st.docs[i].delim);
    text = sh_escape(ts_buf_head(&st.out), ts_buf_len(&st.out));
    ts_buf_free(&st.out);
    if (st.params == NULL)
        st.params = ts_xcalloc(1, sizeof *st.params);
    *params = st.params;
    return text;
fail:
    for (i = 0; i < st.ndocs; i++)
        free(st.docs[i].delim);
    ts_buf_free(&st.out);
    ts_free_words(st.params);
    return NULL;
}

void
ts_free_words(char **words)
{
    size_t i;

    for (i = 0; words != NULL && words[i] != NULL; i++)
        free(words[i]);
    free(words);
}

/* The characters that make a command word shell syntax. */
#define SH_SYNTAX " \t\n|&;<>()$`\\\"'*?[]"

int
ts_shell_hazard(const char *const *argv, char *err, size_t errlen)
{
    static const char *const shells[] = {"sh", "bash", "dash", "ksh", "mksh", "zsh", "ash", "yash"};
    const char *base, *script = NULL;
    size_t i, k;
    int c = 0;

    if (argv[0] == NULL)
        return 0;
    if (ts_has_placeholder(argv[0]) && strpbrk(argv[0], SH_SYNTAX) != NULL) {
        snprintf(err, errlen,
                 "the command '%s' has a placeholder in shell syntax, but no shell reads it: "
                 "write it as --sh '%s', which passes the values as \"$1\", \"$2\", ...",
                 argv[0], argv[0]);
        return -1;
    }
    base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
    for (k = 0; k < sizeof shells / sizeof shells[0] && strcmp(base, shells[k]) != 0; k++)
        ;
    if (k == sizeof shells / sizeof shells[0])
        return 0;
    /* sh [-options] [-o option] -c SCRIPT ...: the first operand after the options. */
    for (i = 1; argv[i] != NULL; i++) {
        const char *w = argv[i];

        if (strcmp(w, "--") == 0) {
            i++;
            break;
        }
        if ((w[0] != '-' && w[0] != '+') || w[1] == '\0')
            break;
        if (w[1] == 'o' && w[2] == '\0') {
            if (argv[i + 1] == NULL)
                break;
            i++;
            continue;
        }
        if (w[0] == '-' && w[1] != '-' && strchr(w + 1, 'c') != NULL)
            c = 1;
    }
    if (c && argv[i] != NULL)
        script = argv[i];
    if (script != NULL && ts_has_placeholder(script)) {
        snprintf(err, errlen,
                 "a placeholder in the script of %s -c would be run as shell code: pass the "
                 "value as an argument (\"$1\") or use --sh, which does",
                 base);
        return -1;
    }
    return 0;
}
