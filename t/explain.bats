#!/usr/bin/env bats
# ts-dump -w, the dump that explains, and ts-top, the live view.

load helper

# The "near_miss" reason of the first waiter in ts-dump -w's output.
why_of() {
    ts-dump -w | sed -n 's/.*"near_miss":{.*"why":"\(.*\)"}}}$/\1/p' | head -n 1
}

@test "plain ts-dump prints bare arrays; with -w every line is an object" {
    ts-out plain 1
    ts-out --ttl 100 leased 1
    ts-out held 1
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["held","?"]}' > /dev/null 3>&- &
    h=$!
    bg $h
    ts-in wait '?' 3>&- &
    bg $!
    ts-eval --name sleeper -- sleep 100 > /dev/null
    wait_stat waiters 1
    wait_stat lent 1
    run ts-dump
    [ "$output" = '["plain",1]
["leased",1]' ]
    run ts-dump -w
    [ "${#lines[@]}" -eq 5 ]
    [ "${lines[0]}" = '{"tuple":["plain",1]}' ]
    [[ "${lines[1]}" =~ ^\{\"tuple\":\[\"leased\",1\],\"deadline\":[0-9.]+,\"ttl\":(99|100)\.[0-9]+\}$ ]]
    [[ "${lines[2]}" =~ ^\{\"lent\":\[\"held\",1\],\"holder\":$h,\"id\":1,\"since\":[0-9.]+,\"age\":[0-9.]+\}$ ]]
    [[ "${lines[3]}" == '{"waiter":{"pid":'*',"op":"in","tmpl":["wait","?"],"since":'*',"age":'*',"timeout":null,"paused":false,"queued":0,"same_length":3,"near_miss":'* ]]
    [[ "${lines[4]}" == '{"worker":{"name":"sleeper",'*'"age":'*'"done":0,"failed":0'* ]]
}

@test "ts-dump -w shows the process a tuple lives with" {
    needs_pidfd
    sleep 100 3>&- &
    p=$!
    bg $p
    ts-out --pid "$p" present h1
    run ts-dump -w
    [ "$output" = '{"tuple":["present","h1"],"owner":'"$p"'}' ]
}

@test "ts-dump -w FIELD... filters the waiters as well as the tuples" {
    ts-in job '?int' 3>&- &
    bg $!
    ts-in other '?' 3>&- &
    bg $!
    ts-rd '?' '?' '?' 3>&- &
    bg $!
    wait_stat waiters 3
    run ts-dump -w job '?'
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == '{"waiter":{'*'"tmpl":["job","?int"]'* ]]
    run ts-dump -w '?' '?' '?'
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == *'"op":"rd","tmpl":["?","?","?"]'* ]]
}

@test "near miss: a string where the template wants ?int" {
    ts-out item '"1"'
    ts-out other 2
    ts-in item '?int' 3>&- &
    bg $!
    wait_stat waiters 1
    run ts-dump -w
    [[ "$output" == *'"same_length":2,"near_miss":{"tuple":["item","1"],"field":2,'* ]]
    [ "$(why_of)" = 'field 2: stored tuples hold the string \"1\" where the template wants ?int' ]
}

@test "near miss: no stored tuple has the template's length" {
    ts-out item 1 2
    ts-out item 1 2 3 4
    ts-in item '?' 3>&- &
    bg $!
    wait_stat waiters 1
    run ts-dump -w
    [[ "$output" == *'"same_length":0,"near_miss":{"tuple":["item",1,2],"field":null,'* ]]
    [ "$(why_of)" = 'no stored tuple has 2 fields; 1 has 3, such as [\"item\",1,2]' ]
}

@test "near miss: a literal that differs, and a match lent to another client" {
    ts-out color red
    ts-in color blue 3>&- &
    w=$!
    bg $w
    wait_stat waiters 1
    [ "$(why_of)" = 'field 2: stored tuples hold the string \"red\" where the template wants \"blue\"' ]
    kill "$w"
    wait_stat waiters 0
    ts-out job 1
    "$WIRE" "$TS_SOCKET" --hold '{"op":"in","tmpl":["job","?"]}' > /dev/null 3>&- &
    h=$!
    bg $h
    wait_stat lent 1
    ts-in job '?int' 3>&- &
    bg $!
    wait_stat waiters 1
    [ "$(why_of)" = "[\\\"job\\\",1] matches, but it is lent to pid $h, which has not confirmed it" ]
}

@test "an empty space explains nothing" {
    ts-in item '?int' 3>&- &
    bg $!
    wait_stat waiters 1
    run ts-dump -w
    [[ "$output" == *'"same_length":0,"near_miss":null}}' ]]
}

@test "ts-top without a terminal prints one snapshot" {
    ts-out job 1
    ts-out job 2
    ts-out result 1 2
    ts-in wait '?' 3>&- &
    bg $!
    ts-eval --name sleeper -- sleep 100 > /dev/null
    wait_stat waiters 1
    run ts-top
    [ "$status" -eq 0 ]
    echo "$output"
    [[ "${lines[0]}" == "ts-top: $TS_SOCKET, pid $TSD_PID, up "* ]]
    [[ "$output" == *"tuples 3 "*"waiters 1 "*"workers 1 "* ]]
    grep -Eq '^ +2 +2 +"job"$' <<< "$output"
    grep -Eq '^ +1 +3 +"result"$' <<< "$output"
    grep -Eq '^ +[0-9]+ +in +[0-9.]+s +\["wait","\?"\]$' <<< "$output"
    grep -Eq '^ +sleeper +[0-9]+ +running +[0-9.]+s +0 +0 *$' <<< "$output"
    [[ "$output" != *$'\e'* ]]
}

@test "ts-top -n 2 -d 0.1 prints two snapshots; usage errors are exit 2" {
    run ts-top -n 2 -d 0.1
    [ "$status" -eq 0 ]
    [ "$(grep -c '^ts-top: ' <<< "$output")" -eq 2 ]
    for args in "-n 0" "-d x" "-d 0" "extra"; do
        run ts-top $args
        [ "$status" -eq 2 ]
    done
    run ts-top --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "usage: ts-top "* ]]
    run ts-top --version
    [[ "$output" =~ ^ts-top\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    stop_daemon
    run ts-top -s /nonexistent/sock
    [ "$status" -eq 3 ]
}
