# Shared by every bats file: each test gets its own daemon on its own socket
# in a private directory, and teardown stops it by PID.

PATH="${TS_BIN:?TS_BIN must name the directory of the built commands}:$PATH"
export PATH

start_daemon() {
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    export TS_TMP
    if [ -n "${TS_VALGRIND:-}" ]; then
        # make valgrind-check: the daemon (and its forks) under memcheck, one log per process.
        eval "$(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --show-leak-kinds=definite,indirect --log-file="$TS_TMP/vg.%p" \
            "$TS_BIN/tsd" -d -s "$TS_TMP/sock" -l "$TS_TMP/tsd.log" "$@")"
    else
        eval "$(tsd -d -s "$TS_TMP/sock" -l "$TS_TMP/tsd.log" "$@")"
    fi
    # Unquoted formals such as ? are shell globs: run where no file matches them.
    cd "$TS_TMP" || return 1
    [ -n "$TSD_PID" ] && [ -S "$TS_SOCKET" ]
}

stop_daemon() {
    if [ -n "${TSD_PID:-}" ] && kill -0 "$TSD_PID" 2>/dev/null; then
        tsd -k -s "$TS_SOCKET" 2>/dev/null || kill -9 "$TSD_PID" 2>/dev/null
        wait_gone "$TSD_PID"
    fi
    # Under valgrind, any error or leak it logged fails the test.
    if [ -n "${TS_VALGRIND:-}" ] && [ -n "${TS_TMP:-}" ]; then
        local log bad=0
        for log in "$TS_TMP"/vg.*; do
            [ -s "$log" ] || continue
            echo "valgrind: $log" >&2
            cat "$log" >&2
            bad=1
        done
        [ "$bad" = 0 ] || { cd / && rm -rf "$TS_TMP"; return 1; }
    fi
    cd / && [ -n "${TS_TMP:-}" ] && rm -rf "$TS_TMP"
    TS_TMP=
    return 0
}

setup() {
    start_daemon
}

teardown() {
    # Anything a test left running in the background is stopped by its PID.
    if [ -n "${BG_PIDS:-}" ]; then
        kill -9 $BG_PIDS 2>/dev/null || true
    fi
    stop_daemon
}

# Remember a background PID so teardown can stop it.
bg() {
    BG_PIDS="${BG_PIDS:-} $1"
}

# Wait (up to 10 s) until a process is gone.
wait_gone() {
    local i
    for i in $(seq 1000); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.01
    done
    return 1
}

# One counter from ts-dump -S.
stat_of() {
    ts-dump -S | awk -v k="$1" '$1 == k { print $2 }'
}

# Wait (up to 10 s) until a ts-dump -S counter has a value.
wait_stat() {
    local i
    for i in $(seq 1000); do
        [ "$(stat_of "$1")" = "$2" ] && return 0
        sleep 0.01
    done
    echo "timed out waiting for $1 = $2 (now $(stat_of "$1"))" >&2
    return 1
}

# Talk to the daemon raw: each argument is one request line; print replies
# (see t/lib/wire.py).  In the background, run "$WIRE" "$TS_SOCKET" ... as
# a simple command instead, so that $! is the client's own PID.
WIRE="$BATS_TEST_DIRNAME/lib/wire.py"
wire() {
    "$WIRE" "$TS_SOCKET" "$@"
}

# Milliseconds since the epoch.
now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}
