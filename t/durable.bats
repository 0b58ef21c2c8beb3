#!/usr/bin/env bats
# The durable space (tsd -D): what survives the daemon's death, recovery from
# torn and damaged logs, the directory's checks and lock, and a full disk.

load helper

setup() {
    start_durable
}

# The log segment a fresh directory writes to.
LOG1=log.0000000001

# Wait for a line in the daemon's log, which it may write after tsd -d
# has returned.
wait_log() {
    wait_for grep -q -- "$1" tsd.log
}

syncs_above() {
    [ "$(stat_of syncs)" -gt "$1" ]
}

compacted() {
    [ "$(stat_of compactions)" -ge 1 ]
}

@test "-D creates its directory 0700 and logs what it replayed" {
    [ "$(stat -c %a "$DATA")" = 700 ]
    [ -f "$DATA/$LOG1" ]
    wait_log "durable space in $DATA (sync always): replayed 0 tuples"
    [ "$(stat_of log_bytes)" -gt 0 ]
}

@test "after kill -9 every tuple is back, in the same order, takes and all" {
    ts-out job 1
    seq 2 6 | ts-out -l job
    ts-out -j '["other","é",1.5,{"b":[true,null],"a":-0.25}]'
    ts-out job 7
    [ "$(ts-in -j job '"3"')" = '["job","3"]' ]
    before=$(ts-dump)
    [ "$(echo "$before" | wc -l)" = 7 ]
    crash_restart
    [ "$(ts-dump)" = "$before" ]
    wait_log "replayed 7 tuples"
    # New tuples go after the old ones, whatever their seqs were.
    ts-out job 8
    [ "$(ts-dump | tail -n 1)" = '["job",8]' ]
    crash_restart
    [ "$(ts-dump)" = "$before"$'\n["job",8]' ]
}

@test "a tuple with a text the fast reader leaves to jansson comes back the same" {
    ts-out -j '["u","é\t\"x\u00e8",1.5e300,{"b":[true,null],"a":-0.25}]'
    before=$(ts-dump)
    crash_restart
    [ "$(ts-dump)" = "$before" ]
    [ "$(ts-in -j u '?' '?' '?')" = "$before" ]
}

@test "a tuple lent and not confirmed when the daemon dies comes back in its old place" {
    ts-out a 1
    ts-out a 2
    ts-out a 3
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["a",2]}' > held &
    bg $!
    wait_stat lent 1
    [ "$(ts-dump)" = $'["a",1]\n["a",3]' ]
    crash_restart
    [ "$(ts-dump)" = $'["a",1]\n["a",2]\n["a",3]' ]
    [ "$(stat_of lent)" = 0 ]
}

@test "a confirmed take never comes back" {
    ts-out a 1
    ts-out a 2
    ts-out a 3
    [ "$(ts-in a '?')" = 1 ]
    [ "$(ts-in -j a 3)" = '["a",3]' ]
    # This request comes after the acks: they have been logged by now.
    wait_stat tuples 1
    crash_restart
    [ "$(ts-dump)" = '["a",2]' ]
}

@test "a worker's confirmed take does not come back; workers are not restarted" {
    ts-out job 1
    ts-out job 2
    ts-eval --name w --take 'job 1' --put 'done {2}' -- true
    [ "$(ts-in done '?')" = 1 ]
    # The worker confirms after its put: wait for the ack, not for the put.
    wait_stat lent 0
    ts-eval --name slow --take 'job ?int' -- sleep 600
    wait_stat lent 1
    crash_restart
    [ "$(ts-dump)" = '["job",2]' ]
    [ "$(stat_of workers)" = 0 ]
}

@test "every sync policy keeps every answered out and ack across kill -9" {
    for mode in always batch none; do
        crash_restart --sync "$mode"
        wait_log "durable space in $DATA (sync $mode)"
        ts-out "$mode" 1
        seq 3 | ts-out -l "$mode"
        [ "$(ts-in -j "$mode" 1)" = "[\"$mode\",1]" ]
        ts-dump -S > /dev/null
    done
    crash_restart --sync batch --batch-ms 5000
    [ "$(ts-dump)" = "$(printf '["%s","1"]\n["%s","2"]\n["%s","3"]\n' always always always \
        batch batch batch none none none)" ]
}

@test "sync batch syncs within its interval, sync none never does" {
    crash_restart --sync batch --batch-ms 20
    syncs=$(stat_of syncs)
    ts-out a 1
    wait_for syncs_above "$syncs"
    crash_restart --sync none
    ts-out a 2
    ts-out a 3
    [ "$(stat_of syncs)" = 0 ]
}

@test "sync always: no out is answered before the fdatasync of its records" {
    command -v strace > /dev/null || skip "needs strace"
    crash_restart --sync always
    strace -s 4096 -e trace=read,pwrite64,fdatasync,sendto -o trace -p "$TSD_PID" 2> strace.err &
    st=$!
    bg $st
    wait_for grep -q attached strace.err
    # One client waits for a tuple with an out queued behind its in: the out is
    # served when the wait ends, inside the loop's pre-wait step, after the
    # iteration's sync; its reply must wait for the next one.
    "$WIRE" "$TS_SOCKET" --replies 3 '{"op":"in","tmpl":["go","?"]}' '{"op":"out","tuple":["late",1]}' > resumed &
    w=$!
    wait_stat waiters 1
    # Other clients meanwhile, some putting and some taking.
    others=()
    for i in $(seq 8); do
        ts-out "k$i" 1 &
        others+=($!)
        ts-in -t 5 "k$((9 - i))" '?' > /dev/null &
        others+=($!)
    done
    ts-out go 1
    seq 20 | ts-out -l many
    wait "$w"
    for p in "${others[@]}"; do wait "$p"; done
    ts-out last 1
    kill "$st"
    wait "$st" || true
    [ "$(grep -c '"ok":true' resumed)" = 2 ]
    [ "$(ts-dump late '?')" = '["late",1]' ]
    run "$BATS_TEST_DIRNAME/lib/sync-order.py" trace
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "1"[0-9]" out replies checked"* ]]
}

@test "a torn last record is cut off, and the log says how many bytes" {
    ts-out a 1
    ts-out a 2
    ts-out a 3
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    # Each record of ["a",N] is 24 bytes after the 36-byte header.
    [ "$(stat -c %s "$DATA/$LOG1")" = 108 ]
    truncate -s 103 "$DATA/$LOG1"
    run tsd --check "$DATA"
    [ "$status" -eq 0 ]
    [[ "$output" == *"torn tail: $DATA/$LOG1: 19 bytes from offset 84 (record cut short)"* ]]
    daemon_up -D "$DATA"
    [ "$(ts-dump)" = $'["a",1]\n["a",2]' ]
    wait_log "cut off a torn tail of 19 bytes at offset 84"
    [ "$(stat -c %s "$DATA/$LOG1")" = 84 ]
    ts-out a 4
    crash_restart
    [ "$(ts-dump)" = $'["a",1]\n["a",2]\n["a",4]' ]
}

@test "a log cut at any offset of its last records recovers a prefix of what was written" {
    for i in 1 2 3 4; do ts-out t "$i"; done
    [ "$(ts-in -j t 2)" = '["t",2]' ]
    ts-dump -S > /dev/null
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    cp "$DATA/$LOG1" whole
    size=$(stat -c %s whole)
    # Records: outs of 24 bytes at 36, 60, 84, 108, a deletion of 17 at 132.
    [ "$size" = 149 ]
    for cut in $(seq 84 149); do
        cp whole "$DATA/$LOG1"
        truncate -s "$cut" "$DATA/$LOG1"
        daemon_up -D "$DATA"
        got=$(ts-dump)
        tsd -k
        if [ "$cut" -lt 108 ]; then
            want=$'["t",1]\n["t",2]'
        elif [ "$cut" -lt 132 ]; then
            want=$'["t",1]\n["t",2]\n["t",3]'
        elif [ "$cut" -lt 149 ]; then
            want=$'["t",1]\n["t",2]\n["t",3]\n["t",4]'
        else
            want=$'["t",1]\n["t",3]\n["t",4]'
        fi
        [ "$got" = "$want" ] || { echo "cut at $cut: got $got, want $want"; false; }
    done
}

@test "a bad record before good ones is refused, naming file and offset; --check --fix truncates" {
    ts-out a 1
    ts-out a 2
    ts-out a 3
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    # A byte of the second record's text.
    printf 'X' | dd of="$DATA/$LOG1" bs=1 seek=79 conv=notrunc 2> /dev/null
    run tsd -d -s "$TS_TMP/sock" -D "$DATA"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "tsd: $DATA/$LOG1: damaged at offset 60: record checksum mismatch, and more records follow (tsd --check --fix truncates the log there)" ]
    [ "${lines[1]}" = "(exit 2)" ]
    [ ! -e "$TS_TMP/sock" ]
    # eval "$(tsd -d -D DIR)" says why, fails with status 2, and defines nothing.
    TSD_PID=
    status=0
    eval "$(tsd -d -s "$TS_TMP/sock" -D "$DATA" 2> err)" || status=$?
    [ "$status" -eq 2 ]
    [ -z "$TSD_PID" ]
    grep -q "damaged at offset 60" err
    run tsd --check "$DATA"
    [ "$status" -eq 1 ]
    [[ "$output" == *"damaged: $DATA/$LOG1 at offset 60: record checksum mismatch"* ]]
    [[ "$output" == *"tsd: $DATA is damaged; tsd --check --fix truncates its log there"* ]]
    [ "$(stat -c %s "$DATA/$LOG1")" = 108 ]
    run tsd --check "$DATA" --fix
    [ "$status" -eq 0 ]
    [[ "$output" == *"fixed: truncated $DATA/$LOG1 to 60 bytes"* ]]
    run tsd --check "$DATA"
    [ "$status" -eq 0 ]
    daemon_up -D "$DATA"
    [ "$(ts-dump)" = '["a",1]' ]
}

@test "--check describes a sound directory, in use or not, and refuses a missing one" {
    ts-out a 1
    ts-out a 2
    [ "$(ts-in -j a 1)" = '["a",1]' ]
    run tsd --check "$DATA"
    [ "$status" -eq 0 ]
    [[ "$output" == "$DATA is in use by tsd pid $TSD_PID: what follows is a moment of a live journal"* ]]
    [[ "$output" == *"$LOG1: log segment, 101 bytes, 2 outs, 1 deletions"* ]]
    [[ "$output" == *"3 records, 1 live tuples (7 bytes of text), highest seq 2"* ]]
    run tsd --check "$DATA" --fix
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: $DATA is in use by tsd pid $TSD_PID" ]
    run tsd --check "$TS_TMP/nothing"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: cannot open $TS_TMP/nothing: No such file or directory" ]
    [ ! -e "$TS_TMP/nothing" ]
}

@test "a second daemon on the directory is refused, naming the pid that holds it" {
    ts-out a 1
    run tsd -d -s "$TS_TMP/other" -D "$DATA"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "tsd: $DATA is in use by tsd pid $TSD_PID" ]
    [ ! -e "$TS_TMP/other" ]
    # And after a restart the lock names the new daemon.
    crash_restart
    run tsd -s "$TS_TMP/other" -D "$DATA"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: $DATA is in use by tsd pid $TSD_PID" ]
    [ "$(ts-dump)" = '["a",1]' ]
}

@test "a data directory that is a symlink, writable by others or foreign is refused" {
    mkdir -m 700 real
    ln -s "$TS_TMP/real" link
    run tsd -s "$TS_TMP/s2" -D "$TS_TMP/link"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: $TS_TMP/link is a symbolic link; give the directory itself" ]
    mkdir -m 777 open
    run tsd -s "$TS_TMP/s2" -D "$TS_TMP/open"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: $TS_TMP/open is writable by others (mode 0777); chmod go-w it" ]
    if [ "$(id -u)" = 0 ]; then
        mkdir -m 700 theirs
        chown nobody theirs
        run tsd -s "$TS_TMP/s2" -D "$TS_TMP/theirs"
        [ "$status" -eq 2 ]
        [ "$output" = "tsd: $TS_TMP/theirs is owned by uid $(id -u nobody), not by this user (uid 0)" ]
    fi
    [ ! -e "$TS_TMP/s2" ]
    [ -z "$(ls -A real)" ]
    [ -z "$(ls -A open)" ]
}

@test "options: bad policies and sizes, and options out of place, are usage errors" {
    run tsd --sync sometimes -D "$DATA"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: bad sync policy 'sometimes': always, batch or none" ]
    run tsd --sync none
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: --batch-ms, --compact-min and --sync go with -D" ]
    run tsd --batch-ms 0 -D "$DATA"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: bad number '0': milliseconds from 1 to 60000 are needed" ]
    run tsd --compact-min -5 -D "$DATA"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: bad size '-5': bytes from 1 to 1125899906842624 are needed" ]
    run tsd --fix
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: --fix goes with --check" ]
    run tsd --check "$DATA" -d
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "tsd: --check takes no other option but --fix" ]
    run tsd -k -D "$DATA"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: -k takes no -D" ]
    run tsd -D "$DATA" -- true
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: -D does not go with -- command" ]
}

@test "a full disk: outs are refused with status 4, everything else is served, outs resume" {
    export TS_JOURNAL_FAIL_WHILE=$TS_TMP/full
    crash_restart
    unset TS_JOURNAL_FAIL_WHILE
    ts-out a 1
    ts-out a 2
    touch full
    run ts-out a 3
    [ "$status" -eq 4 ]
    [ "$output" = "ts-out: nothing stored: cannot write the journal: No space left on device" ]
    run ts-out -l b <<< $'x\ny'
    [ "$status" -eq 4 ]
    [[ "$output" == *"nothing stored: cannot write the journal: No space left on device"* ]]
    run wire '{"op":"out","tuple":["c",1]}'
    [ "$output" = '{"ok":false,"code":"storage","error":"nothing stored: cannot write the journal: No space left on device"}' ]
    [ "$(ts-dump)" = $'["a",1]\n["a",2]' ]
    [ "$(ts-rd a '?')" = 1 ]
    [ "$(ts-in a '?')" = 1 ]
    [ "$(stat_of tuples)" = 1 ]
    wait_log "cannot write the journal: No space left on device; refusing outs until it can"
    wait_log "1 confirmed take not logged: No space left on device; if tsd restarts before its next compaction, it comes back"
    [ "$(grep -c "refusing outs" tsd.log)" = 1 ]
    rm full
    ts-out a 4
    wait_log "the journal is written again: outs are stored"
    # The take whose deletion could not be logged comes back (at least once).
    crash_restart
    [ "$(ts-dump)" = $'["a",1]\n["a",2]\n["a",4]' ]
}

@test "a write cut short by a full disk leaves no trace in the log" {
    # Room for one record of 24 bytes and part of the next.
    export TS_JOURNAL_FAIL_AFTER=30
    crash_restart
    unset TS_JOURNAL_FAIL_AFTER
    ts-out a 1
    run ts-out a 2
    [ "$status" -eq 4 ]
    [ "$(stat -c %s "$DATA/$LOG1")" = 60 ]
    crash_restart
    [ "$(ts-dump)" = '["a",1]' ]
    run tsd --check "$DATA"
    [ "$status" -eq 0 ]
    [[ "$output" != *torn* ]]
}

@test "compaction rewrites the log into a snapshot, lent tuples too, and the space survives it" {
    crash_restart --compact-min 4096
    seq 200 | ts-out -l keep
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["keep","1"]}' > held &
    bg $!
    wait_stat lent 1
    for round in $(seq 20); do
        seq 100 | ts-out -l churn
        ts-in -a churn '?' > /dev/null
    done
    wait_for compacted
    wait_log "compacting $DATA"
    wait_log "the loop paused .* ms"
    wait_log "compacted $DATA into snap"
    ls "$DATA" | grep -q '^snap\.'
    crash_restart
    [ "$(ts-dump)" = "$(seq 200 | sed 's/.*/["keep","&"]/')" ]
    run tsd --check "$DATA"
    [ "$status" -eq 0 ]
    [[ "$output" == *": snapshot, "* ]]
    [[ "$output" == *" 200 live tuples "* ]]
}

# The absolute deadline ts-dump -w shows for the tuple matching a template.
deadline_of() {
    ts-dump -w "$@" | sed -n 's/.*"deadline":\([0-9.]*\).*/\1/p'
}

# The live tuples tsd --check counts in $DATA (the daemon may be running).
live_in_log() {
    tsd --check "$DATA" | sed -n 's/.* records, \([0-9]*\) live tuples .*/\1/p'
}

# Write $DATA/log.0000000001 by hand: one tuple ["bound",1] bound to
# process $1 with start time $2 (boot 0: not known), as journal.h lays it out.
forge_bound() {
    mkdir -m 700 "$DATA"
    python3 - "$DATA/$LOG1" "$1" "$2" <<'PY'
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
path, pid, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
head = b"TSJOURNL" + struct.pack("<IIQQ", 1, 1, 1, 0)
head += struct.pack("<I", crc32c(head))
text = b'["bound",1]'
body = struct.pack("<BQQQQI", 5, 1, 0, start, 0, pid) + text
rest = struct.pack("<I", len(body)) + body
with open(path, "wb") as f:
    f.write(head + struct.pack("<I", crc32c(rest)) + rest)
PY
}

@test "a --ttl tuple keeps its absolute deadline across kill -9" {
    t0=$(now_ms)
    ts-out --ttl 3 beat h1
    d1=$(deadline_of beat '?')
    [ -n "$d1" ]
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    # Down for a while: a restart must not give the lease its 3 s again.
    wait_for past_ms $((t0 + 1000))
    daemon_up -D "$DATA"
    line=$(ts-dump -w beat '?')
    if [ -n "$line" ]; then
        # Still there (the restart came before the deadline): the same deadline, and less left.
        [ "$(deadline_of beat '?')" = "$d1" ]
        left=$(echo "$line" | sed -n 's/.*"ttl":\([0-9.]*\).*/\1/p')
        awk -v l="$left" 'BEGIN { exit !(l <= 2.05) }'
    fi
    wait_stat tuples 0
    [ "$(stat_of leases)" = 0 ]
}

@test "a tuple whose deadline passed while tsd was down is not restored, and its deletion is logged" {
    ts-out stays 1
    t0=$(now_ms)
    ts-out --ttl 2 gone 1
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    # Killed before the deadline, so nothing but the restart can end it.
    [ "$(live_in_log)" = 2 ]
    wait_for past_ms $((t0 + 2200))
    daemon_up -D "$DATA"
    [ "$(ts-dump)" = '["stays",1]' ]
    wait_log "1 tuple passed its deadline while tsd was down: deleted"
    [ "$(live_in_log)" = 1 ]
}

@test "an expiry and the end of a process are logged as deletions, as a confirmed take is" {
    needs_pidfd
    sleep 1000 &
    p=$!
    bg $p
    ts-out --ttl 0.3 short 1
    ts-out --pid "$p" mine 1
    ts-out stays 1
    wait_stat leases 0
    kill -9 "$p"
    wait_stat tuples 1
    # Logged as they happened, before any restart.
    [ "$(live_in_log)" = 1 ]
    crash_restart
    [ "$(ts-dump)" = '["stays",1]' ]
}

@test "a tuple bound to a process that still runs is bound to it again after kill -9" {
    needs_pidfd
    sleep 1000 &
    p=$!
    bg $p
    ts-out --pid "$p" leader h1
    ts-out --pid "$p" --ttl 600 both h1
    crash_restart
    [ "$(ts-dump)" = $'["leader","h1"]\n["both","h1"]' ]
    [[ "$(ts-dump -w leader '?')" == *"\"owner\":$p"* ]]
    [ "$(stat_of bound)" = 2 ]
    [ "$(stat_of leases)" = 1 ]
    # Watched again: its end still ends them, and that is logged too.
    kill -9 "$p"
    wait_stat tuples 0
    [ "$(live_in_log)" = 0 ]
    crash_restart
    [ "$(ts-dump)" = "" ]
}

@test "a tuple whose process ended while tsd was down is deleted at the restart, and logged" {
    needs_pidfd
    sleep 1000 &
    p=$!
    bg $p
    ts-out --pid "$p" worker 1
    ts-out keep 1
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    kill -9 "$p"
    wait "$p" || true
    daemon_up -D "$DATA"
    [ "$(ts-dump)" = '["keep",1]' ]
    wait_log "tuple \[\"worker\",1\] lived with process $p, which ended while tsd was down: deleted"
    [ "$(live_in_log)" = 1 ]
    [ "$(stat_of bound)" = 0 ]
}

@test "a live process with the pid but another start time is not the tuple's process" {
    needs_pidfd
    stop_daemon
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    DATA=$TS_TMP/data
    cd "$TS_TMP"
    # This shell runs, but did not start at tick 1: another process had its pid.
    forge_bound $$ 1
    daemon_up -D "$DATA"
    [ "$(ts-dump)" = "" ]
    wait_log "lived with process $$, which ended while tsd was down: deleted"
    [ "$(live_in_log)" = 0 ]
    # The same record with this shell's real start time: kept, and bound to it.
    stop_daemon
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    DATA=$TS_TMP/data
    cd "$TS_TMP"
    start=$(sed 's/.*) //' "/proc/$$/stat" | cut -d ' ' -f 20)
    forge_bound $$ "$start"
    daemon_up -D "$DATA"
    [ "$(ts-dump)" = '["bound",1]' ]
    [ "$(stat_of bound)" = 1 ]
}

@test "a tuple that ended while lent does not come back after a crash" {
    needs_pidfd
    sleep 1000 &
    p=$!
    bg $p
    # The taker waits first, so both are lent the moment they are put.
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["job","?"],"count":2}' > held &
    bg $!
    wait_stat waiters 1
    ts-out --pid "$p" job mine
    ts-out --ttl 0.3 job timed
    wait_stat lent 2
    kill -9 "$p"
    wait_stat bound 0
    wait_stat leases 0
    # Both ended while lent; the daemon dies before the holder lets go.
    [ "$(live_in_log)" = 0 ]
    crash_restart
    [ "$(ts-dump)" = "" ]
    [ "$(stat_of lent)" = 0 ]
}

@test "a job held for a retry comes back at once after a restart, counting attempts from 1" {
    ts-out job 1
    "$WIRE" "$TS_SOCKET" --replies 2 '{"op":"in","tmpl":["job","?"],"job":true}' \
        '{"op":"job","outcome":"retry","id":1,"delay":600}' > retried
    [ "$(sed -n 1p retried)" = '{"id":1,"attempt":1,"seq":0,"tuple":["job",1]}' ]
    [[ "$(ts-dump -w)" == *'{"retry":{"attempt":2,'* ]]
    crash_restart
    [ "$(ts-dump -w)" = '{"tuple":["job",1]}' ]
    run wire '{"op":"in","tmpl":["job","?"],"job":true}'
    [ "$output" = '{"id":1,"attempt":1,"seq":0,"tuple":["job",1]}' ]
}

@test "a restart sends the event stream nothing of what it replays" {
    ts-out keep 1
    ts-out --ttl 0.3 gone 1
    t0=$(now_ms)
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    wait_for past_ms $((t0 + 500))
    daemon_up -D "$DATA"
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    bg $!
    wait_stat followers 1
    ts-out marker 1
    wait_for lines_at_least "$TS_TMP/ev" 1
    [ "$(ts-dump)" = $'["keep",1]\n["marker",1]' ]
    [ "$(wc -l < "$TS_TMP/ev")" = 1 ]
    [[ "$(cat "$TS_TMP/ev")" == '{"event":"out",'*'"tuple":["marker",1]}' ]]
}
