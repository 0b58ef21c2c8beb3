#!/usr/bin/env bats
# Mistakes are caught: options after the fields, bad lines in bulk input,
# messages without library internals, a failed eval "$(tsd -d)".

load helper

@test "an option after the fields is refused at once, exit 2, for every command" {
    msg="options go before the fields; write -- before a field that starts with -"
    run timeout 10 ts-in job '?' -t 1
    [ "$status" -eq 2 ]
    [ "$output" = "ts-in: '-t' after the fields: $msg" ]
    run timeout 10 ts-rd job -a
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-rd: '-a' after the fields"* ]]
    run ts-out job 1 -s "$TS_SOCKET"
    [ "$status" -eq 2 ]
    run ts-out -l job --strings < /dev/null
    [ "$status" -eq 2 ]
    run ts-dump job -w
    [ "$status" -eq 2 ]
    [ "$(stat_of tuples)" = 0 ]
}

@test "-- keeps fields that start with -; numbers and - alone need no --" {
    ts-out -- -x --y
    ts-out job -1.5 -2e3 -
    ts-out -s "$TS_SOCKET" -- -- z
    [ "$(ts-dump)" = "$(printf '%s\n' '["-x","--y"]' '["job",-1.5,-2000,"-"]' '["--","z"]')" ]
    run ts-in -- -x '?'
    [ "$output" = "--y" ]
    # "--" as the argument of -s does not end the options.
    run ts-rd -s -- job -t 0
    [ "$status" -eq 2 ]
}

@test "a NUL in line 3 of ts-out -l: lines 1 and 2 are put, and line 3 is named" {
    run ts-out -l job < <(printf 'one\ntwo\nth\0ree\nfour\n')
    [ "$status" -eq 2 ]
    [ "$output" = "ts-out: line 3: holds a NUL byte, which a string cannot hold (for NUL-separated input use -0)" ]
    [ "$(ts-in -a job '?')" = "$(printf 'one\ntwo')" ]
}

@test "every bulk error names its line, and the lines before it are put" {
    run ts-out - < <(printf '%s\n' '["a",1]' '' '  ' '["a",2]' '["a",' '["a",3]')
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-out: line 5: bad tuple '[\"a\",': "* ]]
    run ts-out - < <(printf '%s\n' '["b",1]' '["b","\u0000"]')
    [ "$status" -eq 2 ]
    [ "$output" = "ts-out: line 2: bad tuple '[\"b\",\"\\u0000\"]': a string may not hold U+0000 (NUL)" ]
    run ts-out - < <(printf '%s\n' '["c",1]' '["c",1e999]')
    [[ "$output" == "ts-out: line 2: bad tuple "*"number 1e999 is out of range"* ]]
    [ "$(ts-dump)" = "$(printf '%s\n' '["a",1]' '["a",2]' '["b",1]' '["c",1]')" ]
}

@test "a batch the daemon refuses is reported by the lines it held" {
    stop_daemon
    start_daemon -m 4096
    big=$(head -c 5000 /dev/zero | tr '\0' a)
    run ts-out -l job < <(printf '%s\n' one "$big" three)
    [ "$status" -eq 2 ]
    [ "$output" = "ts-out: lines 1 to 3: request line longer than 4096 bytes" ]
}

@test "no message shows library internals" {
    run ts-out -j '["a\u0000b"]'
    [ "$status" -eq 2 ]
    [[ "$output" == *"a string may not hold U+0000 (NUL)"* ]]
    run wire '{"op":"out","tuple":["a\u0000b"]}' '{"op":"out","tuple":[1e999]}' \
        '{"op":"out","tuple":[123456789012345678901234567890]}'
    [[ "$output" != *JSON_* && "$output" != *"too big"* && "$output" != *"overflow"* ]]
    [[ "${lines[0]}" == *'a string may not hold U+0000 (NUL)'* ]]
    [[ "${lines[1]}" == *'out of range'* ]]
    [[ "${lines[2]}" == *'out of range'* ]]
    run ts-rd '["a\u0000"]'
    [[ "$output" != *JSON_* ]]
}

@test "eval \"\$(tsd -d)\" fails when the daemon cannot start" {
    run bash -c 'eval "$(tsd -d -s "$1")"' sh "$TS_SOCKET"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: a daemon is already listening on $TS_SOCKET" ]
    run bash -c 'eval "$(tsd -d -m 1 -s "$1" 2>/dev/null)"' sh "$TS_TMP/other"
    [ "$status" -eq 2 ]
    run bash -c 'eval "$(tsd -x -d 2>/dev/null)"'
    [ "$status" -eq 2 ]
    # What tsd -d prints for eval when it fails: a command that fails the same way.
    run bash -c 'out=$(tsd -d -s "$1" 2>&1); echo "[$out]"' sh "$TS_SOCKET"
    [[ "$output" == *"(exit 2)"* ]]
}

@test "ts-tuples(7) explains why an unquoted ? is a trap, and the way around it" {
    grep -q 'noglob' "$BATS_TEST_DIRNAME/../man/ts-tuples.7"
    grep -q 'no matches found' "$BATS_TEST_DIRNAME/../man/ts-tuples.7"
}

@test "a bad -n count is exit 2, with the same words in every command" {
    for cmd in ts-in ts-rd ts-dump ts-top; do
        for n in 0 -1 x 1x ''; do
            run "$cmd" -n "$n" job
            [ "$status" -eq 2 ]
            [ "$output" = "$cmd: bad count '$n': a positive integer is needed" ]
        done
    done
}
