#!/usr/bin/env bats
# ts-dump -f: the live event stream.

load helper

# The events of a stream file as "event tuple" lines, times and pids left out.
events_of() {
    sed -e 's/^{"event":"\([a-z-]*\)".*"tuple":\(\[.*\]\).*$/\1 \2/' \
        -e 's/^{"event":"\([a-z-]*\)",.*$/\1/' "$1"
}

@test "ts-dump -f: the events of a scripted sequence arrive in order" {
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    ts-out job 1                                    # out
    ts-in job '?' > /dev/null                       # take
    ts-out job 2                                    # out
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["job","?"]}' > /dev/null 3>&- &
    h=$!
    bg $h
    wait_stat lent 1
    kill -9 "$h"                                    # return
    wait_stat lent 0
    ts-in -t 0.1 nothing '?' || true                # wait-start, wait-end
    ts-out --ttl 0.1 beat 1                         # out, expire
    wait_stat tuples 1
    wait_for lines_at_least "$TS_TMP/ev" 8
    run events_of "$TS_TMP/ev"
    echo "$output"
    [ "$output" = 'out ["job",1]
take ["job",1]
out ["job",2]
return ["job",2]
wait-start
wait-end
out ["beat",1]
expire ["beat",1]' ]
    kill -INT "$f"
    wait "$f"
}

@test "the end of a tuple's process is a gone event, after its out" {
    needs_pidfd
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    sleep 100 3>&- &
    p=$!
    bg $p
    ts-out --pid "$p" mine 1
    kill -9 "$p"
    wait_stat tuples 0
    wait_for lines_at_least "$TS_TMP/ev" 2
    [ "$(events_of "$TS_TMP/ev")" = 'out ["mine",1]
gone ["mine",1]' ]
    grep -q '^{"event":"out",.*"owner":'"$p"'}$' "$TS_TMP/ev"
    grep -q '^{"event":"gone",.*"pid":'"$p"',' "$TS_TMP/ev"
}

@test "every event has a time, a pid and its own fields" {
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    ts-out --ttl 60 job 1
    ts-in -t 0 job '?' > /dev/null
    ts-in -t 0.05 none '?int' || true
    wait_for lines_at_least "$TS_TMP/ev" 4
    run cat "$TS_TMP/ev"
    [[ "${lines[0]}" =~ ^\{\"event\":\"out\",\"time\":[0-9]+\.[0-9]{6},\"pid\":[0-9]+,\"tuple\":\[\"job\",1\],\"deadline\":[0-9.]+\}$ ]]
    [[ "${lines[1]}" =~ ^\{\"event\":\"take\",\"time\":[0-9.]+,\"pid\":[0-9]+,\"tuple\":\[\"job\",1\]\}$ ]]
    [[ "${lines[2]}" =~ ^\{\"event\":\"wait-start\",\"time\":[0-9.]+,\"pid\":[0-9]+,\"op\":\"in\",\"tmpl\":\[\"none\",\"\?int\"\],\"timeout\":0.05\}$ ]]
    [[ "${lines[3]}" =~ ^\{\"event\":\"wait-end\",.*\"why\":\"timeout\",\"n\":0\}$ ]]
}

@test "ts-dump -f FIELD... follows only the matching tuples; -n stops after N events" {
    ts-dump -f -n 3 job '?int' > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    ts-out job x
    ts-out other 1
    ts-out job 1
    ts-in job '?int' > /dev/null
    ts-out job 2
    ts-out job 3
    wait "$f"
    run events_of "$TS_TMP/ev"
    [ "$output" = 'out ["job",1]
take ["job",1]
out ["job",2]' ]
    wait_stat followers 0
}

@test "ts-dump -f shows worker start, error and exit" {
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    ts-eval --name failing -- sh -c 'exit 3' > /dev/null
    wait_for grep -q '"event":"worker-exit"' "$TS_TMP/ev"
    run grep '"event":"worker-' "$TS_TMP/ev"
    [[ "${lines[0]}" == '{"event":"worker-start",'*'"name":"failing","index":0}' ]]
    [[ "${lines[1]}" == '{"event":"worker-error",'*'"name":"failing","status":3}' ]]
    [[ "${lines[2]}" == '{"event":"worker-exit",'*'"name":"failing","status":3}' ]]
}

@test "a stopped follower does not delay other clients, and later gets its dropped count" {
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    kill -STOP "$f"
    # Far more events than the daemon keeps for one follower (1 MiB).
    awk 'BEGIN { for (i = 0; i < 30000; i++) printf "%060d\n", i }' > "$TS_TMP/lines"
    timeout 60 ts-out -l flood < "$TS_TMP/lines"
    timeout 60 ts-in -a flood '?' > /dev/null
    [ "$(stat_of tuples)" = 0 ]
    kill -CONT "$f"
    wait_for grep -q '^{"dropped":[0-9]*}$' "$TS_TMP/ev"
    # Once it has caught up, events flow again.
    ts-out after 1
    wait_for grep -q '"tuple":\["after",1\]' "$TS_TMP/ev"
    n=$(sed -n 's/^{"dropped":\([0-9]*\)}$/\1/p' "$TS_TMP/ev" | awk '{ s += $1 } END { print s }')
    lines=$(grep -c '"event":' "$TS_TMP/ev")
    [ "$n" -gt 0 ]
    [ $((n + lines)) -eq 60001 ]
}

@test "Ctrl-C ends ts-dump -f cleanly, and the daemon forgets the follower" {
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    kill -INT "$f"
    st=0
    wait "$f" || st=$?
    [ "$st" -eq 0 ]
    wait_stat followers 0
    ts-out still 1
}

@test "a follower sees the daemon shut down and exits 0" {
    ts-dump -f > "$TS_TMP/ev" 3>&- &
    f=$!
    bg $f
    wait_stat followers 1
    tsd -k
    st=0
    wait "$f" || st=$?
    [ "$st" -eq 0 ]
    grep -q '^{"event":"shutdown",' "$TS_TMP/ev"
}

@test "ts-dump -f: usage errors" {
    for args in "-f -S" "-f -w" "-n 3" "-t 1" "-f -n 0" "-f -t x"; do
        run ts-dump $args
        [ "$status" -eq 2 ]
    done
    run wire '{"op":"follow","tmpl":["?strr"]}' '{"op":"follow","tmpl":7}'
    [[ "${lines[0]}" == *'"code":"bad"'* ]]
    [[ "${lines[1]}" == *'"code":"bad"'* ]]
}
