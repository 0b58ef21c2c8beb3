/*
 * wire.c: the protocol's messages (see wire.h and ts-protocol(7)).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "scan.h"
#include "tuple.h"
#include "wire.h"

static int closes(const char *p, const char *end, const char *close);
static const char *quick_number(const char *p, const char *end, double *d);
static int batch_mark(struct ts_batch *b);
static void number_line(struct ts_buf *out, const char *head, size_t len, uint64_t n);
static int integral(const json_t *v, double lo, double hi, double *out);

void
ts_batch_free(struct ts_batch *b)
{
    ts_buf_free(&b->text);
    free(b->off);
    free(b->at);
}

/* Tuple b->n starts here.  -1 when memory ran out. */
static int
batch_mark(struct ts_batch *b)
{
    void *at = ts_xgrow(b->at, &b->cap, b->n + 1, sizeof *b->at);

    if (at == NULL)
        return -1;
    b->at = at;
    b->at[b->n].start = ts_buf_len(&b->text);
    b->at[b->n].first = b->noff;
    b->n++;
    return 0;
}

int
ts_wire_blank(const char *line, size_t len)
{
    return ts_scan_space(line, line + len) == line + len;
}

/*
 * A third of all requests are acks, and clients send them in exactly this
 * form: confirm it without building a JSON object.
 */
int
ts_wire_quick_ack(const char *line, size_t len, uint64_t *id)
{
    static const char head[] = "{\"op\":\"ack\",\"id\":";
    size_t i = sizeof head - 1;
    uint64_t n = 0;

    if (len < i + 2 || memcmp(line, head, i) != 0 || line[len - 1] != '}')
        return 0;
    /* Exactly what JSON allows: no leading zero, and within a json_int_t. */
    if (line[i] == '0' && i + 1 < len - 1)
        return 0;
    for (; i < len - 1; i++) {
        if (line[i] < '0' || line[i] > '9' || n > ((uint64_t)INT64_MAX - 9) / 10)
            return 0;
        n = n * 10 + (uint64_t)(line[i] - '0');
    }
    *id = n;
    return i > sizeof head - 1;
}

/*
 * After the request's last value: the closing characters in close, with
 * whitespace allowed around each, and then the end of the line.
 */
static int
closes(const char *p, const char *end, const char *close)
{
    for (; *close != '\0'; close++) {
        p = ts_scan_space(p, end);
        if (p == end || *p++ != *close)
            return 0;
    }
    return ts_scan_space(p, end) == end;
}

/*
 * Out in the two forms clients send, {"op":"out","tuple":T} and
 * {"op":"out","tuples":[T,...]}, with tuples of the simple subset (scan.h).
 * On 0, b may hold part of what was read: the caller frees it.
 */
int
ts_wire_quick_out(const char *line, size_t len, struct ts_batch *b)
{
    static const char one[] = "{\"op\":\"out\",\"tuple\":", many[] = "{\"op\":\"out\",\"tuples\":[";
    const char *p = NULL, *end = line + len;

    if (len > sizeof many && memcmp(line, many, sizeof many - 1) == 0) {
        for (p = line + sizeof many - 1;; p++) {
            if (batch_mark(b) < 0)
                return 0;
            p = ts_scan_tuple(p, end, &b->text, &b->off, &b->noff, &b->offcap);
            if (p == NULL)
                break;
            p = ts_scan_space(p, end);
            if (p == end || *p != ',')
                break;
        }
        return p != NULL && closes(p, end, "]}") && !b->text.failed;
    }
    if (len > sizeof one && memcmp(line, one, sizeof one - 1) == 0) {
        if (batch_mark(b) < 0)
            return 0;
        p = ts_scan_tuple(line + sizeof one - 1, end, &b->text, &b->off, &b->noff, &b->offcap);
        return p != NULL && closes(p, end, "}") && !b->text.failed;
    }
    return 0;
}

/*
 * A JSON number, exactly as the grammar has it (strtod alone would also
 * take "01", "1." or "inf").  Returns the byte after it, or NULL.
 */
static const char *
quick_number(const char *p, const char *end, double *d)
{
    const char *s = p, *digits;
    char *e;

    if (p < end && *p == '-')
        p++;
    for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
        ;
    if (p == digits || (*digits == '0' && p - digits > 1))
        return NULL;
    if (p < end && *p == '.') {
        for (digits = ++p; p < end && *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
            ;
        if (p == digits)
            return NULL;
    }
    *d = strtod(s, &e);
    /* One the long way refuses (ts_check_numbers) is left to it, for its message. */
    if (e != p || ts_check_numbers(s, (size_t)(p - s), 0, NULL, NULL, 0) < 0)
        return NULL;
    return p;
}

/*
 * In and rd as clients send them: {"op":"in","tmpl":T} with any of
 * "timeout", "count" and "all" after the template, once each.
 */
int
ts_wire_quick_ask(const char *line, size_t len, struct ts_ask *a, const char **tmpl,
                  size_t *tmpllen)
{
    static const char in[] = "{\"op\":\"in\",\"tmpl\":", rd[] = "{\"op\":\"rd\",\"tmpl\":";
    const char *p = line + sizeof in - 1, *end = line + len, *t, *tend;
    unsigned seen = 0;
    double d;

    a->timeout = -1;
    a->want = 1;
    a->all = 0;
    if (len > sizeof in && memcmp(line, in, sizeof in - 1) == 0)
        a->take = 1;
    else if (len > sizeof rd && memcmp(line, rd, sizeof rd - 1) == 0)
        a->take = 0;
    else
        return 0;
    t = ts_scan_space(p, end);
    if ((tend = ts_scan_value(t, end, NULL)) == NULL)
        return 0;
    for (p = ts_scan_space(tend, end); p < end && *p == ','; p = ts_scan_space(p, end)) {
        p = ts_scan_space(p + 1, end);
        if ((size_t)(end - p) > 10 && memcmp(p, "\"timeout\":", 10) == 0 && !(seen & 1)) {
            p = quick_number(ts_scan_space(p + 10, end), end, &a->timeout);
            if (p == NULL || !(a->timeout >= 0) || a->timeout > TS_TIMEOUT_MAX)
                return 0;
            seen |= 1;
        } else if ((size_t)(end - p) > 8 && memcmp(p, "\"count\":", 8) == 0 && !(seen & 2)) {
            const char *n = ts_scan_space(p + 8, end);

            /*
             * An integer that fits jansson's: it reads 1.0 or 1e0 as a real,
             * and refuses integers it cannot hold, and says so.
             */
            p = quick_number(n, end, &d);
            if (p == NULL || !(d >= 1) || strcspn(n, ".eE") < (size_t)(p - n) || p - n > 18)
                return 0;
            a->want = d > TS_COUNT_MAX ? TS_COUNT_MAX : (long)d;
            seen |= 2;
        } else if ((size_t)(end - p) > 6 && memcmp(p, "\"all\":", 6) == 0 && !(seen & 4)) {
            p = ts_scan_space(p + 6, end);
            if ((size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0)
                a->all = 1, p += 4;
            else if ((size_t)(end - p) >= 5 && memcmp(p, "false", 5) == 0)
                p += 5;
            else
                return 0;
            seen |= 4;
        } else {
            return 0;
        }
    }
    if (!closes(p, end, "}"))
        return 0;
    *tmpl = t;
    *tmpllen = (size_t)(tend - t);
    return 1;
}

/*
 * A whole number from lo to hi, written as an integer or as a real with an
 * integral value: 2.0 is 2 in a request as it is in a tuple.
 */
static int
integral(const json_t *v, double lo, double hi, double *out)
{
    double d;

    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return 0;
    if (d != floor(d) || d < lo || d > hi)
        return 0;
    *out = d;
    return 1;
}

int
ts_wire_version_of(const json_t *req, char *err, size_t errlen)
{
    const json_t *v = json_object_get(req, "v");
    double d;

    if (v != NULL && !(integral(v, TS_PROTO_VERSION, TS_PROTO_VERSION, &d))) {
        snprintf(err, errlen, "unsupported protocol version (this daemon speaks %d)",
                 TS_PROTO_VERSION);
        return -1;
    }
    return 0;
}

int
ts_wire_ack_of(const json_t *req, uint64_t *id, char *err, size_t errlen)
{
    const json_t *v = json_object_get(req, "id");
    double d;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *id = (uint64_t)json_integer_value(v); /* exactly, beyond a double's 2^53 */
        return 0;
    }
    if (!integral(v, 0, 9223372036854774784.0, &d)) { /* the last double below 2^63 */
        snprintf(err, errlen, "ack needs an \"id\", a non-negative integer");
        return -1;
    }
    *id = (uint64_t)d;
    return 0;
}

int
ts_wire_is_ack(const char *line, size_t len, uint64_t *id)
{
    json_t *req, *op;
    char err[100];
    int rc;

    if (ts_wire_quick_ack(line, len, id))
        return 1;
    if (strstr(line, "\"ack\"") == NULL)
        return 0;
    /* Anything but a well-formed ack waits its turn, so its error comes in order. */
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    op = json_object_get(req, "op");
    rc = json_is_string(op) && strcmp(json_string_value(op), "ack") == 0 &&
         ts_check_numbers(line, len, 0, NULL, err, sizeof err) == 0 &&
         ts_wire_version_of(req, err, sizeof err) == 0 &&
         ts_wire_ack_of(req, id, err, sizeof err) == 0;
    json_decref(req);
    return rc;
}

int
ts_wire_out_of(const json_t *req, struct ts_batch *b, char *err, size_t errlen)
{
    json_t *one = json_object_get(req, "tuple"), *many = json_object_get(req, "tuples");
    char why[200];
    size_t n, i;

    if ((one == NULL) == (many == NULL)) {
        snprintf(err, errlen, "out needs exactly one of \"tuple\" and \"tuples\"");
        return -1;
    }
    if (many != NULL && !json_is_array(many)) {
        snprintf(err, errlen, "\"tuples\" must be an array of tuples");
        return -1;
    }
    n = one != NULL ? 1 : json_array_size(many);
    for (i = 0; i < n; i++) {
        json_t *t = one != NULL ? one : json_array_get(many, i);
        size_t arity = json_array_size(t);
        uint32_t *off;

        if (batch_mark(b) < 0 ||
            (off = ts_xgrow(b->off, &b->offcap, b->noff + arity + 1, sizeof *b->off)) == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        b->off = off;
        if (ts_canon_tuple(t, &b->text, b->off + b->noff, why, sizeof why) < 0) {
            if (one != NULL)
                snprintf(err, errlen, "%s", why);
            else
                snprintf(err, errlen, "tuple %zu: %s", i + 1, why);
            return -1;
        }
        b->noff += arity;
    }
    return 0;
}

int
ts_wire_ask_of(const json_t *req, int take, struct ts_ask *a, char *err, size_t errlen)
{
    json_t *tmo = json_object_get(req, "timeout"), *count = json_object_get(req, "count");
    json_t *all = json_object_get(req, "all");

    a->take = take;
    a->timeout = -1;
    a->want = 1;
    a->all = json_is_true(all);
    if (tmo != NULL && !json_is_null(tmo)) {
        a->timeout = json_number_value(tmo);
        if (!json_is_number(tmo) || !(a->timeout >= 0) || a->timeout > TS_TIMEOUT_MAX) {
            snprintf(err, errlen, "\"timeout\" must be a number of seconds from 0 to 1e9");
            return -1;
        }
    }
    if (count != NULL) {
        double d;

        if (!integral(count, 1, HUGE_VAL, &d)) {
            snprintf(err, errlen, "\"count\" must be a positive integer");
            return -1;
        }
        a->want = d > TS_COUNT_MAX ? TS_COUNT_MAX : (long)d;
    }
    if (all != NULL && !json_is_boolean(all)) {
        snprintf(err, errlen, "\"all\" must be true or false");
        return -1;
    }
    if (json_object_get(req, "tmpl") == NULL) {
        snprintf(err, errlen, "%s needs a \"tmpl\"", take ? "in" : "rd");
        return -1;
    }
    return 0;
}

int
ts_wire_put_of(const json_t *req, double *ttl, long *pid, char *err, size_t errlen)
{
    json_t *t = json_object_get(req, "ttl"), *p = json_object_get(req, "pid");

    *ttl = -1;
    *pid = 0;
    if (t != NULL && !json_is_null(t)) {
        *ttl = json_number_value(t);
        if (!json_is_number(t) || !(*ttl >= 0) || *ttl > TS_TIMEOUT_MAX) {
            snprintf(err, errlen, "\"ttl\" must be a number of seconds from 0 to 1e9");
            return -1;
        }
    }
    if (p != NULL) {
        if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > INT32_MAX) {
            snprintf(err, errlen, "\"pid\" must be a process ID, a positive integer");
            return -1;
        }
        *pid = (long)json_integer_value(p);
    }
    return 0;
}

/* head, a number, and the end of the object: the lines written most often. */
static void
number_line(struct ts_buf *out, const char *head, size_t len, uint64_t n)
{
    ts_buf_add(out, head, len);
    ts_buf_add_u64(out, n);
    ts_buf_add(out, "}\n", 2);
}

void
ts_wire_ok_n(struct ts_buf *out, uint64_t n)
{
    number_line(out, "{\"ok\":true,\"n\":", 15, n);
}

void
ts_wire_ok_pid(struct ts_buf *out, long pid)
{
    number_line(out, "{\"ok\":true,\"pid\":", 17, (uint64_t)pid);
}

void
ts_wire_error(struct ts_buf *out, const char *code, const char *msg)
{
    /* A message may quote the client's bytes, cut anywhere: keep it valid UTF-8. */
    json_t *reply = json_pack("{s:b, s:s, s:o}", "ok", 0, "code", code, "error",
                              ts_text_string(msg, strlen(msg)));

    if (reply != NULL)
        ts_wire_json(out, reply);
    json_decref(reply);
}

void
ts_wire_job_tuple(struct ts_buf *out, uint64_t id, unsigned attempt, uint64_t seq, const char *text,
                  size_t len)
{
    ts_buf_add(out, "{\"id\":", 6);
    ts_buf_add_u64(out, id);
    ts_buf_addstr(out, ",\"attempt\":");
    ts_buf_add_u64(out, attempt);
    ts_buf_addstr(out, ",\"seq\":");
    ts_buf_add_u64(out, seq);
    ts_buf_add(out, ",\"tuple\":", 9);
    ts_buf_add(out, text, len);
    ts_buf_add(out, "}\n", 2);
}

void
ts_wire_json(struct ts_buf *out, const json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    char *p = ts_buf_space(out, n + 1);

    if (p == NULL || n == 0)
        return;
    json_dumpb(v, p, n, JSON_COMPACT | JSON_ENCODE_ANY);
    p[n] = '\n';
    ts_buf_commit(out, n + 1);
}

void
ts_wire_ack(struct ts_buf *out, uint64_t id)
{
    number_line(out, "{\"op\":\"ack\",\"id\":", 17, id);
}

/*
 * The daemon writes T in canonical text, so most tuple lines can be taken
 * as they are (scan.h); others are parsed and written again.
 */
int
ts_wire_read_tuple(const char *line, size_t len, struct ts_buf *text, uint32_t **off,
                   size_t *offcap, uint32_t *arity, int64_t *id)
{
    static const char idk[] = "{\"id\":", tk[] = "\"tuple\":";
    const char *p = line, *end = line + len;
    size_t noff = 0;
    json_t *reply, *t;
    uint32_t *grown;

    *id = -1;
    ts_buf_reset(text);
    if (len > 1 && line[len - 1] == '}') {
        if (strncmp(p, idk, sizeof idk - 1) == 0) {
            const char *digits = p += sizeof idk - 1;

            for (*id = 0; p < end && *p >= '0' && *p <= '9' && p - digits < 18; p++)
                *id = *id * 10 + (*p - '0');
            p = p < end && *p == ',' ? p + 1 : end; /* else the long way */
        } else {
            p++;
        }
        if (end - p > (long)sizeof tk && strncmp(p, tk, sizeof tk - 1) == 0 &&
            ts_scan_tuple(p + sizeof tk - 1, end - 1, text, off, &noff, offcap) == end - 1) {
            *arity = (uint32_t)noff;
            return text->failed ? -1 : 1;
        }
    }
    /* The long way. */
    reply = json_loadb(line, len, 0, NULL);
    t = json_object_get(reply, "tuple");
    if (t == NULL) {
        json_decref(reply);
        return reply != NULL ? 0 : -1;
    }
    ts_buf_reset(text);
    grown = ts_xgrow(*off, offcap, json_array_size(t) + 1, sizeof **off);
    if (grown == NULL || ts_canon_tuple(t, text, grown, NULL, 0) < 0 || text->failed) {
        if (grown != NULL)
            *off = grown;
        json_decref(reply);
        return -1;
    }
    *off = grown;
    *arity = (uint32_t)json_array_size(t);
    *id = json_is_integer(json_object_get(reply, "id"))
              ? json_integer_value(json_object_get(reply, "id"))
              : -1;
    json_decref(reply);
    return 1;
}
