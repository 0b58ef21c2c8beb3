/*
 * ere.h: POSIX extended regular expressions, matched at a cost known in
 * advance.
 *
 * The daemon matches "?~" formals for every client in its one thread, so
 * no match may take long.  glibc's regexec cannot promise that: it builds
 * DFA states as it goes, and the 17-byte (a|b)*a(a|b){99}c took it 263 s
 * and 1.6 GB against 10 KB of a and b.  TRE's matcher runs the automaton's
 * states in parallel instead, so its time is linear in the string: about
 * k * (T + TS_ERE_BYTE) per byte, where T is the number of transitions of
 * the automaton and k a fraction of a nanosecond.
 *
 * TRE 0.8.0 has its own bugs and dialect, so an expression is read here
 * first, byte by byte as in the C locale, and written again in the few
 * forms TRE and glibc agree on: every bracket expression (with classes,
 * negation, and case folding for TS_ERE_ICASE) becomes a plain list of
 * byte ranges, every special character outside one an escaped literal, and
 * x{,n} becomes x{0,n}.  What TRE reads otherwise or matches wrongly is
 * refused, and so is an expression whose automaton, estimated from the
 * text alone, would be too big (see ts-tuples(7) for the list).  Matching
 * runs in the C locale, whatever the program's locale is.
 *
 * The estimate T is an upper bound of TRE's transitions (one per pair of
 * positions that can follow each other, with one position per literal or
 * bracket range, and repetitions expanded as TRE expands them).  A match
 * of a string of n bytes costs (T + TS_ERE_BYTE) * n units; the budgets
 * below are in units, and were chosen from measurements of the slowest
 * patterns found (scripts/bench/run has the rows).
 */
#ifndef TS_ERE_H
#define TS_ERE_H

#include <stddef.h>
#include <stdint.h>

#define TS_ERE_ICASE 0x1 /* ignore case (ASCII letters), as REG_ICASE */

/*
 * Refused as too costly to compile (E2BIG) over these: the states bound
 * the stack a match takes (about 40 bytes a state), and building costs
 * one unit per element of the sets of first and last positions of every
 * subexpression, plus TS_ERE_BUILD_TRANS per transition; 75,000 units take
 * about 3 ms here at most, and leave at most 15,000 transitions.
 */
#define TS_ERE_MAX_LEN 1024
#define TS_ERE_MAX_STATES 2000
#define TS_ERE_MAX_BUILD 75000
#define TS_ERE_BUILD_TRANS 5

/*
 * Matching: a string of n bytes costs (T + TS_ERE_BYTE) * n units.  The
 * slowest patterns measured here take 1.35 ns a unit (dense automata,
 * every state live on every byte), and the cheapest about 4 units a byte
 * whatever their T, so a match within TS_ERE_MATCH_BUDGET takes at most
 * about 2.7 ms, and all the matching one request does (the tuples an rd
 * -a looks at, say) at most about 0.5 s.
 */
#define TS_ERE_BYTE 8
#define TS_ERE_MATCH_BUDGET 2000000ULL
#define TS_ERE_REQUEST_BUDGET (200 * TS_ERE_MATCH_BUDGET)

struct ts_ere;

/*
 * Compile the expression of len bytes at pat.  Returns NULL with a
 * one-line message in err and errno set: EINVAL for an expression POSIX
 * (and glibc) find invalid too, ENOTSUP for one refused here although
 * glibc takes it, E2BIG for one too costly, ENOMEM.
 */
struct ts_ere *ts_ere_compile(const char *pat, size_t len, int flags, char *err, size_t errlen);
void ts_ere_free(struct ts_ere *re);

/* The estimated transitions T of the expression's automaton. */
uint64_t ts_ere_trans(const struct ts_ere *re);

/* The cost, in units, of matching a string of n bytes: (T + TS_ERE_BYTE) * n. */
uint64_t ts_ere_cost(const struct ts_ere *re, size_t n);

/*
 * Does the expression match somewhere in the n bytes at s (unanchored, as
 * grep -E)?  1 or 0.  A string holding a NUL byte never matches, nor does
 * one longer than INT_MAX bytes; the caller checks the cost first.
 */
int ts_ere_match(const struct ts_ere *re, const char *s, size_t n);

#endif
