#!/usr/bin/env bats
# The crash test of the durable space (t/lib/crash.py): producers and
# consumers through the real commands while the daemon is killed with
# SIGKILL at random moments.  make check runs 20 kills; make crash 500.

load helper

setup() {
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    export TS_TMP
    cd "$TS_TMP" || return 1
}

@test "crash test: SIGKILL at random moments loses nothing that was answered" {
    run python3 "$BATS_TEST_DIRNAME/lib/crash.py" "$TS_TMP/crash" "${TS_CRASH_KILLS:-20}"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"problems: 0"* ]]
    echo "# $(echo "$output" | grep '^kills:')" >&3
}
