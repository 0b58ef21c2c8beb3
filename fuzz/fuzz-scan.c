/*
 * fuzz-scan.c: libFuzzer target for the fast reader of wire JSON (scan.h).
 *
 * The input is taken as the text of a tuple.  Besides crashes, leaks and
 * undefined behaviour, it checks the promise that lets the daemon skip
 * jansson: whenever ts_scan_tuple accepts a text,
 *   - jansson reads the same bytes as a non-empty array;
 *   - ts_canon_tuple writes exactly the text ts_scan_tuple wrote, with the
 *     same field offsets;
 *   - ts_scan_value accepts the same bytes with and without copying;
 * and whenever it refuses one, it leaves its output as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "scan.h"
#include "tuple.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *end = text + size, *p, *q;
    struct ts_buf fast = TS_BUF_INIT, slow = TS_BUF_INIT;
    uint32_t *off = NULL, *off2;
    size_t noff = 1, offcap = 0;
    json_t *v;
    char err[200];

    off = ts_xgrow(off, &offcap, 1, sizeof *off);
    off[0] = 7;
    ts_buf_add(&fast, "x", 1); /* output that was there before */
    p = ts_scan_tuple(text, end, &fast, &off, &noff, &offcap);
    if (p == NULL) {
        if (ts_buf_len(&fast) != 1 || noff != 1 || off[0] != 7)
            abort();
        goto out;
    }
    q = ts_scan_value(text, end, NULL);
    if (q != p)
        abort();
    v = json_loadb(text, (size_t)(p - text), JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(v) || json_array_size(v) != noff - 1)
        abort();
    off2 = ts_xmalloc(json_array_size(v) * sizeof *off2);
    if (ts_canon_tuple(v, &slow, off2, err, sizeof err) < 0)
        abort();
    if (ts_buf_len(&slow) != ts_buf_len(&fast) - 1 ||
        memcmp(ts_buf_head(&slow), ts_buf_head(&fast) + 1, ts_buf_len(&slow)) != 0 ||
        memcmp(off2, off + 1, json_array_size(v) * sizeof *off2) != 0) {
        fprintf(stderr, "scan: %.*s\ncanon: %.*s\n", (int)ts_buf_len(&fast) - 1,
                ts_buf_head(&fast) + 1, (int)ts_buf_len(&slow), ts_buf_head(&slow));
        abort();
    }
    free(off2);
    json_decref(v);
out:
    ts_buf_free(&fast);
    ts_buf_free(&slow);
    free(off);
    return 0;
}
