/*
 * worker.c: placeholder until eval lands; it refuses eval requests.
 */
#include <stdlib.h>
#include <sys/wait.h>

#include "session.h"
#include "worker.h"
#include "xmalloc.h"

struct ts_workers {
    struct ts_server *srv;
};

struct ts_workers *
ts_workers_new(struct ts_server *srv)
{
    struct ts_workers *ws = xcalloc(1, sizeof *ws);

    ws->srv = srv;
    return ws;
}

void
ts_workers_free(struct ts_workers *ws)
{
    free(ws);
}

void
ts_workers_eval(struct ts_workers *ws, struct ts_client *c, json_t *req)
{
    (void)ws;
    (void)req;
    ts_client_error(c, "failed", "eval is not supported by this daemon yet");
}

void
ts_workers_reap(struct ts_workers *ws)
{
    (void)ws;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

void
ts_workers_dump(struct ts_workers *ws, struct ts_buf *out)
{
    (void)ws;
    (void)out;
}

size_t
ts_workers_count(const struct ts_workers *ws)
{
    (void)ws;
    return 0;
}
