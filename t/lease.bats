#!/usr/bin/env bats
# Tuples that end by themselves: leases (ts-out --ttl), tuples that live
# with a process (ts-out --pid), and put-if-absent (ts-out --unless).

load helper

# Lines of ts-dump matching a template.
count_of() {
    ts-dump "$@" | wc -l
}

@test "a 1 s lease is readable at 0.5 s and gone by 1.5 s" {
    t0=$(now_ms)
    ts-out --ttl 1 beat h1
    wait_for past_ms $((t0 + 500))
    run ts-rd -t 0 beat '?'
    # On a machine so loaded that 0.5 s became a whole second, the lease may
    # rightly be gone already: only a read well before its deadline must see it.
    if [ "$(now_ms)" -lt $((t0 + 900)) ]; then
        [ "$status" -eq 0 ]
        [ "$output" = h1 ]
    fi
    wait_for past_ms $((t0 + 1500))
    run ts-rd -t 0 beat '?'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    wait_stat tuples 0
}

@test "--ttl 0 stores nothing and exits 0; fractions are allowed; bad values exit 2" {
    run ts-out --ttl 0 never here
    [ "$status" -eq 0 ]
    [ "$(stat_of tuples)" = 0 ]
    ts-out --ttl 0.25e3 frac 1
    [ "$(ts-dump frac '?')" = '["frac",1]' ]
    for bad in -1 soon '' 1e10 nan; do
        run ts-out --ttl "$bad" x 1
        [ "$status" -eq 2 ]
        [[ "$output" == *"bad --ttl '$bad'"* ]]
    done
    [ "$(stat_of tuples)" = 1 ]
}

@test "--ttl combines with the bulk forms - and -l" {
    printf '["b",1]\n["b",2]\n' | ts-out --ttl 60 -
    printf 'x\ny\nz\n' | ts-out --ttl 60 -l line
    [ "$(stat_of tuples)" = 5 ]
    [ "$(stat_of leases)" = 5 ]
    run ts-dump -w line '?'
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[0]}" =~ ^\{\"tuple\":\[\"line\",\"x\"\],\"deadline\":[0-9.]+,\"ttl\":(59|60)\.[0-9]+\}$ ]]
    printf 'p\nq\n' | ts-out --ttl 0.2 -l short
    wait_stat tuples 5
}

@test "a lent tuple expires at its deadline and is not given back" {
    # The taker waits first, so the lease is lent the moment it is put.
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["job","?"]}' > "$TS_TMP/got" &
    holder=$!
    bg $holder
    wait_stat waiters 1
    ts-out --ttl 0.5 job lent
    wait_stat lent 1
    wait_for grep -q '"tuple":\["job","lent"\]' "$TS_TMP/got"
    # The deadline passes while it is lent; then the holder dies unconfirmed.
    wait_stat leases 0
    kill -9 "$holder"
    wait_stat clients 1
    [ "$(stat_of lent)" = 0 ]
    [ "$(stat_of tuples)" = 0 ]
    run ts-in -t 0 job '?'
    [ "$status" -eq 1 ]
}

@test "a lease confirmed before its deadline is simply taken" {
    ts-out --ttl 30 job 1
    [ "$(ts-in job '?')" = 1 ]
    [ "$(stat_of leases)" = 0 ]
    [ "$(stat_of tuples)" = 0 ]
}

@test "leases expire in the order of their deadlines" {
    ts-dump -f -n 20 order '?' > "$TS_TMP/ev" &
    f=$!
    bg $f
    wait_stat followers 1
    for t in 0.9 0.3 0.7 0.1 0.5 1.0 0.2 0.8 0.4 0.6; do
        ts-out --ttl "$t" order "$t"
    done
    wait_gone "$f"
    wait_stat tuples 0
    [ "$(grep -c '"event":"out"' "$TS_TMP/ev")" -eq 10 ]
    [ "$(grep -c '"event":"expire"' "$TS_TMP/ev")" -eq 10 ]
    run sed -n 's/.*"event":"expire".*"deadline":\([0-9.]*\).*/\1/p' "$TS_TMP/ev"
    [ "${#lines[@]}" -eq 10 ]
    [ "$output" = "$(sort -g <<< "$output")" ]
}

@test "--pid: the tuple goes when its process is killed with SIGKILL" {
    needs_pidfd
    sleep 100 &
    p=$!
    bg $p
    ts-out --pid "$p" present h1
    ts-out host h1
    [ "$(ts-dump present '?')" = '["present","h1"]' ]
    [ "$(stat_of bound)" = 1 ]
    kill -9 "$p"
    wait_stat tuples 1
    [ "$(ts-dump)" = '["host","h1"]' ]
    [ "$(stat_of bound)" = 0 ]
}

@test "--pid: the tuple goes when its process exits normally" {
    needs_pidfd
    sh -c 'until [ -e "$1" ]; do sleep 0.01; done' sh "$TS_TMP/go" &
    p=$!
    bg $p
    ts-out --pid "$p" working job 7
    printf '["a",1]\n["a",2]\n' | ts-out --pid "$p" -
    printf 'x\n' | ts-out --pid "$p" -l l
    [ "$(stat_of tuples)" = 4 ]
    touch "$TS_TMP/go"
    wait "$p"
    wait_stat tuples 0
}

@test "--pid: a pid that does not exist is exit 2, and nothing is put" {
    needs_pidfd
    true &
    p=$!
    wait "$p"
    run ts-out --pid "$p" ghost 1
    [ "$status" -eq 2 ]
    [ "$output" = "ts-out: no process $p: cannot bind a tuple to it" ]
    for bad in 0 -5 x 1.5 99999999999; do
        run ts-out --pid "$bad" ghost 1
        [ "$status" -eq 2 ]
        [[ "$output" == *"bad --pid '$bad'"* ]]
    done
    [ "$(stat_of tuples)" = 0 ]
}

@test "--pid: a tuple lent when its process ends is not given back" {
    needs_pidfd
    sleep 100 &
    p=$!
    bg $p
    ts-out --pid "$p" job mine
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["job","?"]}' > /dev/null &
    holder=$!
    bg $holder
    wait_stat lent 1
    kill -9 "$p"
    wait_stat bound 0
    kill -9 "$holder"
    wait_stat clients 1
    [ "$(stat_of tuples)" = 0 ]
    [ "$(stat_of lent)" = 0 ]
}

@test "--ttl and --pid together: whichever comes first" {
    needs_pidfd
    sleep 100 &
    p=$!
    bg $p
    ts-out --ttl 0.3 --pid "$p" both 1
    ts-out --ttl 60 --pid "$p" both 2
    wait_stat tuples 1
    [ "$(ts-dump)" = '["both",2]' ]
    kill -9 "$p"
    wait_stat tuples 0
}

@test "--unless puts only when nothing matches; exit 1 when something does" {
    ts-out --unless 'lock ?' lock a
    run ts-out --unless 'lock ?' lock b
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$(ts-dump lock '?')" = '["lock","a"]' ]
    ts-out --unless 'lock ?int' lock 3
    [ "$(count_of lock '?')" -eq 2 ]
}

@test "--unless counts a lent tuple as there" {
    ts-out token 1
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["token","?"]}' > /dev/null &
    holder=$!
    bg $holder
    wait_stat lent 1
    run ts-out --unless 'token ?' token 2
    [ "$status" -eq 1 ]
    kill -9 "$holder"
    wait_stat lent 0
    [ "$(ts-dump)" = '["token",1]' ]
}

@test "--unless: of 20 concurrent contenders exactly one wins" {
    for i in $(seq 20); do
        (
            rc=0
            ts-out --unless 'leader ?' leader "c$i" || rc=$?
            echo "$rc" > "$TS_TMP/rc.$i"
        ) &
    done
    wait
    [ "$(cat "$TS_TMP"/rc.* | grep -cx 0)" -eq 1 ]
    [ "$(cat "$TS_TMP"/rc.* | grep -cx 1)" -eq 19 ]
    [ "$(count_of leader '?')" -eq 1 ]
}

@test "a leader election in one command: --pid and --unless" {
    needs_pidfd
    sh -c 'until [ -e "$1" ]; do sleep 0.01; done' sh "$TS_TMP/stop" &
    p=$!
    bg $p
    ts-out --pid "$p" --unless 'leader ?' leader host1
    run ts-out --unless 'leader ?' leader host2
    [ "$status" -eq 1 ]
    touch "$TS_TMP/stop"
    wait "$p"
    wait_stat tuples 0
    ts-out --unless 'leader ?' leader host2
    [ "$(ts-dump)" = '["leader","host2"]' ]
}

@test "--unless: bad templates and the bulk forms are usage errors" {
    run ts-out --unless '' x 1
    [ "$status" -eq 2 ]
    [[ "$output" == *"bad --unless '': no fields"* ]]
    run ts-out --unless 'x ?strr' x 1
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown"* ]]
    run ts-out --unless 'x ?' -
    [ "$status" -eq 2 ]
    [[ "$output" == *"--unless puts one tuple"* ]]
    [ "$(stat_of tuples)" = 0 ]
}

@test "the wire: ttl, pid and unless members of out are checked" {
    run wire '{"op":"out","tuple":["a"],"ttl":-1}' '{"op":"out","tuple":["a"],"ttl":"x"}' \
        '{"op":"out","tuple":["a"],"pid":0}' '{"op":"out","tuple":["a"],"unless":["?~("]}' \
        '{"op":"out","tuples":[["a"],["b"]],"ttl":60,"unless":["a"]}' \
        '{"op":"out","tuples":[["a"],["b"]],"ttl":60,"unless":["a"]}' \
        '{"op":"out","tuple":["c"],"ttl":0}'
    [[ "${lines[0]}" == *'"code":"bad"'*'\"ttl\" must be'* ]]
    [[ "${lines[1]}" == *'"code":"bad"'*'\"ttl\" must be'* ]]
    [[ "${lines[2]}" == *'"code":"bad"'*'\"pid\" must be'* ]]
    [[ "${lines[3]}" == *'"code":"bad"'*'unless'* ]]
    [ "${lines[4]}" = '{"ok":true,"n":2}' ]
    [[ "${lines[5]}" == *'"code":"exists"'* ]]
    [ "${lines[6]}" = '{"ok":true,"n":0}' ]
    [ "$(stat_of tuples)" = 2 ]
}

@test "ts-out --help names --ttl, --pid and --unless" {
    run ts-out --help
    [[ "$output" == *"--pid pid"* ]]
    [[ "$output" == *"--ttl seconds"* ]]
    [[ "$output" == *"--unless fields"* ]]
}
