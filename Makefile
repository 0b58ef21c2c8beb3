# Linda tuple spaces for the shell.  Plain make: explicit source lists.
#
# The library is three layers, each a folder of lib/: core (the tuple
# model, shared by everyone), client (libts, what a program that talks to
# the daemon links) and daemon (what only tsd runs).  A layer is compiled
# with its own and the lower layers' include paths only, so an include of a
# higher or a sibling layer does not compile.  cmd/ holds the commands and
# the command-line code they share.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
DESTDIR ?=

CC ?= cc
CXX ?= c++
PKG_CONFIG ?= pkg-config
JANSSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
JANSSON_LIBS := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
# TRE matches the ?~ formals in linear time (lib/core/ere.h).  Only its
# include path is taken: Debian's tre.pc also carries its own build's
# -D_FORTIFY_SOURCE and -Wdate-time, which are not ours to set.
TRE_CFLAGS := $(shell $(PKG_CONFIG) --cflags-only-I tre 2>/dev/null)
TRE_LIBS := $(shell $(PKG_CONFIG) --libs-only-L --libs-only-l tre 2>/dev/null || echo -ltre)

VERSION = 0.2.0
SOVERSION = 0

WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
       -Wno-format-nonliteral
CFLAGS ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(JANSSON_CFLAGS) $(TRE_CFLAGS) -fPIC -MMD -MP
# The journal compacts in a thread (lib/daemon/journal.c).
LDLIBS = $(JANSSON_LIBS) $(TRE_LIBS) -lm -pthread

B ?= build

CORE_SRCS = lib/core/buf.c lib/core/crc32c.c lib/core/ere.c lib/core/mem.c lib/core/placeholder.c \
            lib/core/scan.c lib/core/sockpath.c lib/core/template.c lib/core/tuple.c lib/core/wire.c
CLIENT_SRCS = lib/client/bulk.c lib/client/conn.c lib/client/field.c lib/client/query.c
DAEMON_SRCS = lib/daemon/block.c lib/daemon/dump.c lib/daemon/events.c lib/daemon/explain.c \
              lib/daemon/follow.c lib/daemon/index.c lib/daemon/journal.c lib/daemon/lease.c \
              lib/daemon/log.c lib/daemon/loop.c lib/daemon/notify.c lib/daemon/ops.c \
              lib/daemon/server.c lib/daemon/session.c lib/daemon/space.c lib/daemon/store.c \
              lib/daemon/waiter.c lib/daemon/worker.c
CLI_SRCS = cmd/cli.c cmd/hold.c
PUBLIC_HDR = lib/client/ts.h
PROGS = tsd ts-out ts-in ts-rd ts-dump ts-eval ts-worker ts-top
MAN1 = man/tsd.1 man/ts-out.1 man/ts-in.1 man/ts-rd.1 man/ts-dump.1 man/ts-eval.1 \
       man/ts-top.1 man/ts-worker.1
MAN3 = man/libts.3
MAN7 = man/ts-tuples.7 man/ts-protocol.7

# Include paths: each layer sees itself and what is below it.
INC_core = -Ilib/core
INC_client = -Ilib/client $(INC_core)
INC_daemon = -Ilib/daemon $(INC_core)
INC_cmd = -Icmd $(INC_client)

CORE_OBJS = $(CORE_SRCS:%.c=$(B)/%.o)
CLIENT_OBJS = $(CLIENT_SRCS:%.c=$(B)/%.o)
DAEMON_OBJS = $(DAEMON_SRCS:%.c=$(B)/%.o)
CLI_OBJS = $(CLI_SRCS:%.c=$(B)/%.o)
BINS = $(PROGS:%=$(B)/bin/%)
UNIT = $(B)/t/unit/match-test $(B)/t/unit/placeholder-test $(B)/t/unit/journal-test

all: $(BINS) $(B)/libts.a $(B)/libts.so.$(SOVERSION)

$(B)/lib/core/%.o: lib/core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_core) -fvisibility=hidden -c -o $@ $<
$(B)/lib/client/%.o: lib/client/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_client) -fvisibility=hidden -c -o $@ $<
$(B)/lib/daemon/%.o: lib/daemon/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_daemon) -c -o $@ $<
$(B)/cmd/tsd.o: cmd/tsd.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_cmd) -Ilib/daemon -c -o $@ $<
$(B)/cmd/%.o: cmd/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_cmd) -c -o $@ $<
$(B)/t/unit/%.o: t/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_daemon) -c -o $@ $<

# libts: the core and the client layers.  The shared library exports the
# public header's functions and nothing else (lib/client/libts.map).
$(B)/libts.a: $(CORE_OBJS) $(CLIENT_OBJS)
	rm -f $@
	$(AR) rcs $@ $^
$(B)/libts.so.$(SOVERSION): $(CORE_OBJS) $(CLIENT_OBJS) lib/client/libts.map
	$(CC) -shared -Wl,-soname,libts.so.$(SOVERSION) -Wl,--version-script=lib/client/libts.map \
	    $(LDFLAGS) -o $@ $(CORE_OBJS) $(CLIENT_OBJS) $(LDLIBS)
	ln -sf libts.so.$(SOVERSION) $(B)/libts.so
# The daemon's own archive, linked only into tsd.
$(B)/libtsd.a: $(DAEMON_OBJS)
	rm -f $@
	$(AR) rcs $@ $^
$(B)/libcli.a: $(CLI_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/tsd: $(B)/cmd/tsd.o $(B)/libcli.a $(B)/libtsd.a $(B)/libts.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bin/%: $(B)/cmd/%.o $(B)/libcli.a $(B)/libts.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/t/unit/%: $(B)/t/unit/%.o $(B)/libtsd.a $(B)/libts.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_SMOKE ?= 15

# check builds the bench client too, so that it cannot stop compiling unseen.
check: all $(UNIT) $(B)/bench/tsbench
	TS_BIN=$(abspath $(B)/bin) TS_UNIT=$(abspath $(B)/t/unit) TS_FUZZ_SECONDS=$(FUZZ_SMOKE) \
	    TS_ASAN=$(TS_ASAN) TS_BUILD=$(abspath $(B)) scripts/run-tests

# The same tests against a build with AddressSanitizer and UBSan.
asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" FUZZ_SMOKE=0 TS_ASAN=1 check

# The 1,000-client soak for three minutes (make check runs it for three seconds).
soak: all
	TS_SOAK_SECONDS=180 TS_BIN=$(abspath $(B)/bin) TS_UNIT=/nonexistent TESTS=t/fault.bats \
	    scripts/run-tests

# The bats suites with the daemon under valgrind's memcheck: any error or
# leak fails the test that started that daemon.
valgrind-check: all $(UNIT)
	TS_VALGRIND=1 TS_SOAK_SECONDS=1 TS_BIN=$(abspath $(B)/bin) TS_UNIT=$(abspath $(B)/t/unit) \
	    TS_BUILD=$(abspath $(B)) scripts/run-tests

# Benchmarks against Redis and Rinda; not part of check.  QUICK=1 for a short run.
$(B)/bench/tsbench: scripts/bench/tsbench.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ scripts/bench/tsbench.c

$(B)/bench/journal-bench: scripts/bench/journal-bench.c $(B)/libtsd.a $(B)/libts.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 $(INC_daemon) -o $@ scripts/bench/journal-bench.c \
	    $(B)/libtsd.a $(B)/libts.a $(LDLIBS)

bench: all $(B)/bench/tsbench $(B)/bench/journal-bench
	TS_BIN=$(abspath $(B)/bin) TSBENCH=$(abspath $(B)/bench/tsbench) OUT=$(abspath $(B)/bench) \
	    JOURNAL_BENCH=$(abspath $(B)/bench/journal-bench) QUICK=$(QUICK) scripts/bench/run

# The crash test of the durable space (t/lib/crash.py) with CRASH_KILLS
# kills of the daemon; make check runs it with 20.
CRASH_KILLS ?= 500
crash: all
	@d=$$(mktemp -d); PATH=$(abspath $(B)/bin):$$PATH python3 t/lib/crash.py "$$d/crash" \
	    $(CRASH_KILLS); s=$$?; rm -rf "$$d"; exit $$s

demo: all
	PATH=$(abspath $(B)/bin):$$PATH scripts/examples/demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	    $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(B)/libts.a $(DESTDIR)$(LIBDIR)
	install -m 755 $(B)/libts.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)
	ln -sf libts.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libts.so
	install -m 644 $(PUBLIC_HDR) $(DESTDIR)$(INCDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' \
	    lib/client/ts.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/ts.pc
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(SYSTEMDUSERDIR)
	install -m 644 contrib/completion/ts.bash $(DESTDIR)$(BASHCOMPDIR)/tsd
	for c in $(filter-out tsd ts-worker,$(PROGS)); do ln -sf tsd $(DESTDIR)$(BASHCOMPDIR)/$$c; done
	install -m 644 contrib/completion/_ts $(DESTDIR)$(ZSHCOMPDIR)/_ts
	sed -e 's|@BINDIR@|$(BINDIR)|' contrib/systemd/tsd.service.in \
	    > $(DESTDIR)$(SYSTEMDUSERDIR)/tsd.service

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(LIBDIR)/libts.a \
	    $(DESTDIR)$(LIBDIR)/libts.so $(DESTDIR)$(LIBDIR)/libts.so.$(SOVERSION) \
	    $(DESTDIR)$(INCDIR)/ts.h $(DESTDIR)$(PKGCONFIGDIR)/ts.pc \
	    $(MAN1:man/%=$(DESTDIR)$(MANDIR)/man1/%) $(MAN3:man/%=$(DESTDIR)$(MANDIR)/man3/%) \
	    $(MAN7:man/%=$(DESTDIR)$(MANDIR)/man7/%) \
	    $(filter-out %/ts-worker,$(PROGS:%=$(DESTDIR)$(BASHCOMPDIR)/%)) \
	    $(DESTDIR)$(ZSHCOMPDIR)/_ts $(DESTDIR)$(SYSTEMDUSERDIR)/tsd.service

# Formatting: the tree follows .clang-format (make check runs format-check).
FORMAT_FILES = lib/*/*.c lib/*/*.h cmd/*.c cmd/*.h t/unit/*.c fuzz/*.c fuzz/*.h scripts/bench/*.c
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build build-* build-fuzz.log

.PHONY: all check asan bench crash demo install uninstall format format-check clean soak valgrind-check
.SECONDARY:

-include $(CORE_OBJS:.o=.d) $(CLIENT_OBJS:.o=.d) $(DAEMON_OBJS:.o=.d) $(CLI_OBJS:.o=.d) \
    $(PROGS:%=$(B)/cmd/%.d) $(UNIT:=.d)
include fuzz/fuzz.mk
