#!/usr/bin/env python3
"""Pipelined requests, then EOF, from a client that reads its replies late.

Not a fuzz-target reproducer (the fuzz targets cannot reach it: their copy of
serve_input drains every reply at once, so a client is never throttled).
Found by reading lib/session.c.  Usage: start tsd -s SOCKET, then
    python3 fuzz/regress/daemon-eof-throttle.py SOCKET
Every one of the 30 requests should get one final line and no error; with the
bug some get "malformed request ... end of file expected" and some none.

serve_input stops serving when more than TS_OUT_HIGH (1 MiB) of replies is
queued (THROTTLED), with complete request lines still in c->in.  Its last
step, for a client at EOF, is `ts_buf_line(&c->in, &line) < 0`, only meant
as a test, but ts_buf_line overwrites the newline it finds with a NUL.  When
serving resumes, the next two requests read as one line "A\0B": one error
for two requests (and the last line of the buffer can lose its request).
"""
import socket,time,sys
path=sys.argv[1]
s=socket.socket(socket.AF_UNIX); s.connect(path)
s.sendall(b'{"op":"out","tuple":["big","' + b'x'*100000 + b'"]}\n'); s.recv(100); s.close()
K=30
s=socket.socket(socket.AF_UNIX); s.connect(path)
s.sendall(b''.join(b'{"op":"rd","tmpl":["big","?"],"timeout":0}\n' for _ in range(K)))
s.shutdown(socket.SHUT_WR)          # all requests sent; read the replies later
time.sleep(0.5)
data=b''; s.settimeout(3)
try:
    while True:
        d=s.recv(1<<20)
        if not d: break
        data+=d
except socket.timeout: print('timeout while reading')
lines=data.split(b'\n')[:-1]
finals=[l for l in lines if l.startswith(b'{"ok"')]
print('requests',K,'final lines',len(finals),'errors',sum(1 for f in finals if b'"ok":false' in f))
for f in finals:
    if b'false' in f: print(' ',f.decode()); break
sys.exit(0 if len(finals) == K and b'"ok":false' not in data else 1)
