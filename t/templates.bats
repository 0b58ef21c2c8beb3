#!/usr/bin/env bats
# Richer templates: range formals for numbers, and object templates whose
# values are formals (Rinda's hash templates).

load helper

@test "range formals: inclusive, open at either end, reals and negative numbers" {
    for v in -3 0 1.5 2 3 5 5.5 10 1e3 x '"4"'; do ts-out n "$v"; done
    [ "$(ts-rd -a n '?2..5' | tr '\n' ' ')" = "2 3 5 " ]
    [ "$(ts-rd -a n '?10..' | tr '\n' ' ')" = "10 1000 " ]
    [ "$(ts-rd -a n '?..0' | tr '\n' ' ')" = "-3 0 " ]
    [ "$(ts-rd -a n '?1.5..5.5' | tr '\n' ' ')" = "1.5 2 3 5 5.5 " ]
    [ "$(ts-rd -a n '?-5..-1' | tr '\n' ' ')" = "-3 " ]
    [ "$(ts-rd -a n '?2.0..2' | tr '\n' ' ')" = "2 " ]
    run ts-rd -t 0 n '?6..9'
    [ "$status" -eq 1 ]
    # On the wire, and inside a waiting take.
    run wire '{"op":"rd","tmpl":["n","?1e3.."],"all":true}'
    [ "${lines[0]}" = '{"tuple":["n",1000]}' ]
    ts-in -t 10 w '?100..200' > "$TS_TMP/got" &
    bg $!
    wait_stat waiters 1
    ts-out w 99
    ts-out w 150
    wait $!
    [ "$(cat "$TS_TMP/got")" = 150 ]
    [ "$(ts-dump w '?')" = '["w",99]' ]
}

@test "a range works exactly with integers beyond a double's 53 bits" {
    ts-out b 9007199254740993
    ts-out b 9007199254740992
    [ "$(ts-rd -a b '?9007199254740993..' )" = 9007199254740993 ]
    [ "$(ts-rd -a b '?..9007199254740992.0' )" = 9007199254740992 ]
}

@test "bad ranges are refused with a reason" {
    run ts-rd -t 0 n '?5..1'
    [ "$status" -eq 2 ]
    [ "$output" = "ts-rd: bad template field '?5..1': bad range: empty, its low end is above its high end" ]
    run ts-rd -t 0 n '?..'
    [[ "$output" == *"bad range: give LO, HI or both"* ]]
    run ts-rd -t 0 n '?1..x'
    [[ "$output" == *"bad range: 'x' is not a number"* ]]
    run ts-rd -t 0 n '?01..2'
    [ "$status" -eq 2 ]
    run wire '{"op":"rd","tmpl":["?1...2"]}'
    [[ "$output" == *'"code":"bad"'*'bad range'* ]]
}

@test "object templates: exactly the keys, each value matched by its formal" {
    ts-out p '{"name":"ann","age":41}'
    ts-out p '{"name":"bob","age":"old"}'
    ts-out p '{"name":"cy","age":7,"pet":"cat"}'
    ts-out p '{"name":"?x","age":3.5}'
    run ts-rd -a -j p '{"name":"?str","age":"?int"}'
    [ "$output" = '["p",{"age":41,"name":"ann"}]' ]
    run ts-rd -a -j p '{"age":"?","name":"?str"}'
    [ "${#lines[@]}" -eq 3 ]
    run ts-rd -a -j p '{"name":"??x","age":"?num"}'
    [ "$output" = '["p",{"age":3.5,"name":"?x"}]' ]
    run ts-rd -a -j p '{"name":"?~^c","age":"?0..10","pet":"cat"}'
    [ "$output" = '["p",{"age":7,"name":"cy","pet":"cat"}]' ]
    # What an object template binds is printed, as for any formal.
    run ts-rd -a p '{"name":"ann","age":"?int"}'
    [ "$output" = '{"age":41,"name":"ann"}' ]
    # Without formals it is a literal, its escapes undone.
    run ts-rd -a -j p '{"name":"??x","age":3.5}'
    [ "$output" = '["p",{"age":3.5,"name":"?x"}]' ]
    run ts-rd -t 0 p '{"name":"?str"}'
    [ "$status" -eq 1 ]
}

@test "object templates nest, and arrays in them stay literal" {
    ts-out o '{"a":{"b":2,"c":["?int"]}}'
    run ts-rd -t 0 -j o '{"a":{"b":"?int","c":["?int"]}}'
    [ "$output" = '["o",{"a":{"b":2,"c":["?int"]}}]' ]
    run ts-rd -t 0 o '{"a":{"b":"?str","c":"?"}}'
    [ "$status" -eq 1 ]
}

@test "a bad formal inside an object is named by its key" {
    run ts-rd -t 0 p '{"name":"?foo"}'
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-rd: bad template field 2: key \"name\": unknown type"* ]]
    run wire '{"op":"in","tmpl":[{"k":{"j":"?1..0"}}]}'
    [[ "$output" == *'bad template field 1: key \"k\": key \"j\": bad range'* ]]
}

@test "waiters with object and range templates are woken by a matching out" {
    ts-in -t 10 -j job '{"id":"?int","url":"?str"}' > "$TS_TMP/got" &
    bg $!
    wait_stat waiters 1
    ts-out job '{"id":1}'
    ts-out job '{"id":2,"url":"x"}'
    wait $!
    [ "$(cat "$TS_TMP/got")" = '["job",{"id":2,"url":"x"}]' ]
}
