/*
 * known.h: steering the fuzz targets around bugs already found and saved in
 * fuzz/regress/, so that a run can look for new ones until they are fixed.
 *
 * Off by default: a plain run reports every bug, known or not.  With
 * FUZZ_KNOWN=1 in the environment the targets skip inputs that would only
 * hit one of the bugs listed here again.
 *
 * Nothing is open now (fuzz/regress/README).  The list was:
 *
 *   - request-6, match-3: a backreference, which glibc's regexec matched in
 *     time growing steeply with the subject (fixed: refused, and since
 *     issue 14 the daemon matches with TRE behind lib/core/ere.c);
 *   - request-7, request-8 (fuzz-request.c only): acks that wire.c's quick
 *     ack reader read differently from jansson (fixed in 84cb6f0);
 *   - many repetitions: match-1, request-4 (stacked '+'), match-2,
 *     request-5 (nested repeated groups) made regcomp take memory doubling
 *     with each one (fixed in 092e3e1 and c5b968b; since issue 14 glibc's
 *     regcomp is not used, and nested groups are cheap to TRE).
 *
 * fuzz_risky_ere is still needed: fuzz-match.c runs glibc's regcomp as its
 * reference, and must not run it on an ERE that would make it blow up.
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
 * blow up (fuzz-match.c's reference)?  For the latter, a crude upper bound on how many times
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
