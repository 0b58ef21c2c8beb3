#!/usr/bin/env bats
# The docs are the contract: each gap a client written from ts-protocol(7)
# alone found between the pages and the daemon, held shut by a test.

load helper

MAN="$BATS_TEST_DIRNAME/../man"

lines_at_least() {
    [ "$(wc -l < "$1")" -ge "$2" ]
}

# A client that takes with count 2, gets the one tuple there, then sends
# the line given while its in still waits; it prints every line it reads.
take_then() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile("rwb")
f.write(b"{\"op\":\"in\",\"tmpl\":[\"job\",\"?\"],\"count\":2}\n"); f.flush()
print(f.readline().decode().strip(), flush=True)
f.write(sys.argv[2].encode() + b"\n"); f.flush()
for line in f:
    print(line.decode().strip(), flush=True)
' "$TS_SOCKET" "$1"
}

@test "4.1: an ack with \"v\":1 is handled at once while a request waits" {
    ts-out job 1
    take_then '{"op":"ack","id":1,"v":1}' > "$TS_TMP/out" &
    bg $!
    wait_stat waiters 1
    wait_stat lent 0
    [ "$(stat_of waiters)" = 1 ]
    run ts-dump job '?'
    [ -z "$output" ]
}

@test "4.2: a malformed ack while a request waits is answered in its turn, after that request" {
    ts-out job 1
    take_then '{"op":"ack","id":"one"}' > "$TS_TMP/out" &
    bg $!
    wait_stat waiters 1
    ts-out job 2
    wait_stat lent 2
    wait_for lines_at_least "$TS_TMP/out" 4
    run cat "$TS_TMP/out"
    [[ "${lines[0]}" == '{"id":1,"tuple":["job",1]}' ]]
    [[ "${lines[1]}" == '{"id":2,"tuple":["job",2]}' ]]
    [[ "${lines[2]}" == '{"ok":true,"n":2}' ]]
    [[ "${lines[3]}" == *'"code":"bad"'*'ack needs an'* ]]
    # The page says so, and no longer the opposite.
    if grep -q 'gets its error line at once' "$MAN/ts-protocol.7"; then false; fi
    grep -q 'waits its turn' "$MAN/ts-protocol.7"
}

@test "4.3: a daemon that refuses this user makes every client exit 3, as every page says" {
    # A stand-in daemon of our own uid that answers as one of another uid would.
    python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"{\"ok\":false,\"code\":\"denied\",\"error\":\"permission denied: uid 1001 is not the daemon'"'"'s uid\"}\n")
    c.close()
' "$TS_TMP/denied" > "$TS_TMP/fake.out" &
    bg $!
    wait_for test -S "$TS_TMP/denied"
    run ts-dump -s "$TS_TMP/denied"
    [ "$status" -eq 3 ]
    [[ "$output" == *"permission denied"* ]]
    run ts-rd -s "$TS_TMP/denied" -t 0 x
    [ "$status" -eq 3 ]
    # Every page and the README give 3 for another uid, none 4.
    grep -q 'The clients exit with status 3' "$MAN/tsd.1"
    awk '/^\.It Cm denied/,/^\.It Cm failed/' "$MAN/ts-protocol.7" | grep -q 'status 3'
    if grep -n 'refuses this user' "$MAN/ts-dump.1"; then false; fi
    if grep -n 'peer of another uid' "$BATS_TEST_DIRNAME/../README.md"; then false; fi
    if grep -n 'exit with status 4 in that case' "$MAN/tsd.1"; then false; fi
}

@test "4.4: U+0000 in a string is refused with a plain message, as ts-tuples(7) says" {
    run wire '{"op":"out","tuple":["a\u0000"]}'
    [ "$output" = '{"ok":false,"code":"bad","error":"malformed request at byte 30: a string may not hold U+0000 (NUL)"}' ]
    grep -q 'U+0000' "$MAN/ts-tuples.7"
    if grep -q 'U+0000 to U+001F, escaped' "$MAN/ts-tuples.7"; then false; fi
}

@test "4.5: nesting stops at 1000 levels in a field, wherever the tuple is, with the documented message" {
    ok=$(printf '[%.0s' $(seq 1000))1$(printf ']%.0s' $(seq 1000))
    deep="[$ok]"
    run wire "{\"op\":\"out\",\"tuple\":[$ok]}" "{\"op\":\"out\",\"tuples\":[[$ok],[1]]}" \
        "{\"op\":\"out\",\"tuple\":[$deep]}" "{\"op\":\"out\",\"tuples\":[[1],[$deep]]}" \
        "{\"op\":\"rd\",\"tmpl\":[$deep],\"timeout\":0}"
    [ "${lines[0]}" = '{"ok":true,"n":1}' ]
    [ "${lines[1]}" = '{"ok":true,"n":2}' ]
    [[ "${lines[2]}" == *'"bad"'*'field 1 nests arrays and objects more than 1000 deep'* ]]
    [[ "${lines[3]}" == *'"bad"'*'tuple 2: field 1 nests arrays and objects more than 1000 deep'* ]]
    [[ "${lines[4]}" == *'"bad"'*'nested more than 1000 deep'* ]]
    run ts-out -j "[$deep]"
    [ "$status" -eq 2 ]
    [[ "$output" == *"field 1 nests arrays and objects more than 1000 deep" ]]
    run ts-out x "$deep"
    [ "$status" -eq 2 ]
    grep -q 'more than 1000 deep' "$MAN/ts-tuples.7"
    if grep -q 'to any depth' "$MAN/ts-tuples.7"; then false; fi
}

@test "4.6: lines of blanks and empty CRLF lines are ignored; a CR does not count towards -m" {
    run wire --raw '   \n\t\n\r\n \r\n{"op":"stats"}\r\n' --replies 1
    [[ "$output" == '{"ok":true,"stats":'* ]]
    stop_daemon
    start_daemon -m 64
    line='{"op":"out","tuple":["abcdefghijklmnopqrstuvwxyzabcdefghijklm"]}'
    [ "${#line}" -eq 64 ]
    run wire --raw "$line\\r\\n" --replies 1
    [ "$output" = '{"ok":true,"n":1}' ]
    run wire --raw "${line%\"]\}}n\"]}\\r\\n" --replies 1
    [[ "$output" == *'longer than 64 bytes'* ]]
}

@test "4.7: ts-out(1) gives the batch size the code uses" {
    bytes=$(sed -n 's/^#define BATCH_BYTES (\([0-9]*\)u << 10).*/\1/p' "$BATS_TEST_DIRNAME/../lib/client/bulk.c")
    [ -n "$bytes" ]
    tr '\n' ' ' < "$MAN/ts-out.1" | grep -q "tuples or about $bytes KiB"
    if grep -q '1 MiB' "$MAN/ts-out.1"; then false; fi
}

@test "4.8: the socat examples of ts-protocol(7) work, the worker loop too" {
    command -v socat > /dev/null || skip "socat is not installed"
    # A reply that comes after more than half a second needs socat -t.
    run sh -c "echo '{\"op\":\"in\",\"tmpl\":[\"none\"],\"timeout\":1}' | socat -t 5 - UNIX-CONNECT:\"\$TS_SOCKET\""
    [[ "$output" == *'"code":"nomatch"'* ]]
    grep -q 'socat -t 5' "$MAN/ts-protocol.7"
    # The worker loop, as the page prints it.
    awk '/^A worker loop in/ { want = 1 } want && /^\.Bd -literal/ { on = 1; next }
         on && /^\.Ed/ { exit } on { print }' "$MAN/ts-protocol.7" | sed 's/\\e/\\/g' > "$TS_TMP/loop.sh"
    [ -s "$TS_TMP/loop.sh" ]
    ts-out job a.jpg
    ts-out job b.jpg
    bash "$TS_TMP/loop.sh" > "$TS_TMP/loop.out" 2>&1 &
    bg $!
    ts-in -t 10 done a.jpg
    ts-in -t 10 done b.jpg
    wait_stat lent 0
    [ "$(stat_of tuples)" = 0 ]
}

@test "4.9: count, id and v take integral reals; an ack with another v gets a version error" {
    ts-out job 1
    ts-out job 2
    ts-out job 3
    run timeout 10 "$WIRE" "$TS_SOCKET" '{"v":1.0,"op":"in","tmpl":["job","?"],"count":2.0,"timeout":0}' \
        '{"op":"ack","id":2.0}' '{"op":"stats","v":1.0}' --replies 4
    [ "${lines[2]}" = '{"ok":true,"n":2}' ]
    [[ "${lines[3]}" == '{"ok":true,"stats":'*'"lent":0'* ]]
    [ "$(ts-dump)" = '["job",3]' ]
    run wire '{"op":"ack","id":1,"v":2}'
    [[ "$output" == *'"code":"version"'* ]]
    awk '/^\.It Cm ack$/,/^\.It Cm dump$/' "$MAN/ts-protocol.7" | grep -q 'version'
}

@test "every page's SYNOPSIS is its command's usage, and every option of --help is on its page" {
    command -v man > /dev/null || skip "man is not installed"
    for cmd in tsd ts-out ts-in ts-rd ts-dump ts-eval ts-worker ts-top; do
        # One line per form: a usage line that does not start with the
        # command's name continues the form before it.
        forms='{ sub(/^ +/, "") } $1 == c { if (f != "") print f; f = $0; next } { f = f " " $0 } END { print f }'
        usage=$("$cmd" --help | sed -n '1,/^$/p' | sed 's/^usage: //; /^$/d' | awk -v c="$cmd" "$forms")
        synopsis=$(MANWIDTH=300 man -l "$MAN/$cmd.1" 2>/dev/null |
            sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d; /^ *$/d' | awk -v c="$cmd" "$forms")
        [ "$usage" = "$synopsis" ] || { echo "$cmd: usage: $usage; synopsis: $synopsis"; false; }
        for opt in $("$cmd" --help | grep -oE '^  +-(-[a-z]+|[0-9A-Za-z])' | tr -d ' '); do
            case $opt in
            --*) grep -q "^\.It .*Fl -${opt#--}" "$MAN/$cmd.1" ;;
            *) grep -q "^\.It Fl ${opt#-}\b" "$MAN/$cmd.1" ;;
            esac || { echo "$cmd: $opt is not on its page"; false; }
        done
    done
}
