# loyaltyd build.  `make` builds the daemon and loyaltyctl, `make check` runs the
# unit tests, `make asan` builds everything with AddressSanitizer/UBSan into
# build/asan, `make valgrind` runs the unit tests under valgrind, `make fuzz-run`
# builds and runs the fuzzers (clang) in build/fuzz, `make test` runs the whole
# suite (unit + integration) as the README says.

CC      ?= cc
PKGS    := rdkafka hiredis libcjson libsystemd libmicrohttpd libcrypto
WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Wformat=2 -Wpointer-arith -Wcast-qual -Wvla -Wundef -Werror
CFLAGS  ?= -O2 -g
VERSION := 0.1.0
CFLAGS  += -std=c11 -D_GNU_SOURCE -DLOYALTY_VERSION='"$(VERSION)"' $(WARN) -MMD -MP -I. -pthread \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm

SAN     ?=
BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := build/asan
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# The libFuzzer targets of tests/fuzz/ (`make fuzz`): the library is built
# again with clang, coverage-instrumented and sanitized, into build/fuzz, and
# each target is linked with libFuzzer's main() as build/fuzz/fuzz_NAME.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
ifeq ($(FUZZ),1)
BUILD   := build/fuzz
CC      := $(FUZZ_CC)
CFLAGS  += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif

# Every module but the two entry points goes into one archive; the daemon, the
# CLI and the unit tests link against it (the test build links all but main).
LIB_SRC  := $(filter-out daemon/main.c daemon/loyaltyctl.c,\
              $(wildcard base/*.c daemon/*.c consumers/*.c state/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
FAULT_SRC:= $(wildcard tests/fault/*.c)
FAULT_BIN:= $(FAULT_SRC:tests/fault/%.c=$(BUILD)/fault/%)
BENCH_SRC:= $(wildcard bench/*.c)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all check test asan asan-check bench soak format format-check cppcheck clean deps install man \
        fuzz fuzz-run valgrind

all: $(BUILD)/loyaltyd $(BUILD)/loyaltyctl $(TOOL_BIN) $(FAULT_BIN)

# Installation (`make install DESTDIR=... PREFIX=...`).  With PREFIX=/usr the
# configuration goes to /etc and the unit to /lib/systemd/system, as Debian
# has them; the unit's and the manual's paths follow PREFIX and SYSCONFDIR.
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
BINDIR     := $(PREFIX)/bin
MANDIR     := $(PREFIX)/share/man
DOCDIR     := $(PREFIX)/share/doc/loyaltyd
MAN_PAGES  := $(BUILD)/man/loyaltyd.8 $(BUILD)/man/loyaltyctl.1 $(BUILD)/man/loyaltyd.conf.5

man: $(MAN_PAGES)

$(BUILD)/man/%: docs/man/%
	@mkdir -p $(dir $@)
	cp $< $@

# Generated from the key tables, so it cannot drift from them.
$(BUILD)/man/loyaltyd.conf.5: $(BUILD)/loyaltyd deploy/man-conf.sh
	@mkdir -p $(dir $@)
	deploy/man-conf.sh $(BUILD)/loyaltyd > $@

# loyaltyd@NAME: the same unit for several instances on one host, each with
# /etc/loyaltyd/NAME.conf and a static group membership HOST-NAME
# (group.instance_id), so a restarted instance gets its partitions back at once.
$(BUILD)/loyaltyd@.service: deploy/loyaltyd.service
	@mkdir -p $(dir $@)
	sed -e 's|^Description=.*|& (instance %i)|' \
	    -e 's|-c /etc/loyaltyd/loyaltyd.conf|-c /etc/loyaltyd/%i.conf|' \
	    -e 's|^ExecStart=.*|&\nEnvironment=LOYALTYD_INSTANCE=%H-%i|' $< > $@

install: $(BUILD)/loyaltyd $(BUILD)/loyaltyctl $(MAN_PAGES) $(BUILD)/loyaltyd@.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/loyaltyd
	install -m 0755 $(BUILD)/loyaltyd $(BUILD)/loyaltyctl $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/bin/loyaltyd|$(BINDIR)/loyaltyd|g' \
	    -e 's|/etc/loyaltyd/|$(SYSCONFDIR)/loyaltyd/|g' \
	    -e 's|/usr/share/doc/loyaltyd/|$(DOCDIR)/|g' deploy/loyaltyd.service \
	    > $(DESTDIR)$(UNITDIR)/loyaltyd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/loyaltyd.service
	sed -e 's|/usr/bin/loyaltyd|$(BINDIR)/loyaltyd|g' \
	    -e 's|/etc/loyaltyd/|$(SYSCONFDIR)/loyaltyd/|g' \
	    -e 's|/usr/share/doc/loyaltyd/|$(DOCDIR)/|g' $(BUILD)/loyaltyd@.service \
	    > $(DESTDIR)$(UNITDIR)/loyaltyd@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/loyaltyd@.service
	sed -e 's|/usr/bin/loyaltyctl|$(BINDIR)/loyaltyctl|g' \
	    -e 's|/etc/loyaltyd/|$(SYSCONFDIR)/loyaltyd/|g' deploy/loyaltyd-refit.service \
	    > $(DESTDIR)$(UNITDIR)/loyaltyd-refit.service
	install -m 0644 deploy/loyaltyd-refit.timer $(DESTDIR)$(UNITDIR)/
	chmod 0644 $(DESTDIR)$(UNITDIR)/loyaltyd-refit.service
	install -m 0644 README.md docs/model.md docs/domain.md docs/state.md docs/validate.md \
	    deploy/loyaltyd.conf.example deploy/redis-acl.conf \
	    $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/schemas $(DESTDIR)$(DOCDIR)/monitoring
	install -m 0644 schemas/*.json schemas/README.md $(DESTDIR)$(DOCDIR)/schemas/
	install -m 0644 deploy/monitoring/*.json deploy/monitoring/*.yml \
	    deploy/monitoring/README.md $(DESTDIR)$(DOCDIR)/monitoring/
	install -m 0644 $(BUILD)/man/loyaltyctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/loyaltyd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/man/loyaltyd.8 $(DESTDIR)$(MANDIR)/man8/
	test -e $(DESTDIR)$(SYSCONFDIR)/loyaltyd/loyaltyd.conf || \
	    install -m 0644 deploy/loyaltyd.conf.example $(DESTDIR)$(SYSCONFDIR)/loyaltyd/loyaltyd.conf

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The Redis function library is kept as Lua and compiled in as a C string.
$(BUILD)/gen/store_lib.inc: state/store/store_lib.lua
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

# Check only where it is used: `make all` builds without it installed.
$(BUILD)/tests/unit/%.o: CFLAGS += $(shell pkg-config --cflags check)

$(BUILD)/state/store/store.o: $(BUILD)/gen/store_lib.inc
$(BUILD)/state/store/store.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/libloyalty.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/loyaltyd: $(BUILD)/daemon/main.o $(BUILD)/libloyalty.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/loyaltyctl: $(BUILD)/daemon/loyaltyctl.o $(BUILD)/libloyalty.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libloyalty.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs check)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(BUILD)/libloyalty.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fault/%: $(BUILD)/tests/fault/%.o $(BUILD)/libloyalty.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libloyalty.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: no services needed.
check: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

# Every unit test binary under valgrind's memcheck: any error or leak
# (definitely or possibly lost; memory still reachable at exit, such as the
# parser's arena, is not a leak) fails.  CK_FORK=no runs the tests in the
# process valgrind watches; the tests tagged "sweep" (hundreds of thousands
# of values through the number formatting) are left out, they would take
# valgrind many minutes.
VALGRIND ?= valgrind --error-exitcode=1 --leak-check=full --track-origins=yes --quiet
valgrind: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== valgrind $$t"; \
	    CK_FORK=no CK_EXCLUDE_TAGS=sweep $(VALGRIND) $$t; done

ifeq ($(FUZZ),1)
build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/libloyalty.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
endif

fuzz:
	$(MAKE) FUZZ=1 $(FUZZ_BIN)

# Each target (all, or those FUZZ_TARGETS names: parse, packed, ...) for
# FUZZ_SECONDS on its corpus; fails if one crashes (tests/fuzz/run.sh).
fuzz-run: fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

asan:
	$(MAKE) SAN=1 all $(patsubst build/%,build/asan/%,$(UNIT_BIN))

asan-check:
	$(MAKE) SAN=1 check

# The whole suite, services included (see tests/run-all.sh).
test: all
	tests/run-all.sh

bench: all $(BENCH_BIN)
	bench/run.sh

# A soak: one daemon fed live at a fixed rate for SOAK_MINUTES (30), a line a
# minute and a verdict whether its series are flat (bench/README.md, "Soak").
soak: all $(BENCH_BIN)
	bench/soak.sh

# Every group; deploy/install-deps.sh --help lists the smaller ones.
deps:
	deploy/install-deps.sh all

# clang-format 15 (Debian's clang-format-15): the first with InsertBraces.
CLANG_FORMAT ?= clang-format-15
FORMATTED := $(wildcard */*.c */*.h state/*/*.c state/*/*.h tests/*/*.c tests/*/*.h)

format:
	$(CLANG_FORMAT) -i $(FORMATTED)

format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMATTED)

# cppcheck on the daemon's sources: warnings, performance and portability
# (style is clang-format's).  cJSON's iteration macro is read from its header
# (cppcheck does not search the system's), the function library's text from
# its generated include.
cppcheck: $(BUILD)/gen/store_lib.inc
	cppcheck -q --std=c11 --enable=warning,performance,portability --inline-suppr \
	    --error-exitcode=1 -I. -I$(BUILD)/gen --include=/usr/include/cjson/cJSON.h \
	    --suppress=missingIncludeSystem -j2 base consumers daemon state

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
