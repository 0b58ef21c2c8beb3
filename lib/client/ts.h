/*
 * ts.h: libts, the client library of ts (Linda tuple spaces for the shell).
 *
 * Everything a C or C++ program needs to take part: find and connect to a
 * daemon, put tuples, take or read them by template, and confirm what it
 * took.  See libts(3) for a walk-through and an example worker.
 *
 * Conventions:
 *   - Functions that talk to the daemon return one of the TS_EXIT_ statuses
 *     below (the same table every ts command uses as its exit status) and,
 *     when it is not TS_EXIT_OK, fill err (errlen bytes) with a one-line
 *     message.  Nothing in libts prints, exits or raises a signal; running
 *     out of memory is TS_EXIT_FAIL with "out of memory".
 *   - Tuples and templates are jansson values (json_t).  Functions borrow
 *     the values they are given and return new references, as jansson's
 *     own functions do.
 *   - A connection is not thread-safe; use one per thread.
 */
#ifndef TS_H
#define TS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TS_API __attribute__((visibility("default")))
#else
#define TS_API
#endif

#define TS_EXIT_OK 0      /* done */
#define TS_EXIT_NOMATCH 1 /* no matching tuple within the timeout */
#define TS_EXIT_USAGE 2   /* usage error, bad tuple, template or request */
#define TS_EXIT_CONN 3    /* the daemon cannot be reached, or the connection broke */
#define TS_EXIT_FAIL 4    /* the daemon refused the request for another reason (such as "costly") */

/* Longest socket path: sun_path less its NUL. */
#define TS_PATH_MAX 107

/* ---- Connecting */

struct ts_conn;

/*
 * The socket path: given if not NULL, else $TS_SOCKET, else
 * $XDG_RUNTIME_DIR/ts/default, else /tmp/ts-UID/default.  out has room for
 * TS_PATH_MAX + 1 bytes.  TS_EXIT_USAGE when the path is too long.
 */
TS_API int ts_socket_path(const char *given, char *out, char *err, size_t errlen);

/* Connect to the daemon at path; NULL with err (the status is TS_EXIT_CONN). */
TS_API struct ts_conn *ts_conn_open(const char *path, char *err, size_t errlen);
/* Close a connection; tuples taken on it and not confirmed go back to the space. */
TS_API void ts_conn_close(struct ts_conn *conn);
/* The connection's socket, for poll(2). */
TS_API int ts_conn_fd(const struct ts_conn *conn);

/* ---- Requests and replies, one JSON line each (ts-protocol(7)) */

/* Send one request. */
TS_API int ts_conn_send(struct ts_conn *conn, const json_t *req, char *err, size_t errlen);
/* Send one request already written as JSON text, its newline included. */
TS_API int ts_conn_send_text(struct ts_conn *conn, const char *text, size_t n, char *err,
                             size_t errlen);
/* Receive one reply line as a new reference in *reply. */
TS_API int ts_conn_recv(struct ts_conn *conn, json_t **reply, char *err, size_t errlen);
/*
 * Receive one reply line as it came, as text without its newline (and
 * NUL-terminated), valid until the next call on conn: for a program that
 * passes lines on, such as the event stream (ts-protocol(7), follow).
 */
TS_API int ts_conn_recv_text(struct ts_conn *conn, const char **line, size_t *len, char *err,
                             size_t errlen);
/* Is a complete reply line already buffered? */
TS_API int ts_conn_ready(const struct ts_conn *conn);
/* The status a final reply line ({"ok":...}) stands for, with its message in err. */
TS_API int ts_conn_status(const json_t *reply, char *err, size_t errlen);
/* Send req and receive its final reply (for requests that produce no tuples). */
TS_API int ts_conn_call(struct ts_conn *conn, const json_t *req, json_t **reply, char *err,
                        size_t errlen);

/* ---- Putting */

/* Put one tuple (a non-empty JSON array). */
TS_API int ts_out(struct ts_conn *conn, const json_t *tuple, char *err, size_t errlen);

/* How tuples are put, beyond their fields (ts-tuples(7), Leases). */
struct ts_out_opts {
    double ttl;           /* seconds they live, fractions allowed; 0: nothing is put;
                             negative: for ever */
    long pid;             /* they end when this process ends; 0: they do not */
    const json_t *unless; /* put only if no stored tuple matches this wire template; NULL:
                             always */
};

/*
 * Put one tuple with options.  With unless, the check and the put are one
 * step in the daemon; TS_EXIT_NOMATCH when a tuple matched and nothing was
 * put.  TS_EXIT_USAGE for a pid with no process.
 */
TS_API int ts_out_with(struct ts_conn *conn, const json_t *tuple, const struct ts_out_opts *o,
                       char *err, size_t errlen);

/* ---- Taking and reading */

/*
 * Take one tuple matching tmpl (a wire template: formals as strings, see
 * ts-tuples(7)), waiting at most timeout seconds (negative: for ever).  The
 * tuple is lent to this connection: *tuple is a new reference and *id names
 * it for ts_confirm.  Until it is confirmed, it is not gone: if the
 * connection closes first (the program dies), it goes back to the space,
 * in its old place.  A worker puts its result, then confirms.
 */
TS_API int ts_take(struct ts_conn *conn, const json_t *tmpl, double timeout, json_t **tuple,
                   uint64_t *id, char *err, size_t errlen);
/* Confirm every tuple taken on this connection with an id up to id. */
TS_API int ts_confirm(struct ts_conn *conn, uint64_t id, char *err, size_t errlen);
/* Read (copy) one tuple matching tmpl, waiting at most timeout seconds. */
TS_API int ts_read(struct ts_conn *conn, const json_t *tmpl, double timeout, json_t **tuple,
                   char *err, size_t errlen);

/*
 * A tuple an in or rd returned: its canonical text (compact JSON), with the
 * offset of each field's text in it.  ts_got_json parses it on demand and
 * keeps the result, a borrowed reference valid until the callback returns.
 */
struct ts_got {
    const char *text;
    size_t len;
    const uint32_t *off;
    uint32_t arity;
    json_t *json; /* NULL until ts_got_json */
};

TS_API const json_t *ts_got_json(struct ts_got *got);

/*
 * Called with each tuple ts_query returns.  Return 0 to go on, or a nonzero
 * status to stop.  Before tuples are confirmed to the daemon (for in, that
 * takes them for good), it is called with NULL: make what was seen durable
 * then (flush output), or return nonzero to stop, and the unconfirmed
 * tuples go back to the space.
 */
typedef int ts_tuple_fn(struct ts_got *got, void *arg);

struct ts_query {
    const char *op;     /* "in" or "rd" */
    const json_t *tmpl; /* wire template */
    double timeout;     /* seconds; negative waits for ever */
    long count;         /* tuples wanted, at least 1 */
    int all;            /* every match now, no waiting (count, timeout ignored) */
};

/*
 * Run an in or rd; fn sees each tuple.  TS_EXIT_NOMATCH when none came.  A
 * request may also end with an error after some tuples (TS_EXIT_FAIL when
 * its regular expressions cost too much, ts-tuples(7)); the tuples fn took
 * are confirmed all the same.
 */
TS_API int ts_query(struct ts_conn *conn, const struct ts_query *q, ts_tuple_fn *fn, void *arg,
                    char *err, size_t errlen);

/* ---- Many tuples over one connection, in batches */

struct ts_bulk;

/* Borrows conn until ts_bulk_end.  NULL when out of memory. */
TS_API struct ts_bulk *ts_bulk_new(struct ts_conn *conn);
/*
 * Put every tuple of the run with o's ttl and pid (before the first tuple;
 * unless cannot be used: a run goes in several batches).
 */
TS_API int ts_bulk_with(struct ts_bulk *b, const struct ts_out_opts *o, char *err, size_t errlen);
/* Add a tuple written as JSON text.  TS_EXIT_USAGE for a bad tuple. */
TS_API int ts_bulk_json(struct ts_bulk *b, const char *text, char *err, size_t errlen);
/* The fields put before each line of ts_bulk_line (a JSON array; none before this). */
TS_API int ts_bulk_prefix(struct ts_bulk *b, const json_t *fields, char *err, size_t errlen);
/*
 * Add the tuple [prefix ..., line], the line as a string.  TS_EXIT_USAGE if
 * it is not UTF-8 or holds a NUL byte.
 */
TS_API int ts_bulk_line(struct ts_bulk *b, const char *line, size_t n, char *err, size_t errlen);
/*
 * Add the tuple [prefix ..., value], the line read as a command-line word
 * (ts_word_parse).  TS_EXIT_USAGE for a word it refuses.  *respelled is set
 * when a number is stored spelled otherwise (ts_word_respelled).
 */
TS_API int ts_bulk_word(struct ts_bulk *b, const char *line, size_t n, int *respelled, char *err,
                        size_t errlen);
/*
 * The input line the next tuple comes from (1 if never said, then counted
 * up by one per tuple).  A batch the daemon refuses is reported by its
 * lines: "line 7: ..." or "lines 1 to 4096: ...".
 */
TS_API void ts_bulk_at(struct ts_bulk *b, long line);
/* Send the batch if it is full; wait for the one before it. */
TS_API int ts_bulk_flush(struct ts_bulk *b, char *err, size_t errlen);
/* Send what is gathered, wait for every answer, and free b.  A batch goes
 * in whole or not at all; every batch sent before a failure has gone in. */
TS_API int ts_bulk_end(struct ts_bulk *b, char *err, size_t errlen);

/* ---- Tuples and templates from command-line words (ts-tuples(7)) */

/* Flags of the word functions. */
#define TS_WORDS_STRINGS 0x1 /* every word is a string; in a template, ?-formals stay formals */

/*
 * The value of one word: JSON text is that value, anything else a string.
 * NULL with err for a word that cannot be a field as it is written: not
 * UTF-8, or JSON text the space cannot keep (a number that would be
 * stored as another number, nesting deeper than 1000, U+0000).
 */
TS_API json_t *ts_word_parse(const char *word, int flags, char *err, size_t errlen);
/* ts_word_parse without the refusals: a refused word is its text as a string. */
TS_API json_t *ts_word_value(const char *word);
/* Is a number in the word stored spelled otherwise (1.10 as 1.1, 1e3 as 1000)? */
TS_API int ts_word_respelled(const char *word);
/* A tuple from n words (n >= 1); NULL with err. */
TS_API json_t *ts_words_tuple(char *const *words, int n, char *err, size_t errlen);
TS_API json_t *ts_words_tuple_flags(char *const *words, int n, int flags, char *err, size_t errlen);
/* A wire template from n words (n >= 1); NULL with err. */
TS_API json_t *ts_words_template(char *const *words, int n, char *err, size_t errlen);
TS_API json_t *ts_words_template_flags(char *const *words, int n, int flags, char *err,
                                       size_t errlen);
/* A tuple given as one JSON array text. */
TS_API json_t *ts_json_tuple(const char *text, char *err, size_t errlen);
/* A wire template given as one JSON array text: formals as on the wire. */
TS_API json_t *ts_json_template(const char *text, char *err, size_t errlen);
/*
 * Split a string into words the way a shell splits unquoted blanks, with
 * '...' and "..." grouping.  Returns the number of words, or -1 with err;
 * *words is a NULL-terminated array to free with ts_words_free.
 */
TS_API int ts_split_words(const char *s, char ***words, char *err, size_t errlen);
TS_API void ts_words_free(char **words);

#ifdef __cplusplus
}
#endif

#endif
