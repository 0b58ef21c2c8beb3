#!/usr/bin/env python3
"""Speak the wire protocol raw, as any program could.

wire.py SOCKET [--replies N] [--hold] [--raw] [--file PATH] LINE...

Sends each LINE followed by a newline (with --raw, LINE is sent as given,
bytes escaped as in Python: \\xff), then prints N reply lines (default: one
per line sent).  With --hold it then sleeps until killed, keeping the
connection open, so a test can kill it at a chosen moment.  --file PATH
sends that file's bytes as they are (and counts as one line sent).
"""
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    path = args.pop(0)
    replies = None
    hold = raw = False
    lines = []
    while args:
        a = args.pop(0)
        if a == "--replies":
            replies = int(args.pop(0))
        elif a == "--hold":
            hold = True
        elif a == "--raw":
            raw = True
        elif a == "--file":
            with open(args.pop(0), "rb") as f:
                lines.append(f.read())
        else:
            lines.append(a)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    for line in lines:
        if isinstance(line, bytes):
            data = line
        else:
            data = line.encode("latin-1").decode("unicode_escape").encode("latin-1") if raw \
            else (line + "\n").encode()
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            break  # refused while sending: its reason is still there to read
    if replies is None:
        replies = len(lines)
    f = s.makefile("rb")
    for _ in range(replies):
        reply = f.readline()
        if not reply:
            print("EOF")
            break
        sys.stdout.write(reply.decode())
        sys.stdout.flush()
    if hold:
        while True:
            time.sleep(60)


main()
