#!/usr/bin/env bats
# Putting, taking and reading tuples; matching; output formats.

load helper

@test "out then in returns the bound value and removes the tuple" {
    ts-out job a.jpg
    run ts-in job ?str
    [ "$status" -eq 0 ]
    [ "$output" = "a.jpg" ]
    run ts-in -t 0 job ?str
    [ "$status" -eq 1 ]
}

@test "rd reads without taking" {
    ts-out count 3
    run ts-rd -j count ?int
    [ "$output" = '["count",3]' ]
    run ts-rd count ?int
    [ "$output" = "3" ]
    [ "$(ts-dump)" = '["count",3]' ]
}

@test "words are JSON values when they are JSON text, strings otherwise" {
    ts-out 42 -1.5e3 true null '"quoted"' '[1,2]' '{"a":1}' job 'a b' '' ' 7'
    run ts-dump
    [ "$output" = '[42,-1500,true,null,"quoted",[1,2],{"a":1},"job","a b",""," 7"]' ]
}

@test "-j gives the whole tuple or template as JSON" {
    ts-out -j '["x", 1, {"b": [true]}]'
    run ts-in -j '["x", "?int", "?obj"]'
    [ "$output" = '["x",1,{"b":[true]}]' ]
}

@test "among matching tuples the oldest comes first (FIFO)" {
    for i in 1 2 3 4 5; do ts-out k "$i"; done
    run ts-in -n 5 k ?
    [ "$output" = "$(printf '1\n2\n3\n4\n5')" ]
}

@test "numbers match by value and objects regardless of key order" {
    ts-out n 1.0 '{"b":2,"a":1}'
    run ts-in -j n 1 '{"a":1,"b":2.0}'
    [ "$status" -eq 0 ]
    [ "$output" = '["n",1,{"a":1,"b":2}]' ]
    ts-out r 0.1
    run ts-rd r ?num
    [ "$output" = "0.1" ]
}

@test "every typed formal matches its type and no other" {
    ts-out -j '["v","s",3,2.5,true,null,[1],{"a":1}]'
    run ts-rd -t 0 v ?str ?int ?num ?bool ?null ?arr ?obj
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 's\t3\t2.5\ttrue\tnull\t[1]\t{"a":1}')" ]
    for bad in "v ?int ?int ? ? ? ? ?" "v ? ? ?int ? ? ? ?" "v ? ?str ? ? ? ? ?" \
               "v ? ? ? ?null ? ? ?" "v ? ? ? ? ?bool ? ?" "v ? ? ? ? ? ?obj ?" \
               "v ? ? ? ? ? ? ?arr" "v ?num ? ? ? ? ? ?"; do
        # shellcheck disable=SC2086
        run ts-rd -t 0 $bad
        [ "$status" -eq 1 ] || { echo "matched: $bad"; false; }
    done
}

@test "?int accepts integral reals, ?num any number" {
    ts-out i 3.0
    ts-out i 3.5
    run ts-in -a -j i ?int
    [ "$output" = '["i",3]' ]
    run ts-in -a i ?num
    [ "$output" = "3.5" ]
}

@test "?~ERE matches strings by regular expression, unanchored" {
    ts-out f report-2026.pdf
    ts-out f notes.txt
    ts-out f 2026
    run ts-rd -a f '?~[0-9]{4}\.pdf$'
    [ "$output" = "report-2026.pdf" ]
    run ts-rd -a f '?~ote'
    [ "$output" = "notes.txt" ]
    run ts-rd -a f '?~^2026$'
    [ "$status" -eq 1 ]  # 2026 is a number, not a string
}

@test "?~i:ERE ignores case; ?~[i]: matches i: itself" {
    ts-out log 'ERROR: disk full'
    ts-out log 'i:Error'
    run ts-rd -a log '?~i:^error'
    [ "$output" = "ERROR: disk full" ]
    run ts-rd -a log '?~^error'
    [ "$status" -eq 1 ]
    run ts-rd -a log '?~[i]:E'
    [ "$output" = "i:Error" ]
    run ts-rd log '?~i:a**'
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-rd: bad template field '?~i:a**': bad regular expression: a repetition right after another"* ]]
}

@test "a literal string starting with ? is written as JSON" {
    ts-out q '?x'
    run ts-in q '"?x"'
    [ "$status" -eq 0 ]
    run ts-dump
    [ "$output" = "" ]
}

@test "templates match only their own arity" {
    ts-out a 1
    ts-out a 1 2
    run ts-in -a -j a ?
    [ "$output" = '["a",1]' ]
    run ts-in -a -j a ? ?
    [ "$output" = '["a",1,2]' ]
}

@test "default output escapes tab, newline and backslash; -0 is raw with NUL" {
    ts-out -j '["s","a\tb\nc\\d", 5]'
    run ts-rd s ? ?
    [ "$output" = "$(printf 'a\\tb\\nc\\\\d\t5')" ]
    ts-rd -0 s ? ? > "$TS_TMP/raw"
    printf 'a\tb\nc\\d\0005\000' > "$TS_TMP/want"
    cmp "$TS_TMP/raw" "$TS_TMP/want"
}

@test "a template without formals prints nothing but still succeeds" {
    ts-out done
    run ts-in done
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
}

@test "-n takes up to count tuples, -a all there are now" {
    for i in 1 2 3; do ts-out k "$i"; done
    run ts-in -n 2 k ?
    [ "$output" = "$(printf '1\n2')" ]
    run ts-in -a k ?
    [ "$output" = "3" ]
    run ts-in -a k ?
    [ "$status" -eq 1 ]
}

@test "-n with -t returns what came in time" {
    ts-out k 1
    run ts-in -n 3 -t 0.2 k ?
    [ "$status" -eq 0 ]
    [ "$output" = "1" ]
}

@test "ts-out -l puts one tuple per line on one connection" {
    printf 'a.png\nb c.png\n\n' | ts-out -l job
    run ts-dump
    [ "$output" = "$(printf '["job","a.png"]\n["job","b c.png"]\n["job",""]')" ]
    [ "$(stat_of clients)" = 1 ]
}

@test "ts-out - puts one JSON array per line" {
    printf '["a",1]\n\n["b",{"x":null}]\n' | ts-out -
    run ts-dump
    [ "$output" = "$(printf '["a",1]\n["b",{"x":null}]')" ]
}

@test "ts-out - stops at a bad line: earlier lines are in, later ones not" {
    run sh -c 'printf "[\"a\",1]\n{\"no\":1}\n[\"c\",3]\n" | ts-out -'
    [ "$status" -eq 2 ]
    [[ "$output" == *"line 2"* ]]
    [ "$(ts-dump)" = '["a",1]' ]
}

@test "bulk load of 100000 lines arrives whole and in order" {
    seq 100000 | ts-out -l n
    [ "$(stat_of tuples)" = 100000 ]
    run ts-in -n 3 n ?
    [ "$output" = "$(printf '1\n2\n3')" ]
    ts-in -a n ? > "$TS_TMP/rest"
    [ "$(wc -l < "$TS_TMP/rest")" -eq 99997 ]
    [ "$(tail -n 1 "$TS_TMP/rest")" = 100000 ]
}

@test "ts-dump filters by template and shows waiters with -w" {
    ts-out a 1
    ts-out b 2
    run ts-dump b ?
    [ "$output" = '["b",2]' ]
    ts-in w ?int 3>&- &
    bg $!
    wait_stat waiters 1
    run ts-dump -w w ?
    [[ "$output" == *'"op":"in"'*'"tmpl":["w","?int"]'* ]]
}

@test "ts-dump -S counts tuples, bytes, clients, waiters and operations" {
    ts-out a 1
    ts-out b 2
    run ts-dump -S
    [[ "$output" == *"tuples 2"* ]]
    [[ "$output" == *"bytes 14"* ]]
    [[ "$output" == *"waiters 0"* ]]
    [[ "$output" == *"pid $TSD_PID"* ]]
}
