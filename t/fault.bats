#!/usr/bin/env bats
# Faults: slow and greedy clients, running out of descriptors, half
# messages, and many clients at once with exact conservation.

load helper

fds_of() { ls "/proc/$1/fd" | wc -l; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
fds_are() { [ "$(fds_of "$TSD_PID")" -eq "$1" ]; }

@test "a reader that stops reading does not delay anyone else" {
    seq 50000 | ts-out -l big
    # ts-rd blocks on a pipe nobody reads, so it stops reading its socket.
    ts-rd -a big '?' | sleep 60 &
    bg $!
    wait_stat clients 2   # ts-rd is connected, its reply queued behind the stuck pipe
    for i in $(seq 20); do ts-out other "$i"; done
    run timeout 10 ts-in -n 20 other '?'
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 20 ]
}

@test "a client that sends requests without reading replies is throttled, not buffered" {
    before=$(rss_of "$TSD_PID")
    # 200000 rd requests (about 13 MB of replies) and never a read.
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.setblocking(False)
req = b"{\"op\":\"rd\",\"tmpl\":[\"x\",\"?\"],\"timeout\":0}\n" * 1000
sent = 0
deadline = time.time() + 5
while sent < 200 and time.time() < deadline:
    try:
        s.send(req); sent += 1
    except BlockingIOError:
        time.sleep(0.01)
print(sent)
time.sleep(1)' "$TS_SOCKET" > "$TS_TMP/sent" &
p=$!
bg $p
ts-out x 1
wait "$p"
after=$(rss_of "$TSD_PID")
    # It stopped reading once about 1 MiB of replies was queued: the client
    # could not even send all of its requests, and memory stayed small.
    [ "$(cat "$TS_TMP/sent")" -lt 200 ]
    # 16 MiB at most; AddressSanitizer and valgrind keep freed memory aside.
    limit=16384
    [ -z "${TS_ASAN:-}${TS_VALGRIND:-}" ] || limit=262144
    [ $((after - before)) -lt "$limit" ]
    [ "$(ts-rd x '?')" = 1 ]
}

@test "running out of descriptors: existing clients are served, new ones wait, then all recover" {
    stop_daemon
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    cd "$TS_TMP"
    eval "$(ulimit -n 32; tsd -d -s "$TS_TMP/sock" -l "$TS_TMP/tsd.log")"
    # Hold 60 connections: more than the daemon has descriptors for.
    python3 -c '
import socket, sys, time
held = []
for _ in range(60):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
time.sleep(0.5)
# The first connections were accepted and are served.
f = held[0].makefile("rwb"); f.write(b"{\"op\":\"stats\"}\n"); f.flush()
print(f.readline().decode().strip()[:11])
time.sleep(0.5)' "$TS_SOCKET" > "$TS_TMP/held"
    [ "$(cat "$TS_TMP/held")" = '{"ok":true,' ]
    grep -q "pausing new connections" "$TS_TMP/tsd.log"
    # They left: everything works again, and no descriptor leaked.
    run timeout 10 ts-out back 1
    [ "$status" -eq 0 ]
    [ "$(ts-dump)" = '["back",1]' ]
    wait_stat clients 1
}

@test "a client sending half a request and stalling does not block others" {
    "$WIRE" "$TS_SOCKET" --raw '{"op":"out","tuple":["half"' --replies 0 --hold &
    bg $!
    wait_stat clients 2
    ts-out whole 1
    [ "$(ts-dump)" = '["whole",1]' ]
}

@test "1000 clients doing mixed out, in and rd: every tuple taken exactly once, nothing leaks" {
    fds=$(fds_of "$TSD_PID")
    run python3 "$BATS_TEST_DIRNAME/lib/soak.py" "$TS_SOCKET" 1000 "${TS_SOAK_SECONDS:-3}"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "puts "* ]]
    wait_stat clients 1
    rss1=$(rss_of "$TSD_PID")
    # A second round the same size must not grow the daemon: what the first
    # round's clients used was given back (malloc keeps it for reuse).
    run python3 "$BATS_TEST_DIRNAME/lib/soak.py" "$TS_SOCKET" 1000 "${TS_SOAK_SECONDS:-3}"
    [ "$status" -eq 0 ]
    wait_stat clients 1
    rss2=$(rss_of "$TSD_PID")
    echo "rss after round 1: $rss1 KiB, after round 2: $rss2 KiB"
    # Under valgrind or ASan freed memory sits in a quarantine (20 MB, 256 MB)
    # instead of being reused; there the tool's own leak check is the proof.
    [ -n "${TS_VALGRIND:-}${TS_ASAN:-}" ] || [ $((rss2 - rss1)) -lt 8192 ]
    wait_stat clients 1
    [ "$(stat_of tuples)" = 0 ]
    [ "$(stat_of lent)" = 0 ]
    [ "$(stat_of waiters)" = 0 ]
    # The last ts-dump's connection may still be closing: give it a moment.
    wait_for fds_are "$fds" ||
        { echo "the daemon has $(fds_of "$TSD_PID") descriptors, not $fds" >&2; false; }
}

@test "pipelined requests from a client that half-closes and reads late are all answered" {
    # Failed before the fix: the check for a further line overwrote its newline.
    run python3 "$BATS_TEST_DIRNAME/../fuzz/regress/daemon-eof-throttle.py" "$TS_SOCKET"
    [ "$status" -eq 0 ]
    [[ "$output" == *"requests 30 final lines 30 errors 0"* ]]
}

@test "draining a million tuples while confirming them does not deadlock" {
    [ -z "${TS_VALGRIND:-}" ] || skip "too slow under valgrind"
    # Failed before the fix: the daemon, with over 1 MiB of reply queued,
    # stopped reading the client's acks; the client, its socket full of
    # acks, stopped reading the reply.  Both waited for ever.
    seq 1000000 | ts-out -l n
    run timeout 120 sh -c "ts-in -a n '?' | wc -l"
    [ "$status" -eq 0 ]
    [ "$output" -eq 1000000 ]
    [ "$(stat_of tuples)" = 0 ]
    [ "$(stat_of lent)" = 0 ]
}

@test "no request makes the daemon open a file or run a program (eval aside)" {
    command -v strace > /dev/null || skip "needs strace"
    strace -f -qq -e trace=open,openat,creat,execve,unlink,unlinkat,rename,renameat,mkdir,chmod \
        -o "$TS_TMP/trace" -p "$TSD_PID" &
    st=$!
    bg $st
    wait_for grep -q 'TracerPid:[[:space:]]*[1-9]' "/proc/$TSD_PID/status"
    # Nine requests, eight replies: an ack has none.
    run "$WIRE" "$TS_SOCKET" --replies 8 \
        '{"op":"out","tuple":["/etc/passwd","../../x"],"file":"/etc/shadow","cwd":"/"}' \
        '{"op":"rd","tmpl":["/etc/passwd","?"],"timeout":0,"argv":["/bin/sh"]}' \
        '{"op":"in","tmpl":["?~/etc/.*","?"],"timeout":0}' \
        '{"op":"dump","tmpl":["?","?"],"waiters":true,"path":"/tmp/x"}' \
        '{"op":"stats","log":"/tmp/evil"}' '{"op":"ack","id":1}' '{"op":"exec","argv":["id"]}' \
        '{"op":"out","tuple":["$(touch /tmp/pwned)","`id`"]}' '{"op":"dump"}'
    kill "$st"
    wait "$st" 2> /dev/null || true
    echo "$(cat "$TS_TMP/trace")"
    # grep's 1: it read the trace and found no such call.
    run grep -E 'open|creat|execve|unlink|rename|mkdir|chmod' "$TS_TMP/trace"
    [ "$status" -eq 1 ]
    [ ! -e /tmp/pwned ]
}
