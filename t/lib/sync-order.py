#!/usr/bin/env python3
"""Check from an strace of tsd --sync always that no out was answered early.

sync-order.py TRACE

TRACE is strace -s 4096 -e trace=read,pwrite64,fdatasync,sendto output for
the daemon.  Requests are followed per connection (read), each out by the
first string of its first tuple, which must be unique in the run; the
journal's pwrite64 holding that string writes its records, an fdatasync
after it syncs them, and the final line ("ok":) answering the out on its
connection (sendto) must come after that sync.  Prints how many out replies
were checked and every one sent early; exits 1 if any was, or if fewer than
one was checked.
"""
import re
import sys

LINE = re.compile(r'^(?:\d+ +)?(read|pwrite64|fdatasync|sendto)\((\d+)(?:, "((?:[^"\\]|\\.)*)")?')


def main():
    pending = {}   # fd: requests read and not yet answered, as (op, key)
    partial = {}   # fd: the start of a request line not yet complete
    state = {}     # key: "written", then "synced"
    checked, early = 0, []
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            call, fd, data = m.group(1), int(m.group(2)), m.group(3) or ""
            if call == "read":
                chunks = (partial.pop(fd, "") + data).split("\\n")
                partial[fd] = chunks.pop()
                for req in chunks:
                    op = re.search(r'\\"op\\":\\"(\w+)\\"', req)
                    if op is None or op.group(1) == "ack":
                        continue
                    key = re.search(r'\[\\"(\w+)\\"', req) if op.group(1) == "out" else None
                    pending.setdefault(fd, []).append((op.group(1), key.group(1) if key else None))
            elif call == "pwrite64":
                for reqs in pending.values():
                    for op, key in reqs:
                        if op == "out" and key not in state and '\\"%s\\"' % key in data:
                            state[key] = "written"
            elif call == "fdatasync":
                for key in state:
                    state[key] = "synced"
            else:
                for _ in range(data.count('\\"ok\\":')):
                    op, key = pending.get(fd, [(None, None)]).pop(0) if pending.get(fd) else (None, None)
                    if op != "out":
                        continue
                    checked += 1
                    if state.get(key) != "synced":
                        early.append("the out of %s answered %s" % (
                            key, "before its records were synced" if key in state
                            else "before its records were written"))
    print("%d out replies checked" % checked)
    for e in early:
        print(e)
    sys.exit(1 if early or checked == 0 else 0)


if __name__ == "__main__":
    main()
