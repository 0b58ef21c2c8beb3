#!/usr/bin/env bats
# ts-in --run and --hold: a command run while a taken tuple is lent to it.

load helper

bats_require_minimum_version 1.5.0

@test "--run: a command that succeeds confirms the take" {
    ts-out job a.txt
    run ts-in -t 10 --run job '?str' -- sh -c 'echo "got $1"' sh
    [ "$status" -eq 0 ]
    [ "$output" = "got a.txt" ]
    [ "$(stat_of tuples)" = 0 ]
    [ "$(stat_of lent)" = 0 ]
}

@test "--run: bound values are separate arguments, strings raw, others compact JSON" {
    ts-out job 'a b' 3 '{"k": [1, 2.0]}' '"$(x)"' true
    run ts-in -t 10 --run job '?' '?' '?' '?' '?' -- printf '<%s>'
    [ "$status" -eq 0 ]
    [ "$output" = '<a b><3><{"k":[1,2]}><$(x)><true>' ]
}

@test "--run: the arguments come after ARG..., and -j passes the whole tuple" {
    ts-out job x
    ts-out job y
    run ts-in -t 10 --run job '?' -- printf '%s|%s\n' first
    [ "$output" = "first|x" ]
    run ts-in -t 10 -j --run job '?' -- printf '%s|%s\n' first
    [ "$output" = 'first|["job","y"]' ]
}

@test "--run: the command sees the tuple in TS_TUPLE and may read stdin" {
    ts-out job 1
    run sh -c 'echo input | ts-in --run job "?int" -- sh -c '\''read l; echo "$TS_TUPLE $l"'\'
    [ "$output" = '["job",1] input' ]
}

@test "--run: a command that fails gives the tuple back; ts-in exits with its status" {
    ts-out job 1
    run ts-in --run job '?' -- sh -c 'exit 3'
    [ "$status" -eq 3 ]
    [ "$(ts-dump)" = '["job",1]' ]
    run ts-in --run job '?' -- sh -c 'kill -TERM $$'
    [ "$status" -eq 143 ]
    [ "$(ts-dump)" = '["job",1]' ]
    run -127 ts-in --run job '?' -- /nonexistent/command
    [[ "$output" == *"ts-in: cannot run /nonexistent/command: "* ]]
    [ "$(ts-dump)" = '["job",1]' ]
}

@test "--run: a SIGKILL of ts-in mid-command gives the tuple back and ends the command" {
    ts-out job 1
    ts-in --run job '?' -- sh -c 'echo $$ > "$1"; exec sleep 100' sh "$TS_TMP/cmd" 3>&- &
    p=$!
    bg $p
    wait_for test -s "$TS_TMP/cmd"
    c=$(cat "$TS_TMP/cmd")
    [ "$(stat_of lent)" = 1 ]
    kill -9 "$p"
    wait_gone "$c"
    wait_stat lent 0
    [ "$(ts-dump)" = '["job",1]' ]
}

@test "--run: no tuple within -t is exit 1 and the command does not run" {
    run ts-in -t 0.1 --run job '?' -- touch "$TS_TMP/ran"
    [ "$status" -eq 1 ]
    [ ! -e "$TS_TMP/ran" ]
}

@test "--hold: the tuple goes back when the command ends, whatever its status" {
    ts-out token 1
    run ts-in --hold token '?int' -- sh -c 'echo "holding $1"' sh
    [ "$status" -eq 0 ]
    [ "$output" = "holding 1" ]
    [ "$(ts-dump)" = '["token",1]' ]
    run ts-in --hold token '?int' -- false
    [ "$status" -eq 1 ]
    [ "$(ts-dump)" = '["token",1]' ]
}

@test "--hold: a token held by a command's background child is held until it ends" {
    ts-out token 1
    ts-in --hold token '?' -- sh -c 'sh -c "echo \$\$ > \"$1\"; exec sleep 100" sh "$1" &' \
        sh "$TS_TMP/bg" > /dev/null 3>&-
    wait_for test -s "$TS_TMP/bg"
    [ "$(stat_of lent)" = 1 ]
    bg "$(cat "$TS_TMP/bg")"
    kill -9 "$(cat "$TS_TMP/bg")"
    wait_stat lent 0
    [ "$(ts-dump)" = '["token",1]' ]
}

@test "--hold: 6 scripts share 2 tokens while holders are killed at random" {
    ts-out token 1
    ts-out token 2
    d=$TS_TMP/h
    mkdir "$d"
    # The critical section: count the holders alive now, including ourselves.
    # A holder is known by its pid and its start time (pids are reused: a
    # killed holder's marker stays, and may name another process later).
    # One that has begun to exit (PF_EXITING, 0x4 in the flags of
    # /proc/PID/stat) holds nothing: its descriptors are closing, and the
    # token may be passed on before it is a zombie.
    cat > "$d/critical" <<'EOF'
field() { cut -d ' ' -f "$2" "/proc/$1/stat" 2> /dev/null; }
field $$ 22 > "$1/new.$$"
mv "$1/new.$$" "$1/held.$$"
n=0
for f in "$1"/held.*; do
    p=${f##*.}
    flags=$(field "$p" 9)
    if [ "$(cat "$f" 2> /dev/null)" = "$(field "$p" 22)" ] && [ "$(field "$p" 3)" != Z ] &&
        [ $((${flags:-4} & 4)) = 0 ]; then
        n=$((n + 1))
    fi
done
echo "$n" >> "$1/counts"
sleep 0.02
rm -f "$1/held.$$"
EOF
    loops=
    for i in 1 2 3 4 5 6; do
        sh -c 'while [ ! -e "$1/stop" ]; do ts-in -t 1 --hold token "?int" -- sh "$1/critical" "$1"; done' \
            sh "$d" 3>&- &
        loops="$loops $!"
        bg $!
    done
    # Kill a holding ts-in at random, 15 times, each once some work was done.
    for k in $(seq 15); do
        wait_for lines_at_least "$d/counts" $((k * 4))
        for l in $(shuf -e $loops); do
            c=$(cat "/proc/$l/task/$l/children" 2> /dev/null) || continue
            [ -n "$c" ] || continue
            kill -9 $c 2> /dev/null || true
            break
        done
    done
    touch "$d/stop"
    for l in $loops; do wait_gone "$l"; done
    wait_stat lent 0
    [ "$(ts-dump token '?int' | wc -l)" -eq 2 ]
    [ "$(sort -n "$d/counts" | tail -n 1)" -le 2 ]
    [ "$(wc -l < "$d/counts")" -ge 60 ]
}

@test "--run and --hold: usage errors are exit 2" {
    ts-out job 1
    for args in "--run job x" "--run job x --" "--run -- sh" "--hold --run job x -- true" \
                "--run -a job x -- true" "--run -n 2 job x -- true" "--run -0 job x -- true"; do
        run ts-in $args
        [ "$status" -eq 2 ]
    done
    run ts-rd --run job '?' -- true
    [ "$status" -eq 2 ]
    [ "$(ts-dump)" = '["job",1]' ]
}

@test "ts-in --help names --run and --hold" {
    run ts-in --help
    [[ "${lines[1]}" == *"ts-in {--hold | --run} [-jS]"*"-- command [arg ...]" ]]
    [[ "$output" == *"--hold "* ]]
    [[ "$output" == *"--run "* ]]
}
