# Linda tuple spaces for the shell.  Plain make: explicit source lists.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include/ts
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
JANSSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
JANSSON_LIBS := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)

WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
       -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(JANSSON_CFLAGS) -Ilib -MMD -MP
LDLIBS = $(JANSSON_LIBS) -lm

B ?= build

LIB_SRCS = lib/buf.c lib/bulk.c lib/cli.c lib/conn.c lib/field.c lib/index.c lib/loop.c lib/ops.c lib/scan.c \
           lib/runner.c lib/server.c lib/session.c lib/sockpath.c lib/space.c lib/store.c lib/template.c \
           lib/tuple.c lib/waiter.c lib/worker.c lib/xmalloc.c
LIB_HDRS = lib/buf.h lib/conn.h lib/field.h lib/template.h lib/tuple.h
PROGS = tsd ts-out ts-in ts-rd ts-dump ts-eval
MAN1 = man/tsd.1 man/ts-out.1 man/ts-in.1 man/ts-rd.1 man/ts-dump.1 man/ts-eval.1
MAN7 = man/ts-tuples.7 man/ts-protocol.7

LIB_OBJS = $(LIB_SRCS:%.c=$(B)/%.o)
BINS = $(PROGS:%=$(B)/bin/%)
UNIT = $(B)/t/unit/match-test

all: $(BINS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libts.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(B)/bin/%: $(B)/cmd/%.o $(B)/libts.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libts.a $(LDLIBS)

$(B)/t/unit/%: $(B)/t/unit/%.o $(B)/libts.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libts.a $(LDLIBS)

FUZZ_SMOKE ?= 15

check: all $(UNIT)
	TS_BIN=$(abspath $(B)/bin) TS_UNIT=$(abspath $(B)/t/unit) TS_FUZZ_SECONDS=$(FUZZ_SMOKE) \
	    TS_ASAN=$(TS_ASAN) scripts/run-tests

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
	    scripts/run-tests

# Benchmarks against Redis and Rinda; not part of check.  QUICK=1 for a short run.
$(B)/bench/tsbench: scripts/bench/tsbench.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ scripts/bench/tsbench.c

bench: all $(B)/bench/tsbench
	TS_BIN=$(abspath $(B)/bin) TSBENCH=$(abspath $(B)/bench/tsbench) OUT=$(abspath $(B)/bench) \
	    QUICK=$(QUICK) scripts/bench/run

demo: all
	PATH=$(abspath $(B)/bin):$$PATH scripts/examples/demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(B)/libts.a $(DESTDIR)$(LIBDIR)
	install -m 644 $(LIB_HDRS) $(DESTDIR)$(INCDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7

clean:
	rm -rf build build-* build-fuzz.log

.PHONY: all check asan bench demo install clean soak valgrind-check
.SECONDARY:

-include $(LIB_OBJS:.o=.d) $(PROGS:%=$(B)/cmd/%.d) $(UNIT:=.d)
include fuzz/fuzz.mk
