#!/usr/bin/env bats
# No value changes silently: numbers kept exactly or refused, -S for
# strings, -L for typed lines, the stored-form warning, exact bytes with -0.

load helper

@test "ts-out says when a number is stored spelled otherwise, once per word, naming -S" {
    run ts-out v 1.10 1e3 job 7
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "ts-out: field 2 '1.10' is stored as 1.1; to keep the text, write '\"1.10\"' or use -S" ]
    [ "${lines[1]}" = "ts-out: field 3 '1e3' is stored as 1000; to keep the text, write '\"1e3\"' or use -S" ]
    [ "${#lines[@]}" -eq 2 ]
    [ "$(ts-dump)" = '["v",1.1,1000,"job",7]' ]
}

@test "ts-out is silent where nothing changed" {
    run ts-out v 1.5 42 -7 job '"1.10"' '[1,"a"]' '{"a":1}' 0.1 1e+20
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run ts-out -S v 1.10
    [ -z "$output" ]
    [ "$(ts-dump v '?')" = '["v","1.10"]' ]
}

@test "a number beyond what can be kept exactly is refused, never rounded" {
    run ts-out v 12345678901234567890
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-out: bad field '12345678901234567890': number 12345678901234567890 is out of range: an integer must fit in 64 bits"* ]]
    run ts-out v 3.14159265358979323846
    [ "$status" -eq 2 ]
    [[ "$output" == *"cannot be kept exactly: it would be stored as 3.141592653589793"* ]]
    run ts-out v 1e400
    [ "$status" -eq 2 ]
    [[ "$output" == *"number 1e400 is out of range"* ]]
    run ts-out v 1e-400
    [ "$status" -eq 2 ]
    run ts-out -j '["v",12345678901234567890]'
    [ "$status" -eq 2 ]
    [[ "$output" == *"out of range"* ]]
    run ts-out -j '["v",0.1000000000000000055511151231257827]'
    [ "$status" -eq 2 ]
    [[ "$output" == *"would be stored as 0.1"* ]]
    # The exact limits are kept.
    ts-out v 9223372036854775807 -9223372036854775808 1.7976931348623157e308
    [ "$(ts-dump)" = '["v",9223372036854775807,-9223372036854775808,1.7976931348623157e+308]' ]
}

@test "the daemon refuses a number it cannot keep, from any client" {
    run wire '{"op":"out","tuple":["v",3.14159265358979323846]}' \
        '{"op":"out","tuple":["v",12345678901234567890]}' \
        '{"op":"out","tuple":["v",0.10000000000000001,1e-7]}' \
        '{"op":"rd","tmpl":["v",1e999]}'
    [[ "${lines[0]}" == *'"code":"bad"'*'cannot be kept exactly'* ]]
    [[ "${lines[1]}" == *'"code":"bad"'*'out of range'* ]]
    [[ "${lines[1]}" != *'too big'* ]]
    # Seventeen digits are how programs print a double: 0.1 comes back 0.1.
    [ "${lines[2]}" = '{"ok":true,"n":1}' ]
    [[ "${lines[3]}" == *'"code":"bad"'*'out of range'* ]]
    [ "$(ts-dump)" = '["v",0.1,1e-07]' ]
}

@test "-S makes every word a string: an all-digit ID matches ?str" {
    ts-out id 00123
    ts-out id 12345
    run ts-rd -a id '?str'
    [ "$output" = "00123" ]
    ts-out -S id 12345
    run ts-rd -a -j id '?str'
    [ "$output" = "$(printf '["id","00123"]\n["id","12345"]')" ]
    # -S in templates: literals are strings, formals stay formals.
    run ts-rd -a -S -j id 12345
    [ "$output" = '["id","12345"]' ]
    run ts-rd -a --strings -j '?' 12345
    [ "$output" = '["id","12345"]' ]
    run ts-in -S -j -t 0 id 12345
    [ "$output" = '["id","12345"]' ]
    run ts-dump --strings id 12345
    [ "$output" = '' ]
    run ts-dump --strings '?' '?int'
    [ "$output" = '["id",12345]' ]
    # ts-dump keeps -S for its counters.
    [ "$(stat_of tuples)" = 2 ]
}

@test "-S: a word that starts with ? is a formal, and ??x the literal ?x" {
    ts-out -S q '?x'
    run ts-rd -S -j q '??x'
    [ "$output" = '["q","?x"]' ]
    run ts-rd -S -j q '?str'
    [ "$output" = '["q","?x"]' ]
    run ts-out -S -j '["a"]'
    [ "$status" -eq 2 ]
}

@test "ts-out -L reads each line as a word: seq makes numbers that match ?int" {
    seq 5 | ts-out -l s
    run ts-rd -a s '?int'
    [ "$status" -eq 1 ]
    seq 5 | ts-out -L n
    run ts-in -a n '?int'
    [ "$output" = "$(seq 5)" ]
    printf '%s\n' x '"quoted"' true '[1,2]' ' 7' '' | ts-out -L w
    [ "$(ts-dump w '?')" = "$(printf '%s\n' '["w","x"]' '["w","quoted"]' '["w",true]' '["w",[1,2]]' '["w"," 7"]' '["w",""]')" ]
}

@test "ts-out -L warns for the first line stored otherwise and counts the rest" {
    run ts-out -L p < <(printf '%s\n' 2 1.10 2.50 x 1e3)
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "ts-out: line 2 '1.10' is stored as 1.1; to keep lines as text, use -l" ]
    [ "${lines[1]}" = "ts-out: 2 more lines after line 2 were stored in another form" ]
    [ "$(ts-in -a p '?' | tr '\n' ' ')" = "2 1.1 2.5 x 1000 " ]
}

@test "ts-out -L refuses a bad line by number, after putting the lines before it" {
    run ts-out -L n < <(printf '%s\n' 1 2 12345678901234567890 4)
    [ "$status" -eq 2 ]
    [[ "$output" == "ts-out: line 3: number 12345678901234567890 is out of range"* ]]
    [ "$(ts-in -a n '?')" = "$(printf '1\n2')" ]
    run ts-out -S -L n < /dev/null
    [ "$status" -eq 2 ]
}

@test "ts-out -0 puts NUL-separated records intact, as xargs -0 reads them" {
    mkdir files && cd files
    touch 'a b' "$(printf 'new\nline')" plain
    find . -type f -print0 | sort -z > ../names
    ts-out -0 file < ../names
    ts-in -a -0 file '?' > ../got
    cmp ../names ../got
    [ "$(stat_of tuples)" = 0 ]
    # A last record without its NUL counts; an empty record is the empty string.
    printf 'a\0\0b' | ts-out -0 r 1
    [ "$(ts-dump)" = "$(printf '%s\n' '["r",1,"a"]' '["r",1,""]' '["r",1,"b"]')" ]
    ts-in -a r '?' '?' > /dev/null
    ts-out -0 r < /dev/null
    [ "$(stat_of tuples)" = 0 ]
}

@test "ts-out -0 names the record it refuses and keeps the records before it" {
    run ts-out -0 f < <(printf 'ok\0caf\351\0after\0')
    [ "$status" -eq 2 ]
    [ "$output" = "ts-out: record 2: not valid UTF-8 (byte 0xe9 at offset 3)" ]
    [ "$(ts-dump)" = '["f","ok"]' ]
}

@test "bytes that are not UTF-8 are refused, naming the word or line and the byte" {
    run ts-out f "$(printf 'caf\351')"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not valid UTF-8 (byte 0xe9 at offset 3)" ]]
    run ts-out -l f < <(printf 'ok\nlatin\351\nafter\n')
    [ "$status" -eq 2 ]
    [ "$output" = "ts-out: line 2: not valid UTF-8 (byte 0xe9 at offset 5)" ]
    [ "$(ts-dump)" = '["f","ok"]' ]
}

@test "ts-eval -S puts its --put words as strings, but for placeholders" {
    ts-eval -S --name s --put 'r 1.10 {status}' -- true > /dev/null
    run ts-in -j r '?' '?'
    [ "$output" = '["r","1.10",0]' ]
    run ts-eval --put 'r 12345678901234567890' -- true
    [ "$status" -eq 2 ]
    [[ "$output" == *"bad --put word '12345678901234567890': number"*"out of range"* ]]
}
