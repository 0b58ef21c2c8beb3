#!/usr/bin/env bats
# The daemon reads common requests without building JSON values (scan.h),
# and everything else through jansson.  Both ways must agree exactly: the
# same canonical tuples, the same errors, the same template.

load helper

setup() {
    start_daemon
}

# Each tuple text, put once in the form clients send (the fast reader's)
# and once with the keys the other way round (jansson's), must be stored
# as the same canonical text.
@test "the fast reader and jansson store the same canonical text" {
    local texts=('[1,"a"]' '[ 1 ,	"a" ]' '["a\"b\\c\n\t\b\f\r"]' '["\u0041\/"]'
        '[1.0,1e0,-0,0.5]' '[{"b":1,"a":[2]}]' '[[1,[2,[]]],true,false,null]'
        '[123456789012345678,1234567890123456789,-42]' '["é"]' '["\u00e9"]' '[""]')
    local t reqs=()
    for t in "${texts[@]}"; do
        reqs+=("{\"op\":\"out\",\"tuple\":$t}" "{\"tuple\":$t,\"op\":\"out\"}")
    done
    run wire "${reqs[@]}"
    [ "$(grep -c '"ok":true' <<< "$output")" -eq $((2 * ${#texts[@]})) ]
    run ts-dump
    [ "${#lines[@]}" -eq $((2 * ${#texts[@]})) ]
    for ((i = 0; i < ${#lines[@]}; i += 2)); do
        [ "${lines[i]}" = "${lines[i + 1]}" ]
    done
    [ "${lines[0]}" = '[1,"a"]' ]
    [ "${lines[2]}" = '[1,"a"]' ]
    [ "${lines[4]}" = '["a\"b\\c\n\t\b\f\r"]' ]
    [ "${lines[6]}" = '["A/"]' ]
    [ "${lines[8]}" = '[1,1,0,0.5]' ]
    [ "${lines[10]}" = '[{"a":[2],"b":1}]' ]
    [ "${lines[14]}" = '[123456789012345678,1234567890123456789,-42]' ]
    [ "${lines[16]}" = "${lines[18]}" ]
}

@test "a batch of simple and other tuples goes in whole, in order" {
    run wire '{"op":"out","tuples":[["a",1],["b",1.5],["c",{"y":1,"x":2}], ["d"] ]}'
    [[ "$output" == '{"ok":true,"n":4}' ]]
    [ "$(ts-dump)" = "$(printf '["a",1]\n["b",1.5]\n["c",{"x":2,"y":1}]\n["d"]')" ]
    run wire '{"op":"out","tuples":[["e"],[]]}' '{"op":"out","tuples":[["e"],["f"]] x}'
    [[ "${lines[0]}" == *'tuple 2: a tuple must have at least one field'* ]]
    [[ "${lines[1]}" == *'"code":"bad"'*'malformed'* ]]
    [ "$(ts-dump | wc -l)" -eq 4 ]
}

@test "requests in the fast form still get every error of the long way" {
    run wire '{"op":"out","tuple":[1,}' '{"op":"out","tuple":[1]} x' '{"op":"out","tuple":[01]}' \
        '{"op":"in","tmpl":["a"],"timeout":-1}' '{"op":"in","tmpl":["a"],"timeout":01}' \
        '{"op":"in","tmpl":["a"],"count":1.5}' '{"op":"in","tmpl":["a"],"count":0}' \
        '{"op":"in","tmpl":["a"],"all":1}' '{"op":"in","tmpl":["a"],"all":true,"all":true}' \
        '{"op":"in","tmpl":["?strr"]}' '{"op":"rd","tmpl":[]}' '{"op":"in","tmpl":["a"],"x":1,"timeout":0}' \
        '{"op":"in","tmpl":["a"],"count":99999999999999999999}'
    [ "${#lines[@]}" -eq 13 ]
    [[ "${lines[0]}" == *'"code":"bad"'*'malformed'* ]]
    [[ "${lines[1]}" == *'"code":"bad"'*'malformed'* ]]
    [[ "${lines[2]}" == *'"code":"bad"'*'malformed'* ]]
    [[ "${lines[3]}" == *'timeout\" must be a number'* ]]
    [[ "${lines[4]}" == *'"code":"bad"'*'malformed'* ]]
    [[ "${lines[5]}" == *'count\" must be a positive integer'* ]]
    [[ "${lines[6]}" == *'count\" must be a positive integer'* ]]
    [[ "${lines[7]}" == *'all\" must be true or false'* ]]
    [[ "${lines[8]}" == *'duplicate'* ]]
    [[ "${lines[9]}" == *"unknown type"* ]]
    [[ "${lines[10]}" == *'non-empty JSON array'* ]]
    [[ "${lines[11]}" == *'"code":"nomatch"'* ]] # other keys are ignored, as documented
    [[ "${lines[12]}" == *'"code":"bad"'*'out of range'* ]]
    [ -z "$(ts-dump)" ]
}

@test "options after the template in the fast form mean what they say" {
    ts-out t 1
    ts-out t 2
    ts-out t 3
    run wire --replies 10 '{"op":"rd","tmpl":["t","?"],"all":true}' \
        '{"op":"in","tmpl":["t","?"],"count":2,"timeout":0}' \
        '{"op":"in","tmpl":["t","?"] , "timeout" : 0.25 , "all" : false}' \
        '{"op":"in","tmpl":["t","?"],"timeout":0}'
    [ "${#lines[@]}" -eq 10 ]
    [[ "${lines[3]}" == '{"ok":true,"n":3}' ]]
    [[ "${lines[4]}" == *'"tuple":["t",1]'* ]]
    [[ "${lines[5]}" == *'"tuple":["t",2]'* ]]
    [[ "${lines[6]}" == '{"ok":true,"n":2}' ]]
    [[ "${lines[7]}" == *'"tuple":["t",3]'* ]]
    [[ "${lines[9]}" == *'"code":"nomatch"'* ]]
}

# The compiled template is kept per client, keyed by the text it came
# from; a template read the long way must not leave a stale key behind.
@test "a client changing templates between the two ways gets the right one" {
    ts-out t 1
    ts-out t x
    ts-out t 2
    ts-out t y
    run wire --replies 16 '{"op":"rd","tmpl":["t","?int"],"count":2,"timeout":0}' \
        '{"tmpl":["t","?str"],"op":"rd","count":2,"timeout":0}' \
        '{"op":"rd","tmpl":["t","?int"],"count":2,"timeout":0}' \
        '{"op":"rd","tmpl":["t","?str"],"count":2,"timeout":0}' \
        '{"op":"in","tmpl":["t","?str"],"count":2,"timeout":0}' \
        '{"op":"rd","tmpl":["t","?str"],"timeout":0}'
    [ "$(grep -o '"tuple":\[[^]]*\]' <<< "$output" | tr '\n' ' ')" = \
        '"tuple":["t",1] "tuple":["t",2] "tuple":["t","x"] "tuple":["t","y"] "tuple":["t",1] "tuple":["t",2] "tuple":["t","x"] "tuple":["t","y"] "tuple":["t","x"] "tuple":["t","y"] ' ]
    # Lent and not acknowledged: hidden from the client's rd, back when it left.
    [[ "${lines[15]}" == *'"code":"nomatch"'* ]]
    [ "$(ts-dump | wc -l)" -eq 4 ]
}

@test "ts-out - with simple and other tuples, and a bad line in the middle" {
    printf '["a", 1]\n["b",2.50]\n\n[{"k":[1,{"j":null}]}]\n["c",1e2]\n[1,\n["never"]\n' > in.txt
    run ts-out - < in.txt
    [ "$status" -eq 2 ]
    [[ "$output" == 'ts-out: line 6: '* ]]
    [ "$(ts-dump)" = "$(printf '["a",1]\n["b",2.5]\n[{"k":[1,{"j":null}]}]\n["c",100]')" ]
}

@test "ts-out -l writes each line as a string, escapes and all" {
    printf 'plain\ttab "quoted" back\\slash\n\xc3\xa9t\xc3\xa9\n\001ctl\n' | ts-out -l f 1.0 '?'
    run ts-dump
    [ "${lines[0]}" = '["f",1,"?","plain\ttab \"quoted\" back\\slash"]' ]
    [ "${lines[1]}" = '["f",1,"?","été"]' ]
    [ "${lines[2]}" = '["f",1,"?","\u0001ctl"]' ]
    printf 'ok\n\xff\xfe\nafter\n' > bad.txt
    run ts-out -l g < bad.txt
    [ "$status" -eq 2 ]
    [ "$output" = 'ts-out: line 2: not valid UTF-8 (byte 0xff at offset 0)' ]
    [ "$(ts-dump g '?')" = '["g","ok"]' ]
}

# ts-in and ts-rd take a simple tuple's text as the daemon sent it, and
# decode the rest with jansson; the output must not tell which.
@test "ts-rd prints simple and other tuples alike in every mode" {
    ts-out -j '["p","tab\tnl\nbs\\q\"",1]'
    ts-out -j '["p","plain",{"b":[1.5],"a":null}]'
    ts-out -j '["p","\u00e9t\u00e9",true]'
    run ts-rd -a p '?' '?'
    [ "${lines[0]}" = 'tab\tnl\nbs\\q"	1' ]
    [ "${lines[1]}" = 'plain	{"a":null,"b":[1.5]}' ]
    [ "${lines[2]}" = 'été	true' ]
    run ts-rd -a -j p '?' '?'
    [ "${lines[0]}" = '["p","tab\tnl\nbs\\q\"",1]' ]
    [ "${lines[1]}" = '["p","plain",{"a":null,"b":[1.5]}]' ]
    [ "$(ts-rd -a -0 p '?' 1 | od -An -c | tr -s ' ')" = \
        "$(printf 'tab\tnl\nbs\\q"\0' | od -An -c | tr -s ' ')" ]
    # Taking them all confirms them all: nothing is left.
    [ "$(ts-in -a p '?' '?' | wc -l)" -eq 3 ]
    [ -z "$(ts-dump)" ]
}
