/*
 * known.h: steering the fuzz targets around bugs already found and saved in
 * fuzz/regress/, so that a run can look for new ones until they are fixed.
 *
 * Off by default: a plain run reports every bug, known or not.  With
 * FUZZ_KNOWN=1 in the environment the targets skip inputs that would only
 * hit a known bug again:
 *
 *   - match-2, request-5: a "?~ERE" formal whose ERE nests repeated groups,
 *     "((((a)+)+)+)+...", makes glibc's regcomp, which lib/template.c calls
 *     once its cost check let the ERE through, take memory doubling with
 *     each level.  Inputs whose text could hold an ERE with many
 *     repetitions are skipped, in every target (fuzz_risky_ere).
 *
 * (match-1, request-1 to request-4 were fixed in lib/ by commit 092e3e1;
 * their replays pass.)
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
 * Could some ERE in this text make glibc's regcomp blow up?  A crude upper
 * bound on how many times repetitions copy the pattern: each '+' doubles
 * it, each "{n,m}" multiplies it by the larger bound plus one; brackets and
 * backslash escapes are not looked at specially (overestimating is fine).
 */
static int
fuzz_risky_ere(const char *s, size_t n)
{
    double size = 1;
    size_t i;

    for (i = 0; i < n; i++) {
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
