#!/usr/bin/env bats
# ts-eval as a job runner: retries, timeouts, supervision, --scale, --wait,
# the job log, --sh, --stdin, logs kept, {stdout} and its parts.

load helper

# A bounded poll, unless helper.bash has one: run the command every 10 ms
# until it succeeds, for at most 10 seconds (or -t SECONDS), five times as
# long under valgrind or AddressSanitizer.
if ! type wait_for > /dev/null 2>&1; then
    wait_for() {
        local secs=10 i
        if [ "${1:-}" = -t ]; then
            secs=$2
            shift 2
        fi
        [ -z "${TS_VALGRIND:-}${TS_ASAN:-}" ] || secs=$((secs * 5))
        for i in $(seq $((secs * 100))); do
            "$@" && return 0
            sleep 0.01
        done
        echo "timed out after $secs s waiting for: $*" >&2
        return 1
    }
fi

# Does ts-dump -w show this (a basic regular expression)?
dumped_has() {
    ts-dump -w | grep -q -- "$1"
}

# A command that fails until it has run $2 times for job $1 (counted in files).
FLAKY='n=$(cat "$TS_TMP/n.$1" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$TS_TMP/n.$1"; echo "attempt $n of $1" >&2; [ $n -ge $2 ]'

@test "retries: a job that fails twice succeeds on the third attempt, and only its outcome is put" {
    ts-eval --name flaky --retries 3 --take 'job ?int ?int' --put 'result {2} {status}' \
        -- sh -c "$FLAKY" sh '{2}' '{3}' > /dev/null
    ts-out job 1 3
    run ts-in -t 30 -j result 1 '?int'
    [ "$output" = '["result",1,0]' ]
    [ "$(cat "$TS_TMP/n.1")" = 3 ]
    run ts-in -t 0 ts.error flaky '?' '?' '?' '?'
    [ "$status" -eq 1 ]                          # no dead letter
    [ "$(ts-dump)" = "" ]                        # no result of the failed attempts either
    run ts-dump -S
    [[ "$output" == *$'\nname flaky workers 1 done 1 failed 0 retried 2 inflight 0 queued 0'* ]]
}

@test "retries: the attempt count is in ts-dump -w while a job waits out its backoff" {
    ts-eval --name slowretry --retries 2 --backoff 60 --take 'job ?int ?int' \
        -- sh -c "$FLAKY" sh '{2}' '{3}' > /dev/null
    ts-out job 7 3
    wait_stat retrying 1
    run ts-dump -w
    [[ "$output" == *'{"retry":{"attempt":2,"due":'*',"tuple":["job",7,3]}}'* ]]
    [ "$(ts-dump job '?' '?')" = "" ]            # hidden while it waits: no one takes it early
    [ "$(stat_of lent)" = 1 ]                    # but it is not lost
}

@test "retries: a job given back after a failure comes back with its count" {
    # The count is kept in the tuple, so a worker that takes it over knows it.
    ts-eval --name counted --retries 1 --take 'job ?int ?int' --put 'r {2} {status}' \
        -- sh -c "$FLAKY" sh '{2}' '{3}' > /dev/null
    ts-out job 3 5
    run ts-in -t 30 -j r 3 '?int'
    [ "$output" = '["r",3,1]' ]                  # two attempts, both failed
    [ "$(cat "$TS_TMP/n.3")" = 2 ]
}

@test "retries: a dead letter after N attempts, exactly one ts.error, then the result" {
    ts-eval --name doomed --retries 2 --take 'job ?int' --put 'result {2} {status}' \
        -- sh -c 'echo "no luck with $1" >&2; exit 9' sh '{2}' > /dev/null
    ts-out job 4
    run ts-rd -t 30 -j result 4 '?int'
    [ "$output" = '["result",4,9]' ]
    run ts-dump
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[0]}" == '["ts.error","doomed",'*',9,"no luck with 4\n",["job",4]]' ]]
    [ "${lines[1]}" = '["result",4,9]' ]
    run ts-dump -S
    [[ "$output" == *'name doomed workers 1 done 0 failed 1 retried 2 '* ]]
}

@test "retries: a run-once worker runs its command again, and exits with the last status" {
    pid=$(ts-eval --name once --retries 4 --put 'once {status}' -- sh -c "$FLAKY" sh x 3 | tail -n 1)
    run ts-in -t 30 -j ts.exit once "$pid" '?int'
    [ "$output" = "[\"ts.exit\",\"once\",$pid,0]" ]
    [ "$(ts-in -t 0 -j once '?')" = '["once",0]' ]
    [ "$(cat "$TS_TMP/n.x")" = 3 ]
}

@test "a run-once worker that fails: its ts.error is in the space before its result" {
    pid=$(ts-eval --name oncefail --put 'out {status}' -- sh -c 'exit 5' | tail -n 1)
    ts-rd -t 30 ts.exit oncefail "$pid" '?int' > /dev/null
    run ts-dump
    [ "${lines[0]}" = "[\"ts.error\",\"oncefail\",$pid,5,\"\",null]" ]
    [ "${lines[1]}" = '["out",5]' ]
    [ "${lines[2]}" = "[\"ts.exit\",\"oncefail\",$pid,5]" ]
}

@test "timeout: the command's group gets TERM, the run fails with 124, the worker goes on" {
    ts-eval --name slow --timeout 0.3 --take 'job ?' --put 'r {2} {status}' \
        -- sh -c 'sleep 100 & echo $! > "$TS_TMP/bg"; sleep 100' > /dev/null
    ts-out job 1
    run ts-in -t 30 -j r 1 '?int'
    [ "$output" = '["r",1,124]' ]
    [[ "$(ts-in -t 0 -j ts.error slow '?' '?' '?' '?')" == '["ts.error","slow",'*',124,"",["job",1]]' ]]
    # The worker is alive, and the background sleep got it too: it was in the group.
    [ "$(stat_of workers)" = 1 ]
    wait_gone "$(cat "$TS_TMP/bg")"
}

@test "timeout: a command that ignores TERM is killed after -g seconds, status 137" {
    ts-eval --name stubborn --timeout 0.2 -g 0.2 --take 'job ?' --put 'r {2} {status}' \
        -- sh -c 'trap "" TERM; sleep 100' > /dev/null
    ts-out job 1
    run ts-in -t 30 -j r 1 '?int'
    [ "$output" = '["r",1,137]' ]
}

@test "timeout: a run within the limit is not disturbed" {
    ts-eval --name quick --timeout 30 --take 'job ?' --put 'r {2} {status} {stdout}' \
        -- echo fine > /dev/null
    ts-out job 1
    [ "$(ts-in -t 30 -j r 1 '?int' '?str')" = '["r",1,0,"fine"]' ]
}

@test "supervision: a --take worker killed with SIGKILL is started again, under its index" {
    pid=$(ts-eval --name phoenix --take 'job ?int' --put 'r {2}' -- true | tail -n 1)
    kill -9 "$pid"
    run ts-in -t 30 -j ts.exit phoenix "$pid" '?int'
    [ "$output" = "[\"ts.exit\",\"phoenix\",$pid,137]" ]
    wait_for -t 30 dumped_has '"state":"running","started":[0-9.]*,"restarts":1,'
    run ts-dump -w
    [[ "$output" == *'"name":"phoenix","index":0,'*'"state":"running","started":'*'"restarts":1,'* ]]
    [[ "$output" != *"\"pid\":$pid,"* ]]
    # It works as before.
    ts-out job 5
    [ "$(ts-in -t 30 r '?int')" = 5 ]
    run ts-in -t 0 ts.error phoenix '?' '?' '?' '?'
    [ "$status" -eq 1 ]                          # a worker that died is no error
}

@test "supervision: --restart never leaves a killed --take worker dead, and says so once" {
    pid=$(ts-eval --name mortal --restart never --take 'job ?' -- true | tail -n 1)
    kill -9 "$pid"
    run ts-in -t 30 -j ts.error mortal '?' '?' '?' '?'
    [ "$output" = "[\"ts.error\",\"mortal\",$pid,137,\"\",null]" ]
    wait_stat workers 0
}

@test "supervision: a worker that keeps dying at once is given up on, with one ts.error" {
    # With the defaults: 6 short runs in a row, about 3 s of pauses in all.
    ts-eval --name crashy --restart on-failure -- sh -c 'echo "cannot start" >&2; exit 3' > /dev/null
    run ts-in -t 30 -j ts.error crashy '?' '?' '?' '?'
    [[ "$output" == '["ts.error","crashy",'*',3,"cannot start\n",null]' ]]
    [ "$(ts-in -a ts.exit crashy '?' 3 | wc -l)" -eq 6 ]
    wait_stat workers 0
    run ts-in -t 0 ts.error crashy '?' '?' '?' '?'
    [ "$status" -eq 1 ]                          # one, not one per run
    grep -q 'worker crashy\[[0-9]*\]: 6 short runs in a row: giving up' "$TS_TMP/tsd.log"
}

@test "supervision: -k forgets a worker waiting to be restarted, and returns" {
    ts-eval --name between --restart always -- sh -c 'exit 0' > /dev/null
    wait_for dumped_has '"name":"between".*"state":"restarting"'
    run ts-eval -k between
    [ "$status" -eq 0 ]
    wait_stat workers 0
}

@test "supervision: --restart always starts a run-once worker again after a clean exit" {
    ts-eval --name again --restart always -- sh -c 'ts-out ran "$TS_WORKER_INDEX"' > /dev/null
    run ts-in -n 2 -t 30 ran 0
    [ "$status" -eq 0 ]
    run ts-in -t 0 ts.error again '?' '?' '?' '?'
    [ "$status" -eq 1 ]
    ts-eval -k again
}

@test "--scale up and down while jobs run: no job lost, none run twice" {
    ts-eval --name scaled --take 'job ?int' --put 'done {2}' \
        -- sh -c 'echo "$1" >> "$TS_TMP/ran"; sleep 0.02' sh '{2}' > /dev/null
    for i in $(seq 80); do echo "[\"job\",$i]"; done | ts-out -
    run ts-eval --scale scaled 4
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 4 ]                     # the name and 3 new pids
    wait_stat workers 4
    ts-eval --scale scaled 1 > /dev/null
    ts-eval --scale scaled 3 > /dev/null
    ts-eval --scale scaled 2 > /dev/null
    run ts-eval --wait scaled
    [ "$status" -eq 0 ]
    [ "$(ts-in -a done '?int' | sort -n | uniq | wc -l)" -eq 80 ]
    [ "$(sort -n "$TS_TMP/ran" | uniq -d)" = "" ]    # none twice
    [ "$(wc -l < "$TS_TMP/ran")" -eq 80 ]
    wait_stat workers 2
}

@test "--scale to 0 stops the workers after their jobs; with no name it fails" {
    ts-eval -n 2 --name gone --take 'job ?' -- true > /dev/null
    run ts-eval --scale gone 0
    [ "$status" -eq 0 ]
    [ "$output" = gone ]
    wait_stat workers 0
    run ts-in -n 2 -t 30 ts.exit gone '?' '?int'
    [ "$(cut -f 2 <<< "$output")" = "$(printf '0\n0')" ]
    run ts-in -t 0 ts.error gone '?' '?' '?' '?'
    [ "$status" -eq 1 ]
    run ts-eval --scale nobody 3
    [ "$status" -eq 1 ]
    [ "$output" = "ts-eval: no workers named 'nobody'" ]
    run ts-eval --scale gone many
    [ "$status" -eq 2 ]
}

@test "--wait: 0 when every job succeeded, with the results all in" {
    ts-eval -n 3 --name ok --take 'job ?int' --put 'r {2}' -- true > /dev/null
    for i in $(seq 20); do echo "[\"job\",$i]"; done | ts-out -
    run ts-eval --wait ok
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    [ "$(ts-dump r '?' | wc -l)" -eq 20 ]
    [ "$(ts-dump job '?' | wc -l)" -eq 0 ]
}

@test "--wait: the number of jobs that failed for good, capped at 100" {
    ts-eval -n 2 --name some --retries 1 --take 'job ?int' -- sh -c '[ $(($1 % 3)) -ne 0 ]' sh '{2}' > /dev/null
    for i in $(seq 10); do echo "[\"job\",$i]"; done | ts-out -
    run ts-eval --wait some
    [ "$status" -eq 3 ]                          # 3, 6 and 9, each after 2 attempts
    ts-eval -n 2 --name many --take 'job2 ?int' -- false > /dev/null
    for i in $(seq 120); do echo "[\"job2\",$i]"; done | ts-out -
    run ts-eval --wait many
    [ "$status" -eq 100 ]
}

@test "--wait: run-once workers, errors are 100 and more" {
    ts-eval -n 3 --name batch -- sh -c 'exit $TS_WORKER_INDEX' > /dev/null
    run ts-eval --wait batch
    [ "$status" -eq 2 ]                          # indexes 1 and 2 failed
    run ts-eval --wait nobody
    [ "$status" -eq 101 ]
    [ "$output" = "ts-eval: no workers named 'nobody'" ]
    run ts-eval --wait
    [ "$status" -eq 102 ]
    run ts-eval --wait batch --bogus
    [ "$status" -eq 102 ]
    run ts-eval --wait batch -s "$TS_TMP/nowhere"
    [ "$status" -eq 103 ]
}

@test "--wait: when no worker is left to do the jobs, it fails with 101" {
    ts-eval --name lazy --take 'job ?' -- true > /dev/null
    ts-eval --scale lazy 0 > /dev/null
    wait_stat workers 0
    ts-out job 1
    run ts-eval --wait lazy
    [ "$status" -eq 101 ]
    [ "$output" = "ts-eval: no worker is left to do the 1 job left" ]
}

@test "--wait waits for jobs in flight, and for jobs being retried" {
    ts-eval --name patient --retries 1 --backoff 0.5 --take 'job ?int ?int' --put 'r {2}' \
        -- sh -c "$FLAKY" sh '{2}' '{3}' > /dev/null
    ts-out job 1 2
    run ts-eval --wait patient
    [ "$status" -eq 0 ]
    [ "$(ts-in -t 0 r '?')" = 1 ]
}

@test "--progress: a line with done, failed, in flight, queued, rate and ETA on a terminal" {
    ts-eval -n 2 --name shown --take 'job ?int' -- sleep 0.05 > /dev/null
    for i in $(seq 30); do echo "[\"job\",$i]"; done | ts-out -
    run script -qec "ts-eval --progress --wait shown" /dev/null
    [ "$status" -eq 0 ]
    [[ "$output" == *'shown: 30 done, 0 failed, 0 in flight, 0 queued, '*'/s, ETA '* ]]
    # Not on a terminal: nothing.
    run ts-eval --progress --wait shown
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    run ts-eval --progress -n 2 -- true
    [ "$status" -eq 2 ]
}

@test "the job log has GNU parallel's columns, a line per finished attempt" {
    ts-eval --name logged --retries 1 --timeout 5 --joblog jobs.log --take 'job ?int ?str' \
        -- sh -c 'case $1 in 1) exit 0;; 2) exit 4;; 3) kill -9 $$;; esac' sh '{2}' '{3}' > /dev/null
    ts-out job 1 'a b'
    ts-out job 2 "it's"
    ts-out job 3 x
    ts-eval --wait logged || true
    run cat jobs.log
    [ "${lines[0]}" = "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')" ]
    [ "${#lines[@]}" -eq 6 ]                     # 1 + 2 attempts + 2 attempts
    awk -F '\t' 'NR > 1 && (NF != 9 || $1 !~ /^[0-9]+$/ || $2 != ":" || $3 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ ||
                 $4 !~ /^ *[0-9]+\.[0-9][0-9][0-9]$/ || $5 != 0) { exit 1 }' jobs.log
    [ "$(cut -f 1 jobs.log | tail -n +2 | sort -n | tr '\n' ' ')" = "1 2 3 4 5 " ]
    # Exitval and Signal as GNU parallel has them; the command as a shell reads it.
    [ "$(awk -F '\t' '$7 == 0 && $8 == 0 && $9 ~ /^sh -c .* sh 1 '"'a b'"'$/' jobs.log | wc -l)" -eq 1 ]
    [ "$(awk -F '\t' '$7 == 4 && $8 == 0' jobs.log | grep -c -F "sh 2 'it'\"'\"'s'")" -eq 2 ]
    [ "$(awk -F '\t' '$7 == 0 && $8 == 9 && $9 ~ / sh 3 x$/' jobs.log | wc -l)" -eq 2 ]
}

@test "the job log of a timeout: Exitval -1 and the signal, as GNU parallel writes it" {
    ts-eval --name late --timeout 0.2 --joblog "$TS_TMP/late.log" -- sleep 100 > /dev/null
    ts-eval --wait late || true
    run tail -n 1 "$TS_TMP/late.log"
    [[ "$output" == 1$'\t:\t'*$'\t0\t0\t-1\t15\tsleep 100' ]]
}

# The JSON string of a shell word.
json_of() {
    python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

@test "--sh: placeholders become quoted positional parameters; hostile values stay data" {
    ts-eval --name hashed --take 'f ?str' --put 'h {stdout}' \
        --sh 'printf "%s|" {2} "in dq {2}" '\''in sq {2} '\'' -- {2}' > /dev/null
    for v in 'a b' "'" '"' '; touch pwned' '$(touch pwned)' '`touch pwned`' $'two\nlines' \
        '-n' '--help' '*' '$1' '{2}' '\' ' lead and trail '; do
        ts-out -- f "$v"
        run ts-in -t 30 -j h '?'
        [ "$status" -eq 0 ]
        [ "$output" = "[\"h\",$(json_of "$v|in dq $v|in sq $v |--|$v|")]" ]
    done
    [ ! -e pwned ]
    [ ! -e "$TS_TMP/pwned" ]
}

@test "--sh: here-documents, \$( ), a repeated placeholder and {{" {
    ts-eval --name doc --take 'f ?str ?int' --put 'o {stdout}' --sh 'x=$(printf "%s" {2}{3}); cat <<EOF
{2} and {3} and {2} {{}
EOF
echo "$x" # {2} in a comment
echo "$#"' > /dev/null
    ts-out f 'x"y' 7
    [ "$(ts-in -t 30 -j o '?')" = '["o","x\"y and 7 and x\"y {}\nx\"y7\n2"]' ]
    run ts-eval --take 'f ?str' --sh "cat <<'EOF'
{2}
EOF"
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-eval: --sh: placeholder {2} in a here-document with a quoted delimiter"* ]]
}

@test "--sh: usage errors, and a shell script pasted into a command is refused" {
    run ts-eval --take 'f ?str' -- 'sha256sum {2} | cut -d" " -f1'
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-eval: the command 'sha256sum {2} | cut -d\" \" -f1' has a placeholder in shell syntax, but no shell reads it: write it as --sh "* ]]
    run ts-eval --take 'f ?str' -- sh -c 'echo {2}'
    [ "$status" -eq 2 ]
    [ "$output" = "ts-eval: a placeholder in the script of sh -c would be run as shell code: pass the value as an argument (\"\$1\") or use --sh, which does" ]
    run ts-eval --take 'f ?str' -- bash -ec 'echo {2}'
    [ "$status" -eq 2 ]
    run ts-eval --take 'f ?str' --sh 'echo {3}'
    [ "$output" = "ts-eval: placeholder {3} but --take has 2 fields" ]
    run ts-eval --take 'f ?str' --sh 'echo {status}'
    [ "$output" = "ts-eval: placeholder {status} can only be used in --put" ]
    run ts-eval --sh 'echo' -- echo
    [ "$status" -eq 2 ]
    # Placeholders as separate arguments of sh -c are fine.
    run ts-eval --name fine --take 'f ?str' -- sh -c 'echo "$1"' sh '{2}'
    [ "$status" -eq 0 ]
    [ "$(stat_of workers)" = 1 ]
}

@test "stdin: by default the command reads the tuple; --stdin null gives it nothing" {
    ts-eval --name tuplehash --take 'f ?str' --put 'h1 {2} {stdout:1:1}' -- sha256sum > /dev/null
    ts-eval --name nullhash --stdin null --take 'g ?str' --put 'h2 {2} {stdout:1:1}' -- sha256sum > /dev/null
    ts-out f x
    ts-out g x
    [ "$(ts-in -t 30 h1 x '?')" = "$(printf '["f","x"]\n' | sha256sum | cut -d ' ' -f 1)" ]
    [ "$(ts-in -t 30 h2 x '?')" = "$(printf '' | sha256sum | cut -d ' ' -f 1)" ]
    run ts-eval --stdin file -- true
    [ "$status" -eq 2 ]
}

@test "{stdout:L} and {stdout:L:F}: one line, or one field of it" {
    ts-eval --name parts --take 'p ?' --put 'o {stdout:1} {stdout:-1} {stdout:2:2} {stdout:2:-1} {stdout:9} x{stdout:3:1}y' \
        -- printf ' a b \n  c\td  e\nlast line\n' > /dev/null
    ts-out p 1
    [ "$(ts-in -t 30 -j o '?' '?' '?' '?' '?' '?')" = '["o"," a b ","last line","d","e","","xlasty"]' ]
}

@test "{stdout} keeps the first 4 MiB and says that it left the rest out" {
    ts-eval --name big --take 'p ?' --put 'o {stdout}' \
        -- sh -c 'head -c 5000000 /dev/zero | tr "\0" a' > /dev/null
    ts-out p 1
    run ts-in -t 60 -j o '?'
    [ "${#output}" -eq $((4194304 + 8)) ]
    wait_for grep -q 'big: standard output past 4194304 bytes is left out of {stdout}' "$TS_TMP/tsd.log"
}

@test "logs: the last output of each worker is kept and shown by --log, after it is gone too" {
    ts-eval -n 2 --name chatty -- sh -c 'echo "out of $TS_WORKER_INDEX"; echo "err of $TS_WORKER_INDEX" >&2; seq 3000' > /dev/null
    ts-eval --wait chatty
    run ts-eval --log chatty
    [ "$status" -eq 0 ]
    [[ "$output" == *'Z chatty['*']: 3000'* ]]
    [ "$(grep -c ': 3000$' <<< "$output")" -eq 2 ]
    [ "$(printf '%s\n' "$output" | wc -c)" -le $((2 * 16384)) ]     # 16 KiB per worker
    [[ "$output" != *'out of '* ]]                                   # pushed out by the seq
    # A quiet one keeps its lines.
    ts-eval --name quiet -- sh -c 'echo "only line" >&2' > /dev/null
    ts-eval --wait quiet
    [[ "$(ts-eval --log quiet)" == *'Z quiet['*']: only line' ]]
    run ts-eval --log nobody
    [ "$status" -eq 1 ]
}

@test "logs: kept by a daemon that logs nowhere" {
    stop_daemon
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    eval "$(tsd -d -s "$TS_TMP/sock")"
    cd "$TS_TMP"
    ts-eval --name silent -- echo 'said something' > /dev/null
    ts-eval --wait silent
    [[ "$(ts-eval --log silent)" == *'silent['*']: said something' ]]
}

@test "start options are checked before anything starts" {
    run ts-eval --restart sometimes -- true
    [ "$status" -eq 2 ]
    [ "$output" = "ts-eval: bad --restart 'sometimes': always, on-failure or never" ]
    run ts-eval --retries -1 -- true
    [ "$output" = "ts-eval: bad retry count '-1': 0 to 1000" ]
    run ts-eval --timeout 0 -- true
    [ "$status" -eq 2 ]
    run ts-eval -g 1 -- true
    [ "$output" = "ts-eval: -g goes with -k or --timeout" ]
    run ts-eval --backoff x -- true
    [ "$status" -eq 2 ]
    run ts-eval -k x --retries 2
    [ "$status" -eq 2 ]
    run ts-eval --log x --scale y 2
    [ "$status" -eq 2 ]
    [ "$(stat_of workers)" = 0 ]
    run wire '{"op":"eval","name":"x","argv":["true"],"cwd":"/","env":[],"retries":1.5}'
    [ "$output" = '{"ok":false,"code":"bad","error":"\"retries\" must be an integer"}' ]
    run wire '{"op":"eval","name":"x","argv":["true"],"cwd":"/","env":[],"joblog":"rel"}'
    [ "$output" = '{"ok":false,"code":"bad","error":"\"joblog\" must be an absolute path"}' ]
}

@test "the job request: one step, checked whole" {
    run wire '{"op":"job","outcome":"done","id":5,"tuples":[["x"]]}'
    [ "$output" = '{"ok":false,"code":"nomatch","error":"no tuple is lent to this client as id 5"}' ]
    run wire '{"op":"job","outcome":"maybe"}'
    [[ "$output" == '{"ok":false,"code":"bad",'* ]]
    run wire '{"op":"job","outcome":"retry","id":1,"tuples":[]}'
    [[ "$output" == '{"ok":false,"code":"bad",'* ]]
    [ "$(ts-dump)" = "" ]
    ts-out job 1
    run wire --replies 3 '{"op":"in","tmpl":["job","?"],"job":true}' \
        '{"op":"job","outcome":"done","id":1,"tuples":[["r",1],["r",2]]}'
    [ "${lines[0]}" = '{"id":1,"attempt":1,"seq":0,"tuple":["job",1]}' ]
    [ "${lines[2]}" = '{"ok":true,"n":2}' ]
    [ "$(ts-dump | tr '\n' ' ')" = '["r",1] ["r",2] ' ]
}

@test "ts-worker on its own: retries, timeout, grace, stdin, job log; SIGUSR1 stops it after its job" {
    ts-worker --name solo --take 'job ?int' --put 'r {2} {status} {stdout}' --retries 1 \
        --backoff 0.1 --timeout 0.5 --grace 0.1 --stdin null --joblog "$TS_TMP/solo.log" \
        -- sh -c 'case $1 in 1) cat;; 2) trap "" TERM; sleep 100;; esac' sh '{2}' &
    bg $!
    pid=$!
    ts-out job 1
    [ "$(ts-in -t 30 -j r 1 '?' '?')" = '["r",1,0,""]' ]      # stdin was /dev/null
    ts-out job 2
    [ "$(ts-in -t 30 -j r 2 '?' '?')" = '["r",2,137,""]' ]    # TERM ignored: KILLed, twice
    [[ "$(ts-in -t 0 -j ts.error solo '?' '?' '?' '?')" == "[\"ts.error\",\"solo\",$pid,137,\"\",[\"job\",2]]" ]]
    [ "$(grep -c $'\t-1\t9\tsh -c' "$TS_TMP/solo.log")" -eq 2 ]
    [ "$(head -n 1 "$TS_TMP/solo.log" | cut -f 1,9)" = "$(printf 'Seq\tCommand')" ]
    kill -USR1 "$pid"
    wait_gone "$pid"
    run wait "$pid"
    [ "$status" -eq 0 ]
    run ts-worker --retries x -- true
    [ "$status" -eq 2 ]
    run ts-worker --stdin maybe -- true
    [ "$status" -eq 2 ]
    run ts-worker --timeout -1 -- true
    [ "$status" -eq 2 ]
}
