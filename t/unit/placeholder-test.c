/*
 * placeholder-test.c: data-driven unit test of ts-eval's placeholders: the
 * --sh rewrite and the parts of {stdout}.
 *
 * Usage: placeholder-test DIR
 *
 * DIR holds two tables (lines starting with '#' and blank lines ignored,
 * fields separated by one TAB, each field a JSON value):
 *
 *   sh-cases      SCRIPT  EXPECTED-SCRIPT  PARAMETERS
 *                 (EXPECTED-SCRIPT null: ts_sh_script must refuse SCRIPT)
 *   stdout-cases  OUTPUT  PLACEHOLDER  EXPECTED-PART

 * PARAMETERS is the JSON array of the placeholders passed after $0, and
 * EXPECTED-PART null says that PLACEHOLDER is no {stdout} placeholder.
 * What the scripts do when run is for t/jobs.bats.
 *
 * Output is TAP; the exit status is 0 when every test passed, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "placeholder.h"

#define MAXROWS 512

struct row {
    json_t *f[3];
    int line;
};

static unsigned test_no, failed;

static void
report(int ok, const char *what, const char *why)
{
    test_no++;
    if (!ok)
        failed++;
    printf("%sok %u - %s\n", ok ? "" : "not ", test_no, what);
    if (!ok && why != NULL)
        printf("# %s\n", why);
}

/* Read a table of 3 JSON fields a row; returns the number of rows, -1 on error. */
static int
read_table(const char *dir, const char *name, struct row *rows)
{
    char path[4096], *line = NULL;
    size_t cap = 0;
    int n = 0, no = 0;
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((fp = fopen(path, "r")) == NULL) {
        fprintf(stderr, "placeholder-test: cannot open %s\n", path);
        return -1;
    }
    while (getline(&line, &cap, fp) > 0) {
        char *p = line, *tab;
        int k;

        no++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (n == MAXROWS) {
            fprintf(stderr, "placeholder-test: %s: too many rows\n", name);
            return -1;
        }
        for (k = 0; k < 3; k++) {
            json_error_t e;

            tab = strchr(p, '\t');
            if (tab != NULL)
                *tab = '\0';
            rows[n].f[k] = json_loads(p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            if (rows[n].f[k] == NULL) {
                fprintf(stderr, "placeholder-test: %s:%d: field %d: %s\n", name, no, k + 1, e.text);
                return -1;
            }
            if (tab == NULL && k < 2) {
                fprintf(stderr, "placeholder-test: %s:%d: 3 fields needed\n", name, no);
                return -1;
            }
            p = tab + 1;
        }
        rows[n++].line = no;
    }
    free(line);
    fclose(fp);
    return n;
}

static void
test_sh(const struct row *r)
{
    const char *script = json_string_value(r->f[0]);
    char **params = NULL, err[300], what[300], why[600];
    char *text = ts_sh_script(script, &params, err, sizeof err), *name;
    json_t *got;
    size_t i;
    int ok;

    name = json_dumps(r->f[0], JSON_ENCODE_ANY); /* one line, whatever the script */
    snprintf(what, sizeof what, "sh-cases line %d: %.200s", r->line, name);
    free(name);
    if (json_is_null(r->f[1])) {
        snprintf(why, sizeof why, "accepted, as %s", text != NULL ? text : "");
        report(text == NULL, what, why);
    } else {
        char *list;

        got = json_array();
        for (i = 0; params != NULL && params[i] != NULL; i++)
            json_array_append_new(got, json_string(params[i]));
        ok = text != NULL && strcmp(text, json_string_value(r->f[1])) == 0 &&
             json_equal(got, r->f[2]);
        list = json_dumps(got, JSON_COMPACT);
        {
            json_t *shown = json_string(text != NULL ? text : err);

            name = json_dumps(shown, JSON_ENCODE_ANY);
            snprintf(why, sizeof why, "got %s with %s", name != NULL ? name : "?", list);
            free(name);
            json_decref(shown);
        }
        report(ok, what, why);
        free(list);
        json_decref(got);
    }
    free(text);
    ts_free_words(params);
}

static void
test_stdout(const struct row *r)
{
    const char *out = json_string_value(r->f[0]), *ph = json_string_value(r->f[1]), *part;
    size_t n = json_string_length(r->f[0]), len, partlen;
    struct ts_ph_arg a;
    char what[300], why[300];

    snprintf(what, sizeof what, "stdout-cases line %d: %s", r->line, ph);
    if (ts_placeholder(ph, &len, &a) != TS_PH_STDOUT || ph[len] != '\0') {
        if (json_is_null(r->f[2])) {
            report(1, what, NULL);
            return;
        }
        report(0, what, "not a {stdout} placeholder");
        return;
    }
    ts_stdout_part(out, n, &a, &part, &partlen);
    snprintf(why, sizeof why, "got '%.*s'", (int)partlen, part);
    report(json_is_string(r->f[2]) && partlen == json_string_length(r->f[2]) &&
               memcmp(part, json_string_value(r->f[2]), partlen) == 0,
           what, why);
}

int
main(int argc, char **argv)
{
    static struct row sh[MAXROWS], out[MAXROWS];
    int nsh, nout, i;

    if (argc != 2) {
        fprintf(stderr, "usage: placeholder-test DIR\n");
        return 1;
    }
    if ((nsh = read_table(argv[1], "sh-cases", sh)) < 0 ||
        (nout = read_table(argv[1], "stdout-cases", out)) < 0)
        return 1;
    printf("1..%d\n", nsh + nout);
    for (i = 0; i < nsh; i++)
        test_sh(&sh[i]);
    for (i = 0; i < nout; i++)
        test_stdout(&out[i]);
    printf("# %u of %u tests failed\n", failed, test_no);
    return failed != 0;
}
