#!/usr/bin/env bats
# scripts/lint-bats finds negated commands that cannot fail a test.
#
# No daemon here: helper.bash (and the daemon its setup starts) is not loaded.

LINT="$BATS_TEST_DIRNAME/../scripts/lint-bats"
FIXTURES="$BATS_TEST_DIRNAME/lint"

@test "lint: every dead check in the fixture is reported, and nothing else" {
    cd "$FIXTURES"
    run "$LINT" dead.bats.in
    [ "$status" -eq 1 ]
    # One report per line marked "# dead", in order, as FILE:LINE: TEXT.
    [ "$output" = "$(grep -n '# dead$' dead.bats.in | sed 's/^\([0-9]*\): */dead.bats.in:\1: /')" ]
}

@test "lint: negations that can fail, and ! that is no command, pass" {
    run "$LINT" "$FIXTURES/good.bats.in"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
}

@test "lint: the suites themselves pass" {
    run "$LINT"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
}

@test "lint: several files, each reported by name; one it cannot read is an error" {
    run "$LINT" "$FIXTURES/good.bats.in" "$FIXTURES/dead.bats.in" "$FIXTURES/good.bats.in"
    [ "$status" -eq 1 ]
    [ "$(grep -c '/dead.bats.in:[0-9]*: ' <<< "$output")" -eq "$(grep -c '# dead$' "$FIXTURES/dead.bats.in")" ]
    [ "$(grep -c -v '/dead.bats.in:' <<< "$output")" -eq 0 ]
    run "$LINT" "$FIXTURES/no-such-file"
    [ "$status" -eq 2 ]
}
