/*
 * conn.h: the inside of a connection, shared by the client layer's files
 * (the public API is ts.h).
 */
#ifndef TS_CONN_H
#define TS_CONN_H

#include <stddef.h>

#include "buf.h"
#include "ts.h"

struct ts_conn {
    int fd;
    struct ts_buf in;   /* bytes received, not yet returned as lines */
    struct ts_buf text; /* the last line ts_conn_recv_text returned */
};

/* The next reply line, without its newline; consume len + 1 after use. */
int ts_conn_line(struct ts_conn *conn, char **line, size_t *len, char *err, size_t errlen);
/* A reply line as a JSON object (new reference). */
int ts_conn_parse(const char *line, size_t len, json_t **reply, char *err, size_t errlen);
/* Send bytes as they are. */
int ts_conn_write(struct ts_conn *conn, const char *p, size_t n, char *err, size_t errlen);
/* A buffer that ran out of memory: TS_EXIT_FAIL with the message. */
int ts_conn_nomem(char *err, size_t errlen);

#endif
