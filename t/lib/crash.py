#!/usr/bin/env python3
"""Crash test of the durable space, through the real commands.

crash.py DIR KILLS

In DIR (created if missing; it should be empty) a daemon runs with -D DIR/data, a
small --compact-min so that compactions come often, and a sync policy
that changes at every restart.  Meanwhile:

  producers   ts-out c NAME "N CK", one call per tuple, N counting up;
  batchers    ts-out -l c NAME, batches of lines "N CK";
  consumers   ts-in -j -n 3 c '?' '?' and ts-in -j -a c '?' '?' (which
              drains the space, so that the log grows past its live data
              and compactions come), each between two ts-dump -S that give
              the daemon's pid;
  workers     ts-eval workers (restarted after every crash, as a user's
              supervisor would) that take c tuples and append them to a
              file.

CK is a checksum of NAME and N.  KILLS times, at a random moment, the
daemon gets SIGKILL and is started again on the same directory.  At the
end every client stops, the daemon is killed once more (so that whatever
was lent comes back) and started without workers, and what it holds is
checked against what the clients saw:

  - every tuple is well formed and its checksum matches;
  - every out that got ok (a ts-out that exited 0, every line of a
    ts-out -l that exited 0) is present or was taken;
  - for a ts-out -l that failed, what is present or was taken is a prefix
    of its lines (batches are stored whole and in order, and whatever the
    daemon wrote survives its death);
  - a take confirmed for certain (ts-in exited 0, and the same daemon
    answered a request made after it) never comes back: the tuple is not
    present, and nobody takes it again later;
  - nothing is present twice, and each producer's tuples are present in
    the order they were put;
  - tsd --check finds the directory sound.

Takes not known to be confirmed may be seen twice (the at-least-once
rule); they are counted.  Prints a summary, and the problems found; exits
1 if there were any.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib

PRODUCERS = 3
BATCHERS = 2
BATCH = 40
WORKERS = 2


def ck(name, n):
    return "%08x" % zlib.crc32(("%s:%d" % (name, n)).encode())


class Crash:
    def __init__(self, top, kills):
        self.top = top
        self.kills = kills
        self.sock = os.path.join(top, "sock")
        self.data = os.path.join(top, "data")
        self.log = os.path.join(top, "tsd.log")
        self.wout = os.path.join(top, "worker.out")
        self.env = dict(os.environ, TS_SOCKET=self.sock)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.pid = None
        self.oks = []        # (name, n): outs that got ok
        self.failed_runs = []  # (name, first, count): ts-out -l runs that failed
        self.takes = []      # (name, n, start, end, confirmed)
        self.problems = []
        self.retried = 0
        self.why_retried = {"in use": 0, "listening": 0}
        self.modes = {"always": 0, "batch": 0, "none": 0}

    def run(self, args, stdin=None, timeout=30):
        try:
            p = subprocess.run(args, input=stdin, env=self.env, capture_output=True,
                               text=True, timeout=timeout)
            return p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired:
            return -1, "", "timed out"

    def start(self, mode, workers=True):
        """
        Start the daemon on the directory.  A child the dead daemon forked
        an instant before it died (a worker not yet exec'd) may hold its
        lock or listening socket for a moment more: retried, and counted.
        """
        for attempt in range(200):
            rc, out, err = self.run(["tsd", "-d", "-s", self.sock, "-l", self.log,
                                     "-D", self.data, "--sync", mode,
                                     "--compact-min", "16384"])
            if rc == 0:
                self.pid = int(out.split("TSD_PID=")[1].split(";")[0])
                self.retried += attempt > 0
                break
            if "in use by" not in err and "already listening" not in err:
                self.problems.append("restart failed: " + err.strip())
                return False
            if attempt == 0:
                self.why_retried["in use" if "in use by" in err else "listening"] += 1
            time.sleep(0.01)
        else:
            self.problems.append("restart failed: the lock stayed held: " + err.strip())
            return False
        self.modes[mode] += 1
        if workers:
            rc, out, err = self.run(["ts-eval", "-n", str(WORKERS), "--name", "w",
                                     "--take", "c ?str ?str", "--", "sh", "-c",
                                     'printf "%s %s %s\\n" "$(date +%s.%N)" "$1" "$2" >> "$0"',
                                     self.wout, "{2}", "{3}"])
            if rc not in (0, 3, 4):
                self.problems.append("ts-eval: status %d: %s" % (rc, err.strip()))
        return True

    def kill(self):
        """
        SIGKILL, then wait until the daemon is dead: a zombie (its parent,
        tsd -d, is gone) with no thread left, as its supervisor would see it.
        """
        os.kill(self.pid, signal.SIGKILL)
        for _ in range(2000):
            try:
                with open("/proc/%d/stat" % self.pid) as f:
                    zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
                if zombie and os.listdir("/proc/%d/task" % self.pid) == [str(self.pid)]:
                    break
            except (FileNotFoundError, ProcessLookupError, IndexError):
                break
            time.sleep(0.005)

    def producer(self, name):
        n = 0
        while not self.stop.is_set():
            n += 1
            rc, _, _ = self.run(["ts-out", "c", name, "%d %s" % (n, ck(name, n))])
            if rc == 0:
                with self.lock:
                    self.oks.append((name, n))
            elif rc == 3:
                time.sleep(0.01)

    def batcher(self, name):
        n = 0
        while not self.stop.is_set():
            first = n + 1
            lines = "".join("%d %s\n" % (i, ck(name, i)) for i in range(first, first + BATCH))
            n += BATCH
            rc, _, _ = self.run(["ts-out", "-l", "c", name], stdin=lines)
            with self.lock:
                if rc == 0:
                    self.oks.extend((name, i) for i in range(first, first + BATCH))
                else:
                    self.failed_runs.append((name, first, BATCH))
            if rc == 3:
                time.sleep(0.01)

    def daemon_pid(self):
        rc, out, _ = self.run(["ts-dump", "-S"])
        if rc != 0:
            return None
        for line in out.splitlines():
            k, _, v = line.partition(" ")
            if k == "pid":
                return int(v)
        return None

    def consumer(self, how):
        before = self.daemon_pid()
        while not self.stop.is_set():
            start = time.time()
            rc, out, _ = self.run(["ts-in", "-j"] + how + ["c", "?", "?"])
            after = self.daemon_pid()
            end = time.time()
            for line in out.splitlines():
                t = json.loads(line)
                name, n = self.parse(t, "ts-in")
                if name is not None:
                    with self.lock:
                        self.takes.append((name, n, start, end,
                                           rc == 0 and before is not None and before == after))
            if rc in (1, 3):
                time.sleep(0.01)
            before = after

    def parse(self, t, who):
        if not (isinstance(t, list) and len(t) == 3 and t[0] == "c"):
            return None, None
        try:
            n_s, c = t[2].split(" ")
            n = int(n_s)
        except ValueError:
            self.problems.append("%s: malformed tuple %r" % (who, t))
            return None, None
        if c != ck(t[1], n):
            self.problems.append("%s: bad checksum in %r" % (who, t))
            return None, None
        return t[1], n

    def go(self):
        random.seed(int(os.environ.get("TS_CRASH_SEED", time.time())))
        modes = ["always", "batch", "none"]
        if not self.start("always"):
            return self.report([])
        threads = [threading.Thread(target=self.producer, args=("p%d" % i,))
                   for i in range(PRODUCERS)]
        threads += [threading.Thread(target=self.batcher, args=("b%d" % i,))
                    for i in range(BATCHERS)]
        threads += [threading.Thread(target=self.consumer, args=(["-n", "3", "-t", "0.5"],)),
                    threading.Thread(target=self.consumer, args=(["-a"],))]
        for t in threads:
            t.start()
        kills = 0
        try:
            while kills < self.kills and not self.problems:
                time.sleep(random.uniform(0.05, 0.4))
                self.kill()
                kills += 1
                if not self.start(modes[kills % 3]):
                    break
        finally:
            self.stop.set()
            for t in threads:
                t.join()
            self.done_kills = kills
            if self.problems:
                self.kill()
        # Whatever is lent now comes back: the last kill, and a start without workers.
        self.kill()
        present = []
        if self.start("always", workers=False):
            rc, out, err = self.run(["ts-dump"])
            if rc != 0:
                self.problems.append("final ts-dump: " + err.strip())
            present = [json.loads(line) for line in out.splitlines()]
            self.run(["tsd", "-k"])
            rc, out, err = self.run(["tsd", "--check", self.data])
            if rc != 0:
                self.problems.append("tsd --check: status %d: %s%s" % (rc, out, err))
        return self.report(present)

    def report(self, present):
        if os.path.exists(self.wout):
            with open(self.wout) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) != 4:
                        self.problems.append("worker output: malformed line %r" % line)
                        continue
                    when = float(parts[0])
                    name, n = self.parse(["c", parts[1], parts[2] + " " + parts[3]], "worker")
                    if name is not None:
                        self.takes.append((name, n, when, when, False))
        here = {}
        order = {}
        for t in present:
            name, n = self.parse(t, "dump")
            if name is None:
                continue
            if (name, n) in here:
                self.problems.append("present twice: %s %d" % (name, n))
            here[(name, n)] = True
            if order.get(name, 0) >= n:
                self.problems.append("out of order: %s %d after %d" % (name, n, order[name]))
            order[name] = n
        taken = {}
        for name, n, start, end, confirmed in self.takes:
            taken.setdefault((name, n), []).append((start, end, confirmed))
        twice = 0
        for key, events in taken.items():
            if len(events) > 1:
                twice += 1
            for start, end, confirmed in events:
                if not confirmed:
                    continue
                if key in here:
                    self.problems.append("confirmed take came back: %s %d is present" % key)
                for s2, _, _ in events:
                    if s2 > end:
                        self.problems.append("confirmed take came back: %s %d taken again"
                                             % key)
        lost = [k for k in self.oks if k not in here and k not in taken]
        for k in lost[:20]:
            self.problems.append("lost: %s %d got ok but is neither present nor taken" % k)
        for name, first, count in self.failed_runs:
            seen = [i for i in range(first, first + count)
                    if (name, i) in here or (name, i) in taken]
            if seen and seen != list(range(first, first + len(seen))):
                self.problems.append("ts-out -l run %s %d-%d: kept %s, not a prefix"
                                     % (name, first, first + count - 1, seen))
        okset = set(self.oks)
        oksum = sum(zlib.crc32(("%s:%d" % k).encode()) for k in okset) & 0xffffffff
        found = {k for k in okset if k in here or k in taken}
        foundsum = sum(zlib.crc32(("%s:%d" % k).encode()) for k in found) & 0xffffffff
        log = open(self.log).read() if os.path.exists(self.log) else ""
        print("kills: %d (restarts by sync: always %d, batch %d, none %d)"
              % (getattr(self, "done_kills", 0), self.modes["always"], self.modes["batch"],
                 self.modes["none"]))
        print("outs ok: %d (checksum %08x); found present or taken: %d (checksum %08x)"
              % (len(okset), oksum, len(found), foundsum))
        print("present at the end: %d; takes: %d (%d confirmed for certain); "
              "taken more than once (at least once): %d"
              % (len(here), len(self.takes), sum(1 for t in self.takes if t[4]), twice))
        print("ts-out -l runs cut short: %d; compactions started %d, finished %d, failed %d; "
              "torn tails cut: %d; restarts retried: %d"
              % (len(self.failed_runs), log.count("compacting "), log.count("compacted "),
                 log.count("compaction of "), log.count("cut off a torn tail"), self.retried))
        print("the restarts waited for: the lock %d times, the socket %d times"
              % (self.why_retried["in use"], self.why_retried["listening"]))
        for p in self.problems[:50]:
            print("PROBLEM: " + p)
        print("problems: %d" % len(self.problems))
        return 1 if self.problems else 0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: crash.py DIR KILLS")
    os.makedirs(sys.argv[1], exist_ok=True)
    sys.exit(Crash(sys.argv[1], int(sys.argv[2])).go())


if __name__ == "__main__":
    main()
