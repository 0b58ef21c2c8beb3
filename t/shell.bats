#!/usr/bin/env bats
# Shell integration: tsd -- COMMAND, readiness for systemd, -q, completion
# for bash and zsh, and what make install puts where.

load helper

TOP="$BATS_TEST_DIRNAME/.."

@test "tsd -- command runs it on a private space and returns its status" {
    run tsd -- sh -c 'echo "$TS_SOCKET"; ts-out x 1; ts-dump; exit 7'
    [ "$status" -eq 7 ]
    [[ "${lines[0]}" == */tsd.*/sock ]]
    [ "${lines[0]}" != "$TS_SOCKET" ]
    [ "${lines[1]}" = '["x",1]' ]
    # The private socket and its directory are gone with the space.
    [ ! -e "${lines[0]}" ]
    [ ! -e "$(dirname "${lines[0]}")" ]
    # The outer space saw nothing.
    [ "$(stat_of tuples)" = 0 ]
}

@test "tsd -- command: the space stops with its workers when the command exits" {
    run tsd -l "$TS_TMP/inner.log" -- sh -c 'ts-eval -n 2 --name w -- sleep 300 | tail -n +2; echo "$TSD_PID"'
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    # The two workers (whose commands are in their process groups) and the daemon.
    for pid in "${lines[@]}"; do
        wait_gone "$pid"
    done
}

@test "tsd -- command: a command killed by a signal, or that cannot run, as a shell says it" {
    run tsd -- sh -c 'kill -TERM $$'
    [ "$status" -eq 143 ]
    run sh -c 'tsd -- no-such-command-here 2>&1; echo "status $?"'
    [ "$output" = "$(printf 'tsd: cannot run no-such-command-here: No such file or directory\nstatus 127')" ]
    run tsd -s "$TS_TMP/given" -- sh -c 'echo "$TS_SOCKET"'
    [ "$output" = "$TS_TMP/given" ]
    [ ! -e "$TS_TMP/given" ]
    run tsd -d -- true
    [ "$status" -eq 2 ]
    run tsd -- 
    [ "$status" -eq 2 ]
}

@test "tsd -- command: the daemon dies with tsd even when tsd is killed" {
    tsd -- sh -c 'echo "$$" > "$1.cmd"; echo "$TSD_PID" > "$1"; exec sleep 300' sh "$TS_TMP/pid" \
        > /dev/null 2>&1 &
    outer=$!
    bg $outer
    wait_for test -s "$TS_TMP/pid"
    inner=$(cat "$TS_TMP/pid")
    bg "$(cat "$TS_TMP/pid.cmd")" # the command itself outlives a killed tsd
    kill -0 "$inner"
    kill -9 "$outer"
    wait_gone "$inner"
}

# A fake service manager: the first datagram on a unix socket, into a file.
notify_listener() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a = sys.argv[1]
s.bind("\0" + a[1:] if a.startswith("@") else a)
open(sys.argv[2] + ".ready", "w").close()
s.settimeout(20)
data = s.recv(4096)
open(sys.argv[2], "wb").write(data)
' "$1" "$2"
}

@test "tsd tells NOTIFY_SOCKET it is ready once its socket accepts connections" {
    for addr in "$TS_TMP/notify" "@ts-notify-test-$$"; do
        rm -f "$TS_TMP/got" "$TS_TMP/got.ready"
        notify_listener "$addr" "$TS_TMP/got" &
        listener=$!
        bg $listener
        wait_for test -e "$TS_TMP/got.ready"
        NOTIFY_SOCKET=$addr tsd -s "$TS_TMP/s2" 2> "$TS_TMP/s2.log" &
        daemon=$!
        bg $daemon
        wait $listener
        [ "$(cat "$TS_TMP/got")" = "$(printf 'READY=1\nSTATUS=listening on %s' "$TS_TMP/s2")" ]
        # Ready means ready: the socket answers.
        ts-dump -s "$TS_TMP/s2" -S > /dev/null
        kill "$daemon"
        wait_gone "$daemon"
    done
}

@test "ts-rd -q and ts-in -q print nothing; the exit status tells" {
    ts-out done a
    run ts-rd -q -t 0 done '?'
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    if ts-rd -q -t 0 done '?'; then :; else false; fi
    run ts-rd -q -t 0 nothing '?'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    run ts-in -q -j -t 0 done '?'
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(stat_of tuples)" = 0 ]
    run ts-in -q -t 0 done '?strr'
    [ "$status" -eq 2 ]
}

# Complete the command line "$@" (the last word is the one being completed).
complete_bash() {
    # shellcheck disable=SC1091
    source "$TOP/contrib/completion/ts.bash"
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _ts_complete
    printf '%s\n' "${COMPREPLY[@]}"
}

@test "bash completion: options, quoted formals, and the live daemon's workers" {
    run complete_bash ts-in -
    [[ "$output" == *"-q"* && "$output" == *"--strings"* && "$output" == *"-t"* ]]
    run complete_bash ts-in job '?i'
    [ "$output" = "'?int'" ]
    run complete_bash ts-rd job "'?s"
    [ "$output" = "'?str'" ]
    run complete_bash ts-dump job ''
    [ "${#lines[@]}" -eq 9 ]
    # Options end at the first field.
    run complete_bash ts-in job -
    [ -z "$output" ]
    run complete_bash ts-in -t 1 -
    [[ "$output" == *"-a"* ]]
    ts-eval -n 1 --name gzipper -- sleep 300 > /dev/null
    ts-eval -n 1 --name other -- sleep 300 > /dev/null
    run complete_bash ts-eval -k g
    [ "$output" = gzipper ]
    run complete_bash ts-eval -s "$TS_SOCKET" -k ''
    [ "$output" = "$(printf 'gzipper\nother')" ]
    ts-eval -k gzipper -g 0
    ts-eval -k other -g 0
    run complete_bash tsd -- ts-ou
    [ "$output" = ts-out ]
}

@test "zsh completion: the file loads and claims every command" {
    command -v zsh > /dev/null || skip "zsh is not installed"
    zsh -n "$TOP/contrib/completion/_ts"
    run zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2/zcompdump"
        for c in tsd ts-out ts-in ts-rd ts-dump ts-eval; do print -r -- "$c=$_comps[$c]"; done' \
        zsh "$TOP/contrib/completion" "$TS_TMP"
    [ "$output" = "$(printf '%s\n' tsd=_ts ts-out=_ts ts-in=_ts ts-rd=_ts ts-dump=_ts ts-eval=_ts)" ]
}

@test "make install puts completion and the systemd user unit in place, honouring DESTDIR and PREFIX" {
    make -s -C "$TOP" B="${TS_BUILD:?TS_BUILD names the build directory}" \
        DESTDIR="$TS_TMP/dest" PREFIX=/opt/ts install > "$TS_TMP/install.log" 2>&1
    d=$TS_TMP/dest/opt/ts
    [ -f "$d/share/bash-completion/completions/tsd" ]
    for c in ts-out ts-in ts-rd ts-dump ts-eval; do
        [ "$(readlink "$d/share/bash-completion/completions/$c")" = tsd ]
    done
    [ ! -e "$d/share/bash-completion/completions/ts-worker" ]
    [ -f "$d/share/zsh/site-functions/_ts" ]
    unit=$d/lib/systemd/user/tsd.service
    grep -qx 'Type=notify' "$unit"
    grep -qx 'ExecStart=/opt/ts/bin/tsd' "$unit"
    make -s -C "$TOP" B="$TS_BUILD" DESTDIR="$TS_TMP/dest" PREFIX=/opt/ts uninstall
    run find "$TS_TMP/dest" -type f -o -type l
    [ -z "$output" ]
}
