/*
 * known.h: steering the fuzz targets around bugs already found and saved in
 * fuzz/regress/, so that a run can look for new ones until they are fixed.
 *
 * Off by default: a plain run reports every bug, known or not.  With
 * FUZZ_KNOWN=1 in the environment the targets skip inputs that would only
 * hit one of these again:
 *
 *   - request-6, match-3 (open): a backreference.  glibc's regexec takes
 *     time growing steeply with the subject's length for an ERE such as
 *     (.*)(.*)(.*)\3\2\1x (a GNU extension to ERE), and it runs in the
 *     daemon's event loop on every tuple offered to the waiter;
 *   - request-7 (open, fuzz-request.c only): {"op":"ack","id":05}, an ack
 *     whose id jansson refuses (a leading zero, or over INT64_MAX), is
 *     taken as an ack by ops.c's quick_ack and gets no error reply;
 *   - many repetitions: match-1, request-4 (stacked '+'), match-2,
 *     request-5 (nested repeated groups) made regcomp take memory doubling
 *     with each one (fixed in lib/ by commits 092e3e1 and c5b968b, which
 *     bound what a regular expression may cost to compile).
 */
#ifndef FUZZ_KNOWN_H
#define FUZZ_KNOWN_H

#include <stdlib.h>
#include <string.h>

static int
fuzz_known(void)
{
    static int known = -1;

    if (known < 0) {
        const char *e = getenv("FUZZ_KNOWN");

        known = e != NULL && strcmp(e, "1") == 0;
    }
    return known;
}

/*
 * Could some ERE in this text hold a backreference, or make glibc's regcomp
 * blow up?  For the latter, a crude upper bound on how many times
 * repetitions copy the pattern: each '+' doubles it, each "{n,m}"
 * multiplies it by the larger bound plus one; brackets and backslash
 * escapes are not looked at specially (overestimating is fine).
 */
static int
fuzz_risky_ere(const char *s, size_t n)
{
    double size = 1;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] >= '1' && s[i + 1] <= '9')
            return 1; /* a backreference (in JSON text, "\\1" holds one too) */
        if (s[i] == '+') {
            size *= 2;
        } else if (s[i] == '{') {
            double a = 0, b = 0, *cur = &a;
            size_t j;

            for (j = i + 1; j < n && (s[j] == ',' || (s[j] >= '0' && s[j] <= '9')); j++) {
                if (s[j] == ',')
                    cur = &b;
                else if (*cur < 1e9)
                    *cur = *cur * 10 + (s[j] - '0');
            }
            size *= (a > b ? a : b) + 1;
        }
        if (size > 4096)
            return 1;
    }
    return 0;
}

#endif
