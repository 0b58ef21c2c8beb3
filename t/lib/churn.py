#!/usr/bin/env python3
"""Move tuples through the space fast, over one connection.

churn.py SOCKET MODE COUNT [SIZE]

  move     out 100 tuples ["big", i, PAYLOAD] at a time (PAYLOAD of SIZE
           bytes), then take them back with one in of count 100 and ack
           them all: COUNT tuples in all, the space empty after each round.
  window   put tuples ["w", i] 1000 at a time and take each thousand with
           one in of count 1000, acking every id but the newest, so that
           one tuple stays lent from each take to the next (a pipelining
           consumer's sliding window); a last ack confirms it.  COUNT
           tuples in all.

Prints the number of tuples moved, then the daemon's resident set in kB
when a tenth of them had moved and at the end, both measured while this
connection (and whatever the daemon keeps for it) is still open.
"""
import json
import socket
import sys


def main():
    path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rwb", buffering=1 << 20)

    def reply():
        line = f.readline()
        if not line:
            sys.exit("churn.py: connection closed")
        return json.loads(line)

    def take(tmpl, n):
        f.write(json.dumps({"op": "in", "tmpl": tmpl, "count": n}).encode() + b"\n")
        f.flush()
        ids = []
        while True:
            r = reply()
            if "id" in r:
                ids.append(r["id"])
            elif r.get("ok"):
                return ids
            else:
                sys.exit("churn.py: %s" % r)

    def rss():
        f.write(b'{"op":"stats"}\n')
        f.flush()
        r = reply()
        while "stats" not in r:
            r = reply()
        with open("/proc/%d/status" % r["stats"]["pid"]) as st:
            for line in st:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    moved = 0
    early = None
    if mode == "move":
        payload = "x" * size
        while moved < count:
            batch = [["big", moved + i, payload] for i in range(100)]
            f.write(json.dumps({"op": "out", "tuples": batch}).encode() + b"\n")
            f.flush()
            if not reply().get("ok"):
                sys.exit("churn.py: out refused")
            ids = take(["big", "?", "?"], 100)
            f.write(b'{"op":"ack","id":%d}\n' % ids[-1])
            moved += len(ids)
            if early is None and moved >= count // 10:
                early = rss()
    elif mode == "window":
        last = None
        while moved < count:
            batch = [["w", moved + i] for i in range(1000)]
            f.write(json.dumps({"op": "out", "tuples": batch}).encode() + b"\n")
            f.flush()
            if not reply().get("ok"):
                sys.exit("churn.py: out refused")
            ids = take(["w", "?"], 1000)
            last = ids[-1]
            if len(ids) > 1:
                f.write(b'{"op":"ack","id":%d}\n' % ids[-2])
            moved += len(ids)
            if early is None and moved >= count // 10:
                early = rss()
    late = rss()
    if mode == "window":
        f.write(b'{"op":"ack","id":%d}\n' % last)
        f.flush()
    print(moved, early, late)


main()
