/*
 * journal.h: the durable space (tsd -D DIR): an append-only log of what
 * changed, compacted now and then into a snapshot written by a thread.
 *
 * What is logged
 * --------------
 * Two things change the space for good: an out (a new tuple, with its seq
 * and its lease: a deadline, a process it lives with) and a deletion (a
 * confirmed take, or the end of a lease: an expiry, the end of the process).  Lending
 * a tuple to a taker is not logged: a lent tuple is still stored, and if the
 * daemon dies before the taker confirms it, the tuple is back in its old
 * place after the restart, which is what the taker dying would have done.
 * Replaying the log therefore gives the stored tuples, lent ones included,
 * with the seqs they had, in seq order.
 *
 * The directory
 * -------------
 *   lock                 flock(2)ed by the daemon using DIR; holds its pid
 *   log.NNNNNNNNNN       log segments, numbered from 1, appended to in turn
 *   snap.NNNNNNNNNN      the live tuples once every segment up to N is applied
 *   snap.NNNNNNNNNN.tmp  a snapshot being written (or cut short by a crash)
 *
 * Recovery reads the newest snapshot, if any, then the segments after it in
 * order; segments up to the snapshot's number, older snapshots and .tmp files
 * are left over from an interrupted compaction and are removed.  DIR must
 * be a real directory (not a symbolic link), owned by the daemon's user and
 * writable by nobody else; it is created mode 0700 if it does not exist.
 *
 * The format (every integer little-endian)
 * ----------------------------------------
 * Every file starts with a 36-byte header: the magic "TSJOURNL", a u32
 * version (1), a u32 kind (1 a log segment, 2 a snapshot), the u64 number
 * in the file's name, the u64 highest seq given out before the file began
 * (so seqs keep increasing even when every tuple is gone), and a u32 CRC-32C
 * of the 32 bytes before it.  Records follow, each
 *
 *   u32 crc     CRC-32C of everything after this field (length and body)
 *   u32 length  bytes after this field: 9 plus the payload
 *   u8  type    1 out, 2 out with a deadline, 3 deletion, 4 end of snapshot,
 *               5 out bound to a process
 *   u64 seq     the tuple's seq (for type 4, the number of tuples)
 *   payload     types 2 and 5: u64 deadline in ns since the epoch (0 for
 *               none in type 5); type 5: then the process, as u64 start
 *               (field 22 of /proc/PID/stat: clock ticks from boot to its
 *               start), u64 boot (the first 64 bits of the boot id, so a
 *               pid and start time seen in another boot do not match) and
 *               u32 pid; types 1, 2 and 5: the tuple's canonical text, to
 *               the end of the record
 *
 * so a deletion is 17 bytes and an out 17 (25 with a deadline, 45 bound to
 * a process) plus its text.  The five types are all version 1: no journal
 * was written without type 5, so a reader of version 1 knows them all; a
 * new type will need version 2, which older daemons refuse to open (a
 * record of a type they do not know would otherwise read as damage).
 * Fixed-width fields cost a few bytes a record over varints, and keep the
 * hot path a memcpy and a CRC.  A snapshot holds outs in seq order and ends
 * with one type 4 record; a log holds outs (seqs increasing) and deletions.
 *
 * Torn tails and damage
 * ---------------------
 * A crash can cut the last write short, and the file system may then show
 * a tail that is partly missing or zero-filled.  A bad record in the last
 * segment after which no well-formed record starts anywhere is such a torn
 * tail: recovery cuts it off and says how many bytes it dropped.  A bad
 * record followed by a good one is damage (a cut write could only leave
 * that if the kernel wrote the pages of one write back out of order), and
 * opening fails, naming the file and the byte offset.  "tsd --check DIR
 * --fix" (ts_journal_check) truncates the log there, as redis-check-aof
 * --fix does, and removes the segments after it.
 *
 * Writing and the sync policies
 * -----------------------------
 * ts_journal_out and ts_journal_del only append to a buffer;
 * ts_journal_write hands everything buffered to one write(2).  If that write
 * fails (ENOSPC, EIO) or comes up short, the file is cut back to where it
 * was, the buffered records are dropped, and -1 is returned with errno: the
 * daemon refuses the requests those records belonged to.  So the daemon
 * writes before it changes the space or replies.  Then, by policy:
 *
 *   always  once per loop iteration, when ts_journal_dirty, the daemon calls
 *           ts_journal_sync (one fdatasync for every write of the iteration,
 *           a group commit), and only then sends the replies.
 *   batch   ts_journal_tick syncs once a write has waited batch_ms (default
 *           100 ms).  The sync runs in the event loop, and its cost grows
 *           with what is unsynced, so a short interval keeps each stall short
 *           (at a million outs a second, 100 ms is about 12 MB) and bounds
 *           what a power cut loses; Redis's once a second loses ten times as
 *           much for the sake of syncs that cost well under a millisecond
 *           each on a current SSD.
 *   none    never syncs; the kernel writes back when it likes.  A daemon
 *           crash loses nothing written; an OS crash may lose any suffix,
 *           and may leave damage that needs --check --fix.
 *
 * A failed fdatasync leaves the journal broken: after such a failure Linux
 * may have dropped the dirty pages, so no later write can be trusted to
 * follow the data before it.  Every later write fails (with the errno of
 * the failure); the daemon should refuse changes and restart, so that its
 * state is rebuilt from what is really on disk.  The same happens if a
 * failed write cannot be cut back.
 *
 * Compaction
 * ----------
 * When the files hold more than compact_ratio (2) times the live data, and
 * at least compact_min (1 MiB), ts_journal_tick compacts.  The journal
 * starts segment N+1, to which all new records go, and a thread reads the
 * newest snapshot and segments up to N, exactly as recovery would, and
 * writes what survives to snap.N.tmp; then it fsyncs it, syncs segment N,
 * segment N+1's header and the directory, renames the file to snap.N and
 * syncs the directory again.  When tick sees it done, the journal removes
 * the segments up to N and the older snapshot.
 *
 * Why a thread that rereads the files, and not a fork or slices of work in
 * the loop.  The daemon's own cost is creating one file and a thread: well
 * under a millisecond, whatever the size of the space.  A fork (Redis's
 * BGREWRITEAOF) gives a child a frozen picture of the space for free, but
 * fork copies the page tables, which stops the caller in proportion to its
 * heap: 16 ms at a million tuples, 48 ms at two million on a small VM, far
 * more than the few milliseconds a client may be kept waiting.  Writing a
 * snapshot from the loop a slice at a time avoids that, but the space
 * changes behind the slices' cursor: tuples deleted ahead of it would have
 * to be copied out first, with the store's help, for the snapshot to be
 * the state at one point of the log.  Segments up to N never change again,
 * so a reader of the files needs no such care, shares nothing with the
 * loop, and writes exactly what a restart would have rebuilt.  It costs
 * reading the log once more (from the page cache, as a rule): as much as a
 * restart's replay, which is fast, and bounded by the compaction itself.
 *
 * Every step is safe to interrupt: before the rename the old files are
 * intact and the .tmp is removed at the next start; after it, snap.N
 * makes the older files redundant, and removing them is idempotent.  A
 * compaction that fails (full disk, damage) changes nothing; the journal
 * retries with a growing pause (5 s doubling to 5 min), and the failure is
 * reported for the daemon to log.  ts_journal_close stops a compaction in
 * progress and removes its .tmp.
 *
 * The journal is used from one thread, as the daemon is (the compaction
 * thread shares nothing with it but a flag); its errors go to the caller
 * as -1 with errno, or as text in a caller's buffer.
 */
#ifndef TS_JOURNAL_H
#define TS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The longest tuple text a record holds. */
#define TS_JOURNAL_MAX_TEXT ((size_t)1 << 30)

enum ts_journal_sync {
    TS_JOURNAL_ALWAYS, /* fdatasync before replying (group commit) */
    TS_JOURNAL_BATCH,  /* fdatasync every batch_ms */
    TS_JOURNAL_NONE    /* leave it to the kernel */
};

/*
 * The process a tuple lives with (tsd's ts-out --pid), as the log keeps it:
 * a pid alone could be another process's after a restart, so its start
 * time and the boot it started in go with it.  start and boot are 0 when
 * they could not be read.
 */
struct ts_journal_owner {
    uint32_t pid;
    uint64_t start; /* field 22 of /proc/PID/stat: clock ticks after boot */
    uint64_t boot;  /* the first 64 bits of /proc/sys/kernel/random/boot_id */
};

/*
 * Replay hands each surviving tuple to this, in seq order, with its
 * deadline (0: none) and owner (NULL: none); text is borrowed for the call
 * and not NUL-terminated.  A tuple past its deadline, or whose process is
 * gone, is handed over all the same: what that means is the daemon's call.  Return 0 to go on, -1
 * to make ts_journal_open fail (for a tuple the daemon cannot take back).
 */
typedef int ts_journal_tuple_fn(void *arg, uint64_t seq, uint64_t deadline,
                                const struct ts_journal_owner *owner, const char *text, size_t len);

struct ts_journal_opts {
    enum ts_journal_sync sync;
    unsigned batch_ms;      /* batch: longest a write waits for its sync; 0 for 100 */
    uint64_t compact_min;   /* never compact files smaller than this; 0 for 1 MiB */
    unsigned compact_ratio; /* compact past this many times the live data; 0 for 2 */
    int autocompact;        /* tick compacts when due; 0: only ts_journal_compact does */
};

/* What ts_journal_open found. */
struct ts_journal_replay {
    uint64_t hiseq;   /* highest seq ever given out: new seqs go above it */
    uint64_t tuples;  /* handed to the callback */
    uint64_t records; /* read, snapshot included */
    uint64_t files;   /* read */
    uint64_t dropped; /* bytes of torn tail cut off */
    char note[256];   /* for the daemon's log: what was cut or removed; "" if nothing */
};

struct ts_journal_stats {
    enum ts_journal_sync sync;
    uint64_t log_bytes;        /* the snapshot and segments recovery would read */
    uint64_t live_bytes;       /* about what a snapshot would take now */
    uint64_t buffered;         /* appended and not yet written */
    uint64_t segment;          /* number of the segment being written */
    uint64_t snapshot;         /* number of the newest snapshot, 0 when none */
    uint64_t compactions;      /* finished since open */
    uint64_t compact_failures; /* since open */
    uint64_t syncs;            /* fdatasyncs of the log since open */
    struct timespec last_sync; /* CLOCK_REALTIME of the last one; zero if none */
    int compacting;            /* a compaction is in progress */
    int dirty;                 /* written or buffered, not synced */
    int broken;                /* the errno that broke the journal, 0 if sound */
};

struct ts_journal;

/*
 * Check and lock DIR (creating it if missing), replay it through fn, cut
 * off a torn tail, remove left-overs, and open the last segment for
 * appending.  opts may be NULL for the defaults (always, no automatic
 * compaction).
 * On failure NULL is returned and err says why, naming the file and offset
 * of any damage; DIR is unchanged unless the failure came after a torn
 * tail was cut off (removing it again at the next open changes nothing).
 *
 * For tests only: if the environment variable TS_JOURNAL_FAIL_AFTER is a
 * number N, writes fail with ENOSPC once N more bytes have been written
 * (as ts_journal_fail_after); if TS_JOURNAL_FAIL_WHILE is a path, writes
 * fail with ENOSPC while a file exists there (a disk that fills up and is
 * freed again, for the daemon's tests).
 */
struct ts_journal *ts_journal_open(const char *dir, const struct ts_journal_opts *opts,
                                   ts_journal_tuple_fn *fn, void *arg,
                                   struct ts_journal_replay *rep, char *err, size_t errlen);
/*
 * Write and (unless the policy is none) sync what is buffered, stop a
 * compaction in progress (the next open removes its .tmp), release the
 * lock and free j.  Returns -1 with errno if the last write or sync failed.
 */
int ts_journal_close(struct ts_journal *j);
/*
 * Write the calling process's pid into DIR/lock.  The lock belongs to the
 * open file, so a child of fork(2) (tsd -d) keeps it when the parent exits;
 * the child calls this so that a second daemon names the right pid.
 */
int ts_journal_set_pid(struct ts_journal *j);

/*
 * Append an out: seq must be above every seq appended before (EINVAL) and
 * below 2^63, deadline is in ns since the epoch or 0 for none, and text at
 * most TS_JOURNAL_MAX_TEXT bytes (EMSGSIZE).  Nothing is written yet.
 */
int ts_journal_out(struct ts_journal *j, uint64_t seq, uint64_t deadline, const char *text,
                   size_t len);
/* The same for a tuple bound to a process (owner NULL or pid 0: as ts_journal_out). */
int ts_journal_out_owned(struct ts_journal *j, uint64_t seq, uint64_t deadline,
                         const struct ts_journal_owner *owner, const char *text, size_t len);
/*
 * Append a deletion of a stored tuple; len is its text's length, for the
 * journal's account of the live data.  Deleting a seq that is not stored
 * makes the log unreadable: recovery refuses it as damage.
 */
int ts_journal_del(struct ts_journal *j, uint64_t seq, size_t len);
/* Drop what was appended and not yet written, as if it never was. */
void ts_journal_discard(struct ts_journal *j);
/*
 * Write everything appended, with one write(2).  On failure the file is
 * as it was before, the records are dropped, and -1 is returned with errno.
 */
int ts_journal_write(struct ts_journal *j);
/* Is anything appended or written and not yet synced? */
int ts_journal_dirty(const struct ts_journal *j);
/* Write what is buffered and fdatasync; -1 with errno on failure (see above). */
int ts_journal_sync(struct ts_journal *j);

/*
 * When ts_journal_tick next has work (a batch sync due, a compaction due or
 * to retry, or one to look at), in ts_now() nanoseconds (CLOCK_MONOTONIC);
 * 0 for at once, and UINT64_MAX for never.  Ask again after every loop
 * iteration.
 */
uint64_t ts_journal_next_sync(const struct ts_journal *j);
/*
 * Do what is due at now: a batch sync, starting a compaction, and, every
 * 50 ms while one runs, taking its result once it is done.  Call it
 * between requests, when everything appended is written.  Returns 0, or 1
 * when msg holds news for the log (a compaction started, failed to start,
 * failed, or ended), or -1 when a sync failed (msg says why; the journal
 * is now broken).
 */
int ts_journal_tick(struct ts_journal *j, uint64_t now, char *msg, size_t msglen);
/*
 * Start a compaction now, whatever the sizes; ts_journal_tick takes its
 * result.  Returns 0 with msg saying so, or -1 with errno: EBUSY (one is
 * running), EAGAIN (records are buffered: write first), or why the new
 * segment or the thread could not be made (then it is retried later, as
 * for a compaction that failed).
 */
int ts_journal_compact(struct ts_journal *j, char *msg, size_t msglen);

void ts_journal_stats(const struct ts_journal *j, struct ts_journal_stats *s);

/*
 * The descriptors j holds open, into fds (room for TS_JOURNAL_FDS), for a
 * daemon that closes every other one it inherited; returns how many.  A
 * compaction's own are not among them: call it before any compaction.
 */
#define TS_JOURNAL_FDS 4
size_t ts_journal_fds(const struct ts_journal *j, int *fds);

/*
 * For tests: after another bytes bytes, every write fails with ENOSPC, the
 * one that crosses the limit after writing part of its data (a short write).
 * A compaction started later writes its snapshot with what is left of the
 * allowance then, counted apart.  Negative: no limit.
 */
void ts_journal_fail_after(struct ts_journal *j, int64_t bytes);

/*
 * tsd --check DIR [--fix]: describe the files, records and live tuples in
 * DIR into report, one item a line.  Returns 0 for a sound directory (a
 * torn tail, which is what a crash leaves, is sound, and reported), 1 for a
 * damaged one (the report names the file and offset), 2 when fix was given
 * and the damage has been repaired, -1 when DIR cannot be checked.  With fix
 * (which needs DIR unlocked and owned by the caller) the log is truncated at
 * the first bad record, later segments are removed, and a torn tail is cut
 * off; a damaged snapshot cannot be repaired.  Without fix nothing changes,
 * and a directory in use is read as it is at that moment.
 */
int ts_journal_check(const char *dir, int fix, char *report, size_t reportlen);

#endif
