#!/usr/bin/env bats
# Who gets a tuple: delivery order on out, waiting clients, timeouts.

load helper

@test "on out: every waiting rd gets a copy, then the longest-waiting in takes it" {
    ts-rd -j k ? > "$TS_TMP/rd1" 3>&- &
    r1=$!
    wait_stat waiters 1
    ts-in -j k ? > "$TS_TMP/in1" 3>&- &
    i1=$!
    wait_stat waiters 2
    ts-in -j k ? > "$TS_TMP/in2" 3>&- &
    i2=$!
    wait_stat waiters 3
    ts-rd -j k ? > "$TS_TMP/rd2" 3>&- &
    r2=$!
    wait_stat waiters 4
    bg "$r1 $r2 $i1 $i2"
    ts-out k 1
    wait "$r1" "$r2" "$i1"
    [ "$(cat "$TS_TMP/rd1")" = '["k",1]' ]
    [ "$(cat "$TS_TMP/rd2")" = '["k",1]' ]
    [ "$(cat "$TS_TMP/in1")" = '["k",1]' ]
    wait_stat waiters 1          # the second in still waits
    [ "$(ts-dump)" = "" ]        # taken, so not stored
    ts-out k 2
    wait "$i2"
    [ "$(cat "$TS_TMP/in2")" = '["k",2]' ]
}

@test "a tuple nobody takes is stored; rd waiters do not keep it from the store" {
    ts-rd k ? > /dev/null 3>&- &
    bg $!
    wait_stat waiters 1
    ts-out k 1
    wait_stat waiters 0
    [ "$(ts-dump)" = '["k",1]' ]
}

@test "waiters on other values are not woken" {
    ts-in k a > "$TS_TMP/a" 3>&- &
    a=$!
    ts-in k b > "$TS_TMP/b" 3>&- &
    b=$!
    bg "$a $b"
    wait_stat waiters 2
    ts-out k b
    wait "$b"
    wait_stat waiters 1
    kill -0 "$a"
}

@test "-t 0 does not wait" {
    run ts-in -t 0 nothing ?
    [ "$status" -eq 1 ]
    [ "$output" = "" ]
}

@test "-t waits at least the timeout, then exits 1" {
    start=$(now_ms)
    run ts-in -t 0.4 nothing ?
    end=$(now_ms)
    [ "$status" -eq 1 ]
    [ $((end - start)) -ge 400 ]
    wait_stat waiters 0
}

@test "a tuple arriving within the timeout is returned" {
    ts-in -t 10 k ? > "$TS_TMP/out" 3>&- &
    p=$!
    bg $p
    wait_stat waiters 1
    ts-out k late
    wait "$p"
    [ "$(cat "$TS_TMP/out")" = late ]
}

@test "many timeouts expire in deadline order, each on its own" {
    pids=
    for t in 0.5 0.1 0.3; do
        ( st=0; ts-in -t "$t" never ? || st=$?; echo "$t $st" >> "$TS_TMP/done" ) 3>&- &
        pids="$pids $!"
    done
    bg "$pids"
    # shellcheck disable=SC2086
    wait $pids
    wait_stat waiters 0
    run cat "$TS_TMP/done"
    [ "$output" = "$(printf '0.1 1\n0.3 1\n0.5 1')" ]
}
