# fuzz/fuzz.mk: libFuzzer targets (see fuzz/*.c).
#
# Included by the top Makefile, or on its own:
#
#   make -f fuzz/fuzz.mk fuzz                   # build, then run each target
#   make -f fuzz/fuzz.mk fuzz FUZZ_SECONDS=600  # longer runs
#   make -f fuzz/fuzz.mk fuzz-build             # build only
#   make -f fuzz/fuzz.mk fuzz-regress           # replay fuzz/regress/* only
#
# FUZZ_FLAGS adds libFuzzer options to every run (-jobs=N, -seed=N, ...),
# FUZZ_EXTRA_CFLAGS compiler flags.  Bugs already found are saved in
# fuzz/regress/ and fail every run until fixed; to look for others
# meanwhile, let the targets step around them (see fuzz/known.h):
#
#   make -f fuzz/fuzz.mk fuzz FUZZ_KNOWN=1

# When this file is included before the includer's first target, do not
# become its default goal.
_FUZZ_INCLUDED := $(filter-out $(lastword $(MAKEFILE_LIST)),$(MAKEFILE_LIST))
_FUZZ_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_B ?= build-fuzz
FUZZ_FLAGS ?=
FUZZ_KNOWN ?=
FUZZ_EXTRA_CFLAGS ?=
PKG_CONFIG ?= pkg-config
FUZZ_JANSSON_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
FUZZ_JANSSON_LIBS ?= $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
FUZZ_TRE_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags-only-I tre 2>/dev/null)
FUZZ_TRE_LIBS ?= $(shell $(PKG_CONFIG) --libs-only-L --libs-only-l tre 2>/dev/null || echo -ltre)

FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer -Wall -Wextra \
              -Ilib/core -Ilib/client -Ilib/daemon \
              $(FUZZ_JANSSON_CFLAGS) $(FUZZ_TRE_CFLAGS) $(FUZZ_EXTRA_CFLAGS)
FUZZ_LIBS = $(FUZZ_JANSSON_LIBS) $(FUZZ_TRE_LIBS) -lm -pthread

FUZZ_TARGETS = request words match scan journal
FUZZ_LIB_SRCS = $(wildcard lib/*/*.c)
FUZZ_LIB_HDRS = $(wildcard lib/*/*.h)
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz-%)

# Per-target options.  The daemon's code logs to stderr (shutdown, lost
# clients); -close_fd_mask=2 silences that, not the fuzzer's reports.  An
# input takes milliseconds: one that takes 10 s is a finding (the default
# is 20 minutes).
FUZZ_TIMEOUT ?= 10
FUZZ_OPTS_request = -close_fd_mask=2 -dict=fuzz/request.dict -max_len=4096 -timeout=$(FUZZ_TIMEOUT)
FUZZ_OPTS_words = -dict=fuzz/words.dict -max_len=1024 -timeout=$(FUZZ_TIMEOUT)
FUZZ_OPTS_match = -dict=fuzz/match.dict -max_len=1024 -timeout=$(FUZZ_TIMEOUT)
FUZZ_OPTS_scan = -dict=fuzz/scan.dict -max_len=1024 -timeout=$(FUZZ_TIMEOUT)
FUZZ_OPTS_journal = -dict=fuzz/journal.dict -max_len=4096 -timeout=$(FUZZ_TIMEOUT)

# The shell commands that run one target; failures are collected in $failed.
define _fuzz_run
mkdir -p $(FUZZ_B)/corpus-$(1) && cp fuzz/corpus/$(1)/* $(FUZZ_B)/corpus-$(1)/ || exit 1; \
echo "== fuzz-$(1): $(FUZZ_SECONDS) s"; \
FUZZ_KNOWN=$(FUZZ_KNOWN) ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1} \
$(FUZZ_B)/fuzz-$(1) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
    -artifact_prefix=$(FUZZ_B)/$(1)- $(FUZZ_OPTS_$(1)) $(FUZZ_FLAGS) \
    $(FUZZ_B)/corpus-$(1) >$(FUZZ_B)/fuzz-$(1).log 2>&1; \
status=$$?; \
grep -E '^(#[0-9]+[[:space:]]+DONE|stat::|==[0-9]+==ERROR|SUMMARY|fuzz-|artifact_prefix|Test unit written)' \
    $(FUZZ_B)/fuzz-$(1).log; \
if [ "$$status" -ne 0 ]; then \
    echo "== fuzz-$(1) FAILED (status $$status); see $(FUZZ_B)/fuzz-$(1).log"; \
    failed="$$failed $(1)"; \
fi;
endef

# Replay the reproducers saved for one target (fuzz/regress/NAME-*).
define _fuzz_regress
for f in fuzz/regress/$(1)-*; do \
    [ -e "$$f" ] || continue; \
    if FUZZ_KNOWN= $(FUZZ_B)/fuzz-$(1) $(FUZZ_OPTS_$(1)) -rss_limit_mb=1024 "$$f" \
        >$(FUZZ_B)/regress-$$(basename $$f).log 2>&1; then \
        echo "ok    $$f"; \
    else \
        echo "FAIL  $$f (see $(FUZZ_B)/regress-$$(basename $$f).log)"; failed=1; \
    fi; \
done;
endef

fuzz: fuzz-build
	@failed=; \
	$(foreach t,$(FUZZ_TARGETS),$(call _fuzz_run,$(t))) \
	if [ -n "$$failed" ]; then echo "== fuzzing found problems in:$$failed"; exit 1; fi; \
	echo "== fuzzing found nothing"

# Fails while any saved reproducer still fails (the regcomp ones stop at
# -rss_limit_mb=1024).
fuzz-regress: fuzz-build
	@failed=; \
	$(foreach t,$(FUZZ_TARGETS),$(call _fuzz_regress,$(t))) \
	[ -z "$$failed" ]

fuzz-build: $(FUZZ_BINS)

$(FUZZ_B)/fuzz-%: fuzz/fuzz-%.c fuzz/known.h $(FUZZ_LIB_SRCS) $(FUZZ_LIB_HDRS) fuzz/fuzz.mk
	@mkdir -p $(FUZZ_B)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(FUZZ_LIBS)

fuzz-clean:
	rm -rf $(FUZZ_B)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean

ifneq ($(_FUZZ_INCLUDED),)
.DEFAULT_GOAL := $(_FUZZ_GOAL)
endif
