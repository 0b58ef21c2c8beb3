#!/usr/bin/env bats
# ts-eval: workers started, supervised, stopped; failures as tuples.

load helper

EX="$BATS_TEST_DIRNAME/../scripts/examples"

# Some worker is being stopped.
stopping() {
    ts-dump -w | grep -q '"state":"stopping"'
}

@test "N workers are started, printed and listed" {
    run ts-eval -n 3 --name sleepers -- sleep 100
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = sleepers ]
    [ "${#lines[@]}" -eq 4 ]
    for pid in "${lines[@]:1}"; do kill -0 "$pid"; done
    [ "$(stat_of workers)" = 3 ]
    run ts-dump -w
    [ "$(grep -c '"worker":{"name":"sleepers"' <<< "$output")" -eq 3 ]
    [[ "$output" == *'"argv":["sleep","100"]'*'"state":"running"'* ]]
}

@test "workers run in the caller's directory with its environment and their own" {
    mkdir "$TS_TMP/here"
    cd "$TS_TMP/here"
    FOO=bar ts-eval -n 2 --name envy --put 'env {stdout}' \
        -- sh -c 'echo "$(pwd) $FOO $TS_WORKER_NAME $TS_WORKER_INDEX $TS_SOCKET"' > /dev/null
    run ts-in -n 2 env '?str'
    [ "$(sort <<< "$output")" = "$(printf '%s\n' \
        "$TS_TMP/here bar envy 0 $TS_SOCKET" "$TS_TMP/here bar envy 1 $TS_SOCKET")" ]
}

@test "a worker's command gets only stdin, stdout and stderr" {
    [ -z "${TS_VALGRIND:-}" ] || skip "valgrind keeps descriptors of its own in what it runs"
    # ls itself: fd 3 is the directory it is listing.
    ts-eval --name fds --put 'fds {stdout}' -- ls /proc/self/fd > /dev/null
    run ts-in -j fds '?str'
    [ "$output" = '["fds","0\n1\n2\n3"]' ]
}

@test "the seed library's sum example prints 46" {
    run "$EX/sum"
    [ "$status" -eq 0 ]
    [ "$output" = 46 ]
}

@test "the wrapped gzip and the fan-out examples work" {
    run "$EX/gzip"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 6 ]
    [[ "${lines[0]}" == "./file1.log"$'\t'"0" ]]
    printf 'one two three\nfour five\n%.0s' $(seq 100) > "$TS_TMP/text"
    run "$EX/fanout" "$TS_TMP/text"
    [ "$output" = 500 ]
}

@test "placeholders: {N}, {} and stdin in the command; {status} and {stdout} in --put" {
    ts-eval --name ph --take 'x ?int ?str ?' --put 'r {2} {3} {} {status} {stdout} pre-{2}' \
        -- sh -c 'read -r line; echo "$line|$1|$2"; exit 5' sh '{3}' '{}' > /dev/null
    ts-out x 7 'a b' '{"k":[1]}'
    run ts-in -j r '?' '?' '?' '?' '?' '?'
    [ "$output" = '["r",7,"a b",["x",7,"a b",{"k":[1]}],5,"[\"x\",7,\"a b\",{\"k\":[1]}]|a b|[\"x\",7,\"a b\",{\"k\":[1]}]","pre-7"]' ]
}

@test "a failing command puts ts.error with its stderr tail and tuple, and the worker goes on" {
    pid=$(ts-eval --name failing --take 'job ?int' -- sh -c 'echo "bad $1" >&2; exit 3' sh '{2}' | tail -n 1)
    ts-out job 1
    ts-out job 2
    run ts-in -n 2 -j ts.error failing '?' '?' '?' '?'
    [ "${lines[0]}" = "[\"ts.error\",\"failing\",$pid,3,\"bad 1\\n\",[\"job\",1]]" ]
    [ "${lines[1]}" = "[\"ts.error\",\"failing\",$pid,3,\"bad 2\\n\",[\"job\",2]]" ]
    kill -0 "$pid"
    [ "$(stat_of tuples)" = 0 ]   # failed jobs were consumed, not retried
}

@test "a worker killed by a signal: ts.error with status 137, then ts.exit" {
    pid=$(ts-eval --name victim -- sh -c 'echo dying words >&2; exec sleep 100' | tail -n 1)
    # The worker has passed its command's words on: the daemon logged them.
    wait_for grep -q "victim\[$pid\]: dying words" "$TS_TMP/tsd.log"
    kill -9 "$pid"
    run ts-in -t 10 -j ts.error victim '?' '?' '?' '?'
    [ "$output" = "[\"ts.error\",\"victim\",$pid,137,\"dying words\\n\",null]" ]
    run ts-in -t 10 -j ts.exit victim '?' '?'
    [ "$output" = "[\"ts.exit\",\"victim\",$pid,137]" ]
}

@test "every worker that ends puts ts.exit with its status" {
    ts-eval -n 2 --name quick -- sh -c 'exit $TS_WORKER_INDEX' > /dev/null
    run ts-in -n 2 -t 10 ts.exit quick '?int' '?int'
    [ "$(cut -f 2 <<< "$output" | sort)" = "$(printf '0\n1')" ]
    run ts-in -t 10 -j ts.error quick '?' '?' '?' '?'
    [[ "$output" == '["ts.error","quick",'*',1,"",null]' ]]
}

@test "a worker killed while holding a taken tuple gives it back" {
    # Not restarted, so that the job stays in the space for us to see.
    pid=$(ts-eval --name holder --restart never --take 'job ?' -- sleep 100 | tail -n 1)
    ts-out job 1
    wait_stat lent 1
    run ts-dump -w
    [[ "$output" == *'"name":"holder"'*'"processing":["job",1],"attempt":1'* ]]
    kill -9 "$pid"
    wait_stat lent 0
    [ "$(ts-dump job '?')" = '["job",1]' ]
    # The worker is not started again, and says so; the job it held is no error.
    run ts-in -t 10 -j ts.error holder '?' '?' '?' '?'
    [ "$output" = "[\"ts.error\",\"holder\",$pid,137,\"\",null]" ]
}

@test "ts-eval -k lets a busy worker's command finish its job" {
    ts-eval --name graceful --take 'job ?' --put 'done {2} {status}' \
        -- sh -c 'trap "echo cleaned up; exit 0" TERM; : > trapped; sleep 100 & wait' > /dev/null
    ts-out job 1
    wait_stat lent 1
    wait_for test -e "$TS_TMP/trapped"   # not before: TERM would end the command
    ts-eval -k graceful
    run ts-in -t 5 done '?' '?'
    [ "$output" = "$(printf '1\t0')" ]   # the command's clean exit was reported
    [ "$(stat_of lent)" = 0 ]             # and the job confirmed
    [ "$(stat_of tuples)" = 1 ]           # only the ts.exit
}

@test "ts-eval -k stops the named workers and waits until they are gone" {
    run ts-eval -n 2 --name stopme -- sh -c 'trap "" TERM; : > "trapped.$TS_WORKER_INDEX"; sleep 100'
    pids="${lines[*]:1}"
    # TERM must find the commands ignoring it, or they would die of it.
    wait_for test -e "$TS_TMP/trapped.0"
    wait_for test -e "$TS_TMP/trapped.1"
    ts-eval -n 1 --name other -- sleep 100 > /dev/null
    run ts-eval -k stopme -g 0.2
    [ "$status" -eq 0 ]
    for pid in $pids; do gone "$pid" || { echo "worker $pid is still there" >&2; false; }; done
    [ "$(stat_of workers)" = 1 ]
    run ts-in -n 2 -t 5 ts.exit stopme '?' '?int'
    [ "$(cut -f 2 <<< "$output")" = "$(printf '137\n137')" ]   # TERM ignored: KILLed
    run ts-in -t 0 ts.error stopme '?' '?' '?' '?'
    [ "$status" -eq 1 ]                       # stopped on purpose: no error
    run ts-eval -k nobody
    [ "$status" -eq 1 ]
    [ "$output" = "ts-eval: no workers named 'nobody'" ]
}

@test "tsd -k leaves no worker, command or grandchild behind" {
    ts-eval -n 2 --name deep -- sh -c 'sleep 100 & echo $! > "$TS_WORKER_INDEX.gc"; sleep 100' > "$TS_TMP/pids"
    ts-eval --name looper --take 'never ?' -- true >> "$TS_TMP/pids"
    wait_for test -s "$TS_TMP/0.gc"
    wait_for test -s "$TS_TMP/1.gc"
    pids="$(grep -v '[a-z]' "$TS_TMP/pids") $(cat "$TS_TMP"/*.gc)"
    tsd -k
    # Not even zombies: the daemon reaped every descendant before it exited.
    for pid in $pids; do gone "$pid" || { echo "process $pid is still there" >&2; false; }; done
}

@test "workers die with a daemon killed by SIGKILL" {
    pids=$(ts-eval -n 3 --name orphans -- sleep 100 | tail -n 3)
    kill -9 "$TSD_PID"
    for pid in $pids; do wait_gone "$pid"; done
}

@test "a command that does not exist is refused and nothing is started" {
    run ts-eval -n 3 -- no-such-command-here
    [ "$status" -eq 2 ]
    [ "$output" = "ts-eval: command not found: no-such-command-here" ]
    run ts-eval -- ./not-here
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-eval: cannot run ./not-here: "* ]]
    [ "$(stat_of workers)" = 0 ]
}

@test "misused placeholders and options are usage errors" {
    run ts-eval -- echo '{2}'
    [ "$status" -eq 2 ]
    [ "$output" = "ts-eval: placeholder {2} needs --take" ]
    run ts-eval --take 'a ?' -- echo '{3}'
    [ "$output" = "ts-eval: placeholder {3} but --take has 2 fields" ]
    run ts-eval --take 'a ?' -- echo '{status}'
    [ "$output" = "ts-eval: placeholder {status} can only be used in --put" ]
    run ts-eval --take 'a "b' -- echo
    [ "$output" = "ts-eval: bad --take 'a \"b': unterminated \" quote" ]
    run ts-eval --take 'a ?strr' -- echo
    [[ "$output" == "ts-eval: --take: bad template field '?strr'"* ]]
    run ts-eval -n 0 -- echo
    [ "$status" -eq 2 ]
    run ts-eval
    [ "$status" -eq 2 ]
    [ "$(stat_of workers)" = 0 ]
}

@test "a worker flooding its output does not stall the daemon" {
    # 50 MB of output; 5 MB through a daemon under valgrind, 30 times slower.
    bytes=50000000
    [ -z "${TS_VALGRIND:-}" ] || bytes=5000000
    ts-eval --name flood -- sh -c "yes flooding | head -c $bytes" > /dev/null
    for i in $(seq 20); do ts-out t "$i"; done
    [ "$(ts-in -n 20 t '?' | wc -l)" -eq 20 ]
    run ts-in -t 30 ts.exit flood '?' '?int'
    [ "$(cut -f 2 <<< "$output")" = 0 ]
}

@test "ts-eval -k stops only the workers it signalled; a job cut short goes back" {
    # A command that ignores SIGTERM, so the worker stays "stopping" until KILLed.
    ts-eval --name same --take 'job ?' -- sh -c 'trap "" TERM; : > trapped; sleep 100' > /dev/null
    ts-out job 1
    wait_stat lent 1
    wait_for test -e "$TS_TMP/trapped"
    ts-eval -k same -g 1 > /dev/null &
    k=$!
    bg $k
    wait_for stopping
    # A new worker of the same name, started while the first is stopping.
    new=$(ts-eval --name same -- sleep 100 | tail -n 1)
    wait "$k"
    kill -0 "$new"
    # The first was killed mid-job: the job is back, and no ts.error.
    wait_stat lent 0
    [ "$(ts-dump job '?')" = '["job",1]' ]
    run ts-in -t 0 ts.error same '?' '?' '?' '?'
    [ "$status" -eq 1 ]
}

@test "--put words without placeholders are read like ts-out words" {
    # Quotes inside FIELDS group as in a shell, so the object is quoted there.
    ts-eval --name lit --put "lit '{\"a\":1}' 2 {status}" -- true > /dev/null
    run ts-in -t 10 -j lit '?' '?' '?'
    [ "$output" = '["lit",{"a":1},2,0]' ]
}

# The three defects of issue 12, each reproduced first.

@test "defect: a worker killed holding a job gives it back, and no ts.error carries the job" {
    pid=$(ts-eval --name holder2 --take 'job ?' -- sleep 100 | tail -n 1)
    ts-out job 1
    wait_stat lent 1
    kill -9 "$pid"
    run ts-in -t 10 -j ts.exit holder2 "$pid" '?int'
    [ "$output" = "[\"ts.exit\",\"holder2\",$pid,137]" ]
    # The daemon puts a worker's ts.error, if any, before its ts.exit.
    run ts-in -t 0 -j ts.error holder2 '?' '?' '?' '["job",1]'
    [ "$status" -eq 1 ]
}

@test "defect: a failed job's ts.error is in the space before its --put result" {
    ts-eval --name order --take 'job ?int' --put 'result {2} {status}' \
        -- sh -c 'exit 3' > /dev/null
    ts-out job 1
    run ts-rd -t 10 -j result 1 '?int'
    [ "$output" = '["result",1,3]' ]
    # Whoever sees the result sees the error too, and it arrived first.
    run ts-dump
    [ "${lines[0]}" = "$(ts-rd -j ts.error order '?' '?' '?' '["job",1]')" ]
    [ "${lines[1]}" = '["result",1,3]' ]
    # The same, as a script would check it, job after job.
    ts-in ts.error order '?' '?' '?' '?' > /dev/null
    ts-in result '?' '?' > /dev/null
    for i in $(seq 2 30); do ts-out job "$i"; done
    for i in $(seq 2 30); do
        ts-in -t 10 result "$i" '?int' > /dev/null
        ts-in -t 0 ts.error order '?' '?' '?' "[\"job\",$i]" > /dev/null
    done
}

@test "defect: a command killed by a signal is a failed attempt, retried, not a consumed job" {
    ts-eval --name oomed --retries 1 --take 'job ?int' --put 'result {2} {status}' \
        -- sh -c 'if mkdir "$1" 2>/dev/null; then kill -9 $$; fi; exit 0' sh "$TS_TMP/once" > /dev/null
    ts-out job 1
    run ts-in -t 10 -j result 1 '?int'
    [ "$output" = '["result",1,0]' ]
    run ts-in -t 0 ts.error oomed '?' '?' '?' '?'
    [ "$status" -eq 1 ]
}
