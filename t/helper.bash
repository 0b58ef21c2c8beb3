# Shared by every bats file: each test gets its own daemon on its own socket
# in a private directory, and teardown stops it by PID.

PATH="${TS_BIN:?TS_BIN must name the directory of the built commands}:$PATH"
export PATH

start_daemon() {
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    export TS_TMP
    daemon_up "$@" || return 1
    # Unquoted formals such as ? are shell globs: run where no file matches them.
    cd "$TS_TMP" || return 1
}

# Start this test's daemon (again) on its socket in $TS_TMP; arguments go to tsd.
daemon_up() {
    TSD_PID=
    if [ -n "${TS_VALGRIND:-}" ]; then
        # make valgrind-check: the daemon (and its forks) under memcheck, one log per process.
        eval "$(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --show-leak-kinds=definite,indirect --log-file="$TS_TMP/vg.%p" \
            "$TS_BIN/tsd" -d -s "$TS_TMP/sock" -l "$TS_TMP/tsd.log" "$@")"
    else
        eval "$(tsd -d -s "$TS_TMP/sock" -l "$TS_TMP/tsd.log" "$@")"
    fi
    [ -n "$TSD_PID" ] && [ -S "$TS_SOCKET" ] || return 1
    # tsd -d returns as soon as the socket listens.  Until the daemon logs
    # that, it may still be closing descriptors it inherited, or reading the
    # time zone for that first line: not yet the state tests compare with.
    wait_for grep -q "^tsd\[$TSD_PID\] .* listening on" "$TS_TMP/tsd.log"
}

# A durable space (tsd -D) in $TS_TMP/data, named $DATA; arguments go to tsd.
start_durable() {
    TS_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ts.XXXXXX")
    export TS_TMP
    DATA=$TS_TMP/data
    daemon_up -D "$DATA" "$@" || return 1
    cd "$TS_TMP" || return 1
}

# The daemon dies as in a crash (SIGKILL); then the same space starts again
# on $DATA (arguments go to tsd).
crash_restart() {
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID" || return 1
    daemon_up -D "$DATA" "$@"
}

stop_daemon() {
    if [ -n "${TSD_PID:-}" ] && kill -0 "$TSD_PID" 2>/dev/null; then
        tsd -k -s "$TS_SOCKET" 2>/dev/null || kill -9 "$TSD_PID" 2>/dev/null
        wait_gone "$TSD_PID"
    fi
    # Other daemons a test started with their sockets in its directory, and
    # left running (it failed first, say): nothing else would stop them.
    if [ -n "${TS_TMP:-}" ] && [ -d "$TS_TMP" ]; then
        local sock
        for sock in $(find "$TS_TMP" -type s); do
            tsd -k -s "$sock" > /dev/null 2>&1 || true
        done
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
    # A failed test shows whether its daemon still runs, and the end of its log.
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${TS_TMP:-}" ] && [ -f "$TS_TMP/tsd.log" ]; then
        [ -z "${TSD_PID:-}" ] || kill -0 "$TSD_PID" 2>/dev/null || echo "# tsd $TSD_PID is gone" >&2
        echo "# the end of tsd.log:" >&2
        tail -n 20 "$TS_TMP/tsd.log" | sed 's/^/#   /' >&2
    fi
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

# wait_for [-t SECONDS] COMMAND [ARG...]
# Run COMMAND every 10 ms until it succeeds.  If it still fails after
# SECONDS (default 10; five times as long under valgrind or AddressSanitizer,
# which slow the daemon down), say on stderr what was awaited and return 1.
# COMMAND runs as a condition, where errexit is off: a function used as
# COMMAND must leave its verdict in its last command (join tests with &&).
wait_for() {
    local secs=10 deadline
    if [ "${1:-}" = -t ]; then
        secs=$2
        shift 2
    fi
    [ -z "${TS_VALGRIND:-}${TS_ASAN:-}" ] || secs=$(awk -v s="$secs" 'BEGIN { print s * 5 }')
    deadline=$(( $(now_ms) + $(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }') ))
    until "$@"; do
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "timed out after $secs s waiting for: $*" >&2
            return 1
        fi
        sleep 0.01
    done
}

# Succeed if none of the processes exists now (a zombie still exists).
gone() {
    local pid
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
    done
}

# Wait until a process is gone.
wait_gone() {
    wait_for gone "$1"
}

# One counter from ts-dump -S.
stat_of() {
    ts-dump -S | awk -v k="$1" '$1 == k { print $2 }'
}

stat_is() {
    [ "$(stat_of "$1")" = "$2" ]
}

# Wait until a ts-dump -S counter has a value.
wait_stat() {
    wait_for stat_is "$1" "$2" && return 0
    echo "$1 is $(stat_of "$1"), not $2" >&2
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

# Succeed once the clock has passed a time in milliseconds since the epoch.
past_ms() {
    [ "$(now_ms)" -ge "$1" ]
}

# Does a file have at least N lines?
lines_at_least() {
    [ "$(cat "$1" 2> /dev/null | wc -l)" -ge "$2" ]
}

# Tests of tuples bound to a process: valgrind 3.19 does not know the
# pidfd_open(2) system call the daemon watches processes with.
needs_pidfd() {
    [ -z "${TS_VALGRIND:-}" ] || skip "valgrind does not know pidfd_open(2)"
}
