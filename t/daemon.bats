#!/usr/bin/env bats
# The daemon's life: starting, stopping, sockets, permissions, unreachable daemons.

load helper

@test "tsd -d prints shell assignments and the socket accepts at once" {
    stop_daemon
    d=$(mktemp -d)
    run tsd -d -s "$d/s"
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^TS_SOCKET=\'$d/s\'\;\ export\ TS_SOCKET\;\ TSD_PID=[0-9]+\;\ export\ TSD_PID\;$ ]]
    eval "$output"
    ts-out x 1
    [ "$(ts-dump -s "$d/s")" = '["x",1]' ]
    tsd -k -s "$d/s"
    rm -rf "$d"
}

@test "tsd -k waits until the daemon has exited and removed its socket" {
    pid=$TSD_PID
    tsd -k
    # Exited: gone, or a zombie its parent has yet to reap.
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
    [ -z "$state" ] || [ "$state" = Z ]
    [ ! -e "$TS_SOCKET" ]
}

@test "SIGTERM stops the daemon the same way" {
    kill -TERM "$TSD_PID"
    wait_gone "$TSD_PID"
    [ ! -e "$TS_SOCKET" ]
}

@test "a second tsd on a live socket refuses" {
    run tsd -s "$TS_SOCKET"
    [ "$status" -eq 2 ]
    [ "$output" = "tsd: a daemon is already listening on $TS_SOCKET" ]
    ts-out still 1
}

@test "a stale socket left by a killed daemon is replaced" {
    kill -9 "$TSD_PID"
    wait_gone "$TSD_PID"
    [ -S "$TS_SOCKET" ]
    eval "$(tsd -d -s "$TS_SOCKET")"
    ts-out back 1
    [ "$(ts-dump)" = '["back",1]' ]
}

@test "the socket is 0600 in a 0700 directory the daemon creates" {
    d=$TS_TMP/newdir
    tsd -d -s "$d/s" > /dev/null   # no eval: TSD_PID stays the one teardown stops
    [ "$(stat -c %a "$d")" = 700 ]
    [ "$(stat -c %a "$d/s")" = 600 ]
    tsd -k -s "$d/s"
}

@test "a socket directory that is a symlink, foreign or group-writable is refused" {
    mkdir -m 700 "$TS_TMP/real"
    ln -s "$TS_TMP/real" "$TS_TMP/link"
    run tsd -s "$TS_TMP/link/s"
    [ "$status" -eq 2 ]
    [[ "$output" == *"is a symbolic link"* ]]
    mkdir -m 770 "$TS_TMP/open"
    run tsd -s "$TS_TMP/open/s"
    [ "$status" -eq 2 ]
    [[ "$output" == *"writable by group or others"* ]]
    if [ "$(id -u)" = 0 ]; then
        mkdir -m 700 "$TS_TMP/theirs"
        chown nobody "$TS_TMP/theirs"
        run tsd -s "$TS_TMP/theirs/s"
        [ "$status" -eq 2 ]
        [[ "$output" == *"owned by uid"* ]]
    fi
}

@test "a client of another uid is refused before it can see or take anything" {
    [ "$(id -u)" = 0 ] || skip "needs root to switch uid"
    command -v setpriv > /dev/null || skip "needs setpriv"
    stop_daemon
    # A directory others may traverse (but not write), and a socket opened up
    # by hand: only the daemon's own uid check stands in the way.
    TS_TMP=$(mktemp -d /tmp/ts-peer.XXXXXX)
    chmod 711 "$TS_TMP"
    eval "$(tsd -d -s "$TS_TMP/sock")"
    ts-out secret 1
    chmod 666 "$TS_SOCKET"
    # Our own client refuses a daemon of another uid before saying anything...
    run setpriv --reuid=nobody --regid=nogroup --clear-groups "$TS_BIN/ts-in" -t 0 secret '?'
    [ "$status" -eq 3 ]
    [ "$output" = "ts-in: the daemon at $TS_SOCKET runs as uid 0, not as us: refusing to use it" ]
    # ...and a raw client of another uid is refused by the daemon, unread.
    py=$(command -v /usr/bin/python3 python3 | head -n 1)
    run setpriv --reuid=nobody --regid=nogroup --clear-groups "$py" "$WIRE" "$TS_SOCKET" \
        '{"op":"in","tmpl":["secret","?"]}'
    echo "$output"
    [ "$output" = '{"ok":false,"code":"denied","error":"permission denied: uid 65534 is not the daemon'"'"'s uid"}' ]
    [ "$(ts-dump)" = '["secret",1]' ]
}

@test "with no daemon every client exits 3 with a clear message" {
    stop_daemon
    for cmd in "ts-out -s /nonexistent/sock x" "ts-in -s /nonexistent/sock x" \
               "ts-rd -s /nonexistent/sock x" "ts-dump -s /nonexistent/sock" \
               "tsd -k -s /nonexistent/sock"; do
        run sh -c "$cmd"
        [ "$status" -eq 3 ]
        [[ "$output" == *"no daemon at /nonexistent/sock"* ]]
    done
}

@test "a waiting client whose daemon dies exits 3" {
    ts-in k ? 3>&- &
    p=$!
    bg $p
    wait_stat waiters 1
    kill -9 "$TSD_PID"
    st=0
    wait "$p" || st=$?
    [ "$st" -eq 3 ]
}

@test "the socket comes from TS_SOCKET, else XDG_RUNTIME_DIR" {
    d=$TS_TMP/xdg
    mkdir -m 700 "$d"
    (
        unset TS_SOCKET
        export XDG_RUNTIME_DIR=$d
        eval "$(tsd -d)"
        [ "$TS_SOCKET" = "$d/ts/default" ]
        ts-out -s "$d/ts/default" x 1
        tsd -k
    )
}

@test "every command has --help and --version" {
    for cmd in tsd ts-out ts-in ts-rd ts-dump; do
        run "$cmd" --help
        [ "$status" -eq 0 ]
        [[ "${lines[0]}" == "usage: $cmd "* ]]
        run "$cmd" --version
        [ "$status" -eq 0 ]
        [[ "$output" =~ ^$cmd\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
        run "$cmd" --bogus
        [ "$status" -eq 2 ]
        [[ "$output" == *"usage: $cmd "* ]]
    done
}
