#!/usr/bin/env bats
# libts from an installed tree: make install into a temporary prefix, then
# build the libts(3) example worker (C) and a C++ program with pkg-config,
# and run both against a daemon.  make uninstall leaves nothing behind.

load helper

setup() {
    start_daemon
    TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
    PREFIX_DIR="$TS_TMP/prefix"
    # Under make asan the library carries the sanitizers: so must its users.
    SAN=
    if [ -n "${TS_ASAN:-}" ]; then
        SAN="-fsanitize=address,undefined"
    fi
}

install_tree() {
    make -s -C "$TOP" B="${TS_BUILD:?TS_BUILD names the build directory}" \
        PREFIX="$PREFIX_DIR" install > "$TS_TMP/install.log" 2>&1
}

# The example of libts(3), as the page shows it.
man_example() {
    awk '/^Build it with/ { want = 1 } want && /^\.Bd -literal/ { on = 1; next }
         on && /^\.Ed/ { exit } on { print }' "$TOP/man/libts.3" | sed 's/\\e/\\/g'
}

@test "make install installs the header, both libraries, ts.pc and the man pages" {
    install_tree
    [ -f "$PREFIX_DIR/include/ts.h" ]
    [ -f "$PREFIX_DIR/lib/libts.a" ]
    [ -f "$PREFIX_DIR/lib/libts.so.0" ]
    [ -L "$PREFIX_DIR/lib/libts.so" ]
    [ -f "$PREFIX_DIR/lib/pkgconfig/ts.pc" ]
    [ -f "$PREFIX_DIR/share/man/man3/libts.3" ]
    [ -x "$PREFIX_DIR/bin/ts-worker" ]
    # The shared library has a soname and exports only ts_ names.
    objdump -p "$PREFIX_DIR/lib/libts.so.0" | grep -q 'SONAME *libts.so.0'
    run sh -c "nm -D --defined-only '$PREFIX_DIR/lib/libts.so.0' | awk 'NF == 3 { print \$3 }' | grep -v '^ts_' | grep -v '^TS_0\$'"
    [ -z "$output" ]
}

@test "the libts(3) example builds with pkg-config and works as a worker" {
    install_tree
    man_example > "$TS_TMP/sum-worker.c"
    [ -s "$TS_TMP/sum-worker.c" ]
    export PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig"
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror $SAN -o "$TS_TMP/sum-worker" "$TS_TMP/sum-worker.c" \
        $(pkg-config --cflags --libs ts)
    ts-out sum 2 3
    ts-out sum 40 2
    LD_LIBRARY_PATH="$PREFIX_DIR/lib" run "$TS_TMP/sum-worker"
    [ "$status" -eq 0 ]
    run ts-in -a result '?'
    [ "$output" = "$(printf '5\n42')" ]
    run ts-dump
    [ -z "$output" ]
}

@test "a C++ program builds against the installed header and the static library" {
    install_tree
    export PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig"
    # shellcheck disable=SC2046
    # The static library needs TRE too, and ts.pc says so.
    [[ " $(pkg-config --static --libs ts) " == *" -ltre "* ]]
    c++ -std=c++11 -Wall -Wextra -Werror $SAN -o "$TS_TMP/cxx" "$BATS_TEST_DIRNAME/libts/cxx.cc" \
        $(pkg-config --cflags ts) "$PREFIX_DIR/lib/libts.a" -ltre $(pkg-config --libs jansson)
    run "$TS_TMP/cxx" hello
    [ "$status" -eq 0 ]
    run ts-in -t 0 from '?'
    [ "$output" = hello ]
}

@test "make uninstall removes everything make install put there" {
    install_tree
    make -s -C "$TOP" B="$TS_BUILD" PREFIX="$PREFIX_DIR" uninstall
    run find "$PREFIX_DIR" -type f -o -type l
    [ -z "$output" ]
}
