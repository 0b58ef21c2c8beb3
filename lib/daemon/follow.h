/*
 * follow.h: a client that follows the event stream (the "follow" request,
 * ts-dump -f).
 *
 * The events are written to the client as they happen, one line each.  A
 * follower that cannot keep up must not stall the daemon or make it hold
 * an unbounded backlog: once more than TS_FOLLOW_MAX bytes wait to be
 * written to it, further events are dropped and counted, and once it has
 * read its backlog down to TS_OUT_LOW (session.h, half of that), it gets
 * one line {"dropped":N} and the events again.  The session tells when,
 * through the drained hook, whether or not anything happens meanwhile: a
 * follower that stopped reading altogether learns how many it missed as
 * soon as it reads again.  So a follower costs the daemon at most
 * TS_FOLLOW_MAX and one event line.
 */
#ifndef TS_FOLLOW_H
#define TS_FOLLOW_H

#include "events.h"
#include "session.h"

#define TS_FOLLOW_MAX TS_OUT_HIGH /* bytes of events queued for one follower, at most */

struct ts_follow;

/* Start sending c the events that pass filter tm (NULL: all); takes tm. */
struct ts_follow *ts_follow_start(struct ts_client *c, struct ts_events *events,
                                  struct ts_tmpl *tm);
/* The client read its backlog down to TS_OUT_LOW: say what was dropped. */
void ts_follow_drained(struct ts_follow *f);
/* Stop (the client is lost). */
void ts_follow_stop(struct ts_follow *f);

#endif
