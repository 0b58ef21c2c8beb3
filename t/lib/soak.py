#!/usr/bin/env python3
"""Many clients doing mixed out/in/rd at once, then an exact conservation check.

soak.py SOCKET CLIENTS SECONDS

Each client is one connection running a random sequence of requests, one at
a time: out of a numbered tuple, in (confirmed with an ack), rd.  At the end
everything left is drained, and every number put must have been taken
exactly once (every client acks, none dies, so at-least-once is exactly
once here).  Prints "puts N takes N reads N" and exits 1 on any mismatch.
Bounded in time: it stops issuing requests after SECONDS and gives the
replies 30 s more.
"""
import json
import random
import selectors
import socket
import sys
import time

path, nclients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
random.seed(7)
sel = selectors.DefaultSelector()
put, taken, reads = [], [], 0
next_n = 0


class Client:
    def __init__(self, i):
        self.i = i
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.setblocking(False)
        self.buf = b""
        self.pending = None
        sel.register(self.s, selectors.EVENT_READ, self)

    def send(self, obj):
        self.s.sendall((json.dumps(obj) + "\n").encode())

    def issue(self):
        global next_n
        r = random.random()
        if r < 0.45:
            next_n += 1
            put.append(next_n)
            self.pending = "out"
            self.send({"op": "out", "tuple": ["soak", next_n, "x" * random.randint(0, 64)]})
        elif r < 0.85:
            self.pending = "in"
            self.send({"op": "in", "tmpl": ["soak", "?int", "?"], "timeout": 0.05})
        else:
            self.pending = "rd"
            self.send({"op": "rd", "tmpl": ["soak", "?int", "?"], "timeout": 0})

    def lines(self):
        try:
            data = self.s.recv(65536)
        except BlockingIOError:
            return []
        if not data:
            raise SystemExit("soak: client %d: connection closed" % self.i)
        self.buf += data
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            out.append(json.loads(line))
        return out


def main():
    global reads
    clients = [Client(i) for i in range(nclients)]
    end = time.time() + seconds
    for c in clients:
        c.issue()
    busy = nclients
    while busy > 0 and time.time() < end + 30:
        for key, _ in sel.select(timeout=1):
            c = key.data
            for msg in c.lines():
                if "tuple" in msg:
                    if c.pending == "in":
                        taken.append(msg["tuple"][1])
                        c.send({"op": "ack", "id": msg["id"]})
                    else:
                        reads += 1
                    continue
                if not msg.get("ok") and msg.get("code") != "nomatch":
                    raise SystemExit("soak: error reply: %r" % msg)
                c.pending = None
                if time.time() < end:
                    c.issue()
                else:
                    busy -= 1
    if busy:
        raise SystemExit("soak: %d clients never got their last reply" % busy)
    # Drain what is left with one more client.
    d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    d.connect(path)
    f = d.makefile("rwb")
    f.write(b'{"op":"in","tmpl":["soak","?int","?"],"all":true}\n')
    f.flush()
    last = None
    while True:
        msg = json.loads(f.readline())
        if "tuple" in msg:
            taken.append(msg["tuple"][1])
            last = msg["id"]
            continue
        break
    if last is not None:
        f.write(('{"op":"ack","id":%d}\n' % last).encode())
        f.flush()
    for c in clients:
        c.s.close()
    d.close()
    print("puts %d takes %d reads %d" % (len(put), len(taken), reads))
    if sorted(put) != sorted(taken):
        missing = set(put) - set(taken)
        dup = len(taken) - len(set(taken))
        raise SystemExit("soak: conservation broken: %d missing, %d duplicated" % (len(missing), dup))


main()
