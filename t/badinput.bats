#!/usr/bin/env bats
# Bad input from a client: an error line for it, nothing lost for anyone.

load helper

setup() {
    start_daemon -m 4096
    ts-out keep 1
    ts-out keep 2
}

# The daemon still serves and still holds what it held.
intact() {
    [ "$(ts-dump)" = "$(printf '["keep",1]\n["keep",2]')" ]
}

@test "malformed JSON gets a 'bad' error and the connection stays usable" {
    run wire '{"op":"out","tuple":[1,' '{"op":"stats"}'
    [[ "${lines[0]}" == *'"ok":false'*'"code":"bad"'*'malformed'* ]]
    [[ "${lines[1]}" == *'"ok":true'* ]]
    intact
}

@test "a request that is not an object, has no op, or an unknown op" {
    run wire '[1,2]' '{"x":1}' '{"op":"frobnicate"}' '{"op":7}'
    [[ "${lines[0]}" == *'must be a JSON object'* ]]
    [[ "${lines[1]}" == *'needs an \"op\"'* ]]
    [[ "${lines[2]}" == *"unknown op 'frobnicate'"* ]]
    [[ "${lines[3]}" == *'needs an \"op\"'* ]]
    intact
}

@test "wrong types in fields are named" {
    run wire '{"op":"out","tuple":"x"}' '{"op":"out","tuple":[]}' '{"op":"in","tmpl":[]}' \
        '{"op":"in","tmpl":["a"],"timeout":"soon"}' '{"op":"in","tmpl":["a"],"count":0}' \
        '{"op":"in","tmpl":["?strr"]}' '{"op":"in","tmpl":["?~("]}' '{"op":"ack"}' \
        '{"op":"out","tuples":[["a"],[]]}'
    [[ "${lines[0]}" == *'must be a JSON array'* ]]
    [[ "${lines[1]}" == *'at least one field'* ]]
    [[ "${lines[2]}" == *'non-empty JSON array'* ]]
    [[ "${lines[3]}" == *'timeout'* ]]
    [[ "${lines[4]}" == *'count'* ]]
    [[ "${lines[5]}" == *"bad template field 1 '?strr': unknown type"* ]]
    [[ "${lines[6]}" == *'bad regular expression'* ]]
    [[ "${lines[7]}" == *'ack needs an'* ]]
    [[ "${lines[8]}" == *'tuple 2: a tuple must have at least one field'* ]]
    # The batch with a bad tuple stored nothing.
    intact
}

@test "an unsupported protocol version is refused clearly" {
    run wire '{"v":2,"op":"stats"}'
    [[ "$output" == *'"code":"version"'*'speaks 1'* ]]
}

@test "a line over the size limit is refused and the daemon keeps serving" {
    big=$(head -c 5000 /dev/zero | tr '\0' a)
    run wire "{\"op\":\"out\",\"tuple\":[\"$big\"]}"
    [[ "$output" == *'longer than 4096 bytes'* ]]
    intact
}

@test "a huge line without newline is refused without buffering it all" {
    run python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    for _ in range(100): s.sendall(b"a" * 65536)
except OSError:
    pass
print(s.makefile().readline().strip())' "$TS_SOCKET"
    [[ "$output" == *'longer than 4096 bytes'* ]]
    intact
}

@test "invalid UTF-8 is refused" {
    run wire --raw '{"op":"out","tuple":["\xff\xfe"]}\n'
    [[ "$output" == *'"code":"bad"'* ]]
    intact
}

@test "deep nesting is refused" {
    deep=$(printf '[%.0s' $(seq 3000))
    run wire "{\"op\":\"out\",\"tuple\":$deep"
    [[ "$output" == *'"code":"bad"'* ]]
    intact
}

@test "a half line followed by a disconnect loses nothing" {
    run wire --raw '{"op":"in","tmpl":["keep",' --replies 0
    wait_stat clients 1  # ts-dump itself
    intact
}

@test "bad words on the command line exit 2 naming the word" {
    run ts-in job '?strr'
    [ "$status" -eq 2 ]
    [ "$output" = "ts-in: bad template field '?strr': unknown type (one of ? ?str ?int ?num ?bool ?null ?arr ?obj ?~ERE ?LO..HI)" ]
    run ts-rd job '?~(' 
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-rd: bad template field '?~(': bad regular expression"* ]]
    run ts-out -j '{"a":1}'
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-out: bad tuple"* ]]
    run ts-in -t soon job ?
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-in: bad timeout 'soon'"* ]]
    run ts-in -n 0 job ?
    [ "$status" -eq 2 ]
    intact
}

# Found by the fuzzers (fuzz/regress/); each once stalled the daemon, hit
# undefined behaviour, or got no reply at all.
@test "fuzz regressions: costly regexes, an empty tuple, bytes that are not UTF-8" {
    run timeout 10 "$WIRE" "$TS_SOCKET" '{"op":"rd","tmpl":["?~a+++++++++++++++++++++"],"timeout":0}' \
        '{"op":"rd","tmpl":["?~a{1,32767}"],"timeout":0}' \
        '{"op":"rd","tmpl":["?~((((a{1,100}){1,100}){1,100}){1,100})"],"timeout":0}' \
        '{"op":"out","tuple":[]}'
    [[ "${lines[0]}" == *"a repetition right after another"* ]]
    [[ "${lines[1]}" == *"a count over 255"* ]]
    [[ "${lines[2]}" == *"too costly to compile"* ]]
    [[ "${lines[3]}" == *"at least one field"* ]]
    run "$WIRE" "$TS_SOCKET" '{"op":"rd","tmpl":["?~(.*)(.*)(.*)\\3\\2\\1x"],"timeout":0}'
    [[ "$output" == *"back-references"* ]]
    for f in "$BATS_TEST_DIRNAME"/../fuzz/regress/request-*; do
        # Each reproducer, ended by a newline if it lacks one (an empty line is
        # ignored); its last request is the bad one.
        n=$(awk 'END { print NR }' "$f")
        [ "$n" -gt 0 ] || n=1
        run timeout 10 "$WIRE" "$TS_SOCKET" --file "$f" "" --replies "$n"
        # request-5's nested groups cost TRE little: it is answered, not refused.
        [[ "${lines[$((n - 1))]}" == '{"ok":false,"code":"bad"'* ]] ||
            [[ "$f" == */request-5 && "${lines[$((n - 1))]}" == '{"ok":false,"code":"nomatch"'* ]]
        ts-in -a -j '?' > /dev/null || true   # what a reproducer put
    done
    intact
}
