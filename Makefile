# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# mysqlprobe build: BPF object -> skeleton -> userspace binary, tests, fuzzers, benches.

OUTPUT ?= .output
BUILD ?= build
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
CC ?= cc
# Two C++ units (user/lib/jread.cc, user/lib/jpull.cc): simdjson, the JSON reader of a master,
# has only a C++ API.
CLANGXX ?= clang++
# Debian's python3: the Debian python3-* modules the tests use are installed for it.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
UNAME_S := $(shell uname -s)
ARCH := $(shell uname -m | sed 's/x86_64/x86/' | sed 's/aarch64/arm64/')

# Sanitizer builds live beside the normal one so both can exist at once.
ifneq ($(SANITIZER),)
OUTPUT := .output/san
BUILD := build/san
SAN_FLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# The BPF parts are Linux-only; NO_BPF=1 (automatic off Linux) builds the pcap-only agent.
ifneq ($(UNAME_S),Linux)
NO_BPF := 1
endif

PKGS := libpcap zlib libxxhash yaml-0.1 simdjson libwebsockets ncursesw libmariadb
ifeq ($(NO_BPF),)
PKGS += libbpf libelf
endif
# Each sink can be built out for a host without its library: NO_CLICKHOUSE=1, NO_KAFKA=1.
ifeq ($(NO_CLICKHOUSE),)
PKGS += libcurl
endif
ifeq ($(NO_KAFKA),)
PKGS += rdkafka
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	  -D_GNU_SOURCE -Iinclude -Iuser -I$(OUTPUT) $(PKG_CFLAGS) $(SAN_FLAGS)
LDLIBS += $(PKG_LIBS) -lsnappy -lpthread -lm -lstdc++
LDFLAGS += $(SAN_FLAGS)
# C++ without exceptions: errors are codes, as in the C parts.
CXXFLAGS ?= -g -O2
CXXFLAGS += -std=gnu++17 -fno-exceptions -Wall -Wextra -Werror -Wno-unused-parameter \
	    -Wno-missing-field-initializers -D_GNU_SOURCE -Iinclude -Iuser $(PKG_CFLAGS) $(SAN_FLAGS)
ifneq ($(NO_BPF),)
CFLAGS += -DMP_NO_BPF
endif
ifneq ($(NO_CLICKHOUSE),)
CFLAGS += -DMP_NO_CLICKHOUSE
endif
ifneq ($(NO_KAFKA),)
CFLAGS += -DMP_NO_KAFKA
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -Ivmlinux/$(ARCH) -Ibpf

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# user/ has one folder per stage, in data-flow order; a stage includes only its own
# folder and earlier ones (make check-layers). Modules that need BPF are named *_bpf.c.
STAGES := lib capture flow mysql sql watcher pipeline report web net cluster sinks top cli roles
USER_SRCS := $(wildcard $(patsubst %,user/%/*.c,$(STAGES)))
ifneq ($(NO_BPF),)
USER_SRCS := $(filter-out %_bpf.c,$(USER_SRCS))
endif
# The sinks' library-bound modules; their rows, spool and message formats build everywhere.
ifneq ($(NO_CLICKHOUSE),)
USER_SRCS := $(filter-out user/sinks/ch_http.c user/sinks/ch_sink.c,$(USER_SRCS))
endif
ifneq ($(NO_KAFKA),)
USER_SRCS := $(filter-out user/sinks/kafka_sink.c,$(USER_SRCS))
endif
USER_CXX_SRCS := $(wildcard $(patsubst %,user/%/*.cc,$(STAGES)))
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS)) \
	     $(patsubst user/%.cc,$(OUTPUT)/user/%.o,$(USER_CXX_SRCS))
LIBMP := $(OUTPUT)/libmp.a
SKEL := $(if $(NO_BPF),,$(OUTPUT)/capture.skel.h)

# Unit tests mirror user/: tests/<stage>/test_<module>.c -> $(BUILD)/tests/test_<module>.
UNIT_SRCS := $(wildcard $(patsubst %,tests/%/test_*.c,$(STAGES)))
UNIT_BINS := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRCS)))
BPFTEST_SRCS := $(if $(NO_BPF),,$(wildcard tests/bpf/test_*.c))
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf_%,$(BPFTEST_SRCS))
BENCH_SRCS := $(if $(NO_BPF),,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: all tests test unit bench fuzz fuzz-build vmlinux deps clean help check-layers install
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/mysqlprobe

help:
	@echo 'make            build $(BUILD)/mysqlprobe'
	@echo 'make deps       install the Debian packages needed to build, test and bench'
	@echo 'make test       build, then run every test (unit, ASan+UBSan unit, BPF, end-to-end, fuzz smoke)'
	@echo 'make check-layers  fail when a user/ file includes a header of a later stage'
	@echo 'make unit       unit tests only (no root needed); add SANITIZER=address,undefined'
	@echo 'make bench      run the benchmarks and rewrite BENCHMARKS.md'
	@echo 'make fuzz       run every libFuzzer target for FUZZ_SECONDS (default 60) each'
	@echo 'make install    install the binary, /etc/mysqlprobe/mysqlprobe.yaml, the systemd unit and the mysqlprobe user'
	@echo 'make vmlinux    regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel'\''s BTF'
	@echo 'make clean      remove .output/ and build/'
	@echo 'V=1 shows commands; NO_BPF=1 builds the pcap-only agent;'
	@echo 'NO_CLICKHOUSE=1 / NO_KAFKA=1 build without that sink (and without libcurl / librdkafka)'

deps:
	$(Q)sh .ci/deps.sh

$(OUTPUT) $(BUILD) $(BUILD)/tests $(BUILD)/bench $(BUILD)/fuzz:
	$(Q)mkdir -p $@

# --- BPF: .bpf.c -> .bpf.o -> .skel.h (libbpf-bootstrap idiom) ---
# Explicit targets (not a pattern chain): make will not chain two pattern
# rules to reach a prerequisite of a third.
$(OUTPUT)/capture.bpf.o: bpf/capture.bpf.c $(wildcard bpf/*.h) $(wildcard include/*.h) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/capture.skel.h: $(OUTPUT)/capture.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- userspace ---
# -MMD -MP: each object depends on exactly the headers it includes.
DEPFLAGS = -MMD -MP
$(OUTPUT)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(OUTPUT)/user/%.o: user/%.cc
	$(call msg,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(CXXFLAGS) $(DEPFLAGS) -c $< -o $@

# The dashboard's files (user/web/assets/) become C arrays at build time: the binary serves
# them itself, so the page works on a host without network or a web server.
WEB_ASSETS := $(sort $(wildcard user/web/assets/*))
$(OUTPUT)/web_assets.inc: $(WEB_ASSETS) user/web/embed.sh | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q)sh user/web/embed.sh $(WEB_ASSETS) > $@.tmp && mv $@.tmp $@
$(OUTPUT)/user/web/assets.o $(OUTPUT)/fuzz/web/assets.o: $(OUTPUT)/web_assets.inc

# Only the loader includes the generated skeleton.
$(filter %_bpf.o,$(USER_OBJS)): $(SKEL)

$(LIBMP): $(USER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/mysqlprobe: $(OUTPUT)/user/main.o $(LIBMP) | $(BUILD)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --- tests and benches ---
# The Kafka broker of the sink tests: librdkafka's mock cluster on loopback ports.
KAFKA_MOCK := $(if $(NO_KAFKA),,$(BUILD)/tests/kafka_mock)
tests: $(BUILD)/mysqlprobe $(UNIT_BINS) $(BPFTEST_BINS) $(KAFKA_MOCK)

$(BUILD)/tests/kafka_mock: tests/sinks/kafka_mock.c | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LDFLAGS) $(PKG_LIBS) -o $@

vpath test_%.c $(patsubst %,tests/%,$(STAGES))
$(BUILD)/tests/test_%: test_%.c $(LIBMP) | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d -Itests $< $(LIBMP) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/bpf_%: tests/bpf/%.c $(LIBMP) $(SKEL) | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d -Itests $< $(LIBMP) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/bench/%: bench/%.c $(LIBMP) $(SKEL) | $(BUILD)/bench
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d $< $(LIBMP) $(LDFLAGS) $(LDLIBS) -o $@

# Fuzzers: userspace modules rebuilt with clang's libFuzzer instrumentation. Every object stops
# at its first sanitizer report (-fno-sanitize-recover) so a report fails the fuzz run.
FUZZ_OBJS := $(patsubst user/%.c,$(OUTPUT)/fuzz/%.o,$(filter-out %_bpf.c,$(USER_SRCS))) \
	     $(patsubst user/%.cc,$(OUTPUT)/fuzz/%.o,$(USER_CXX_SRCS))
$(OUTPUT)/fuzz/%.o: user/%.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(filter-out -O2 -g $(SAN_FLAGS),$(CFLAGS)) $(DEPFLAGS) -DMP_NO_BPF -g -O1 \
		-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -c $< -o $@
# vptr and function: the UBSan checks that need the C++ runtime, which a fuzzer linked by clang
# lacks (function: jpull_fields calls its reader's C callback from C++).
$(OUTPUT)/fuzz/%.o: user/%.cc
	$(call msg,CXX-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANGXX) $(filter-out -O2 -g $(SAN_FLAGS),$(CXXFLAGS)) $(DEPFLAGS) -g -O1 \
		-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr,function \
		-fno-sanitize-recover=all -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) | $(BUILD)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(filter-out -O2 -g $(SAN_FLAGS),$(CFLAGS)) $(DEPFLAGS) -MF $@.d -DMP_NO_BPF \
		-Itests $(FUZZ_FLAGS) $< $(FUZZ_OBJS) $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

unit: $(UNIT_BINS)
	$(Q)$(PYTHON) tests/run.py --only unit --build $(BUILD)

# The one test command: every suite, one summary line at the end.
test:
	$(Q)$(MAKE) --no-print-directory check-layers all tests bench-build
	$(Q)$(MAKE) --no-print-directory SANITIZER=address,undefined tests
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)$(PYTHON) tests/run.py

bench-build: $(BENCH_BINS) $(KAFKA_MOCK)

# Self-contained on a fresh machine: packages, build, benches; MP_BENCH_T0 lets the report
# give the wall time of the whole target, installs and build included.
bench:
	$(Q)t0=$$(date +%s) && $(MAKE) --no-print-directory deps && \
	$(MAKE) --no-print-directory all bench-build && MP_BENCH_T0=$$t0 $(PYTHON) bench/run.py

FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	$(Q)$(PYTHON) tests/run.py --only fuzz --build $(BUILD) --fuzz-seconds $(FUZZ_SECONDS)

# A file may include headers of its own stage and of earlier ones only (STAGES order).
check-layers:
	$(Q)$(PYTHON) tests/tools/check_layers.py --stages "$(STAGES)" user

-include $(wildcard $(OUTPUT)/user/*/*.d $(OUTPUT)/user/*.d $(OUTPUT)/fuzz/*/*.d $(BUILD)/tests/*.d \
	$(BUILD)/bench/*.d $(BUILD)/fuzz/*.d)

# make install [DESTDIR=...] [PREFIX=/usr/local]: the binary, the config (readable by the
# service user only: it may hold secrets), the systemd unit, and the service user itself
# (only when installing into the running system, i.e. without DESTDIR).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
install: $(BUILD)/mysqlprobe
	$(Q)install -D -m 0755 $(BUILD)/mysqlprobe $(DESTDIR)$(PREFIX)/sbin/mysqlprobe
	$(Q)install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/mysqlprobe/README.md
	$(Q)if [ -z "$(DESTDIR)" ] && ! getent passwd mysqlprobe >/dev/null; then \
		useradd --system --user-group --no-create-home --home-dir /var/lib/mysqlprobe \
			--shell /usr/sbin/nologin mysqlprobe; fi
	$(Q)install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/mysqlprobe
	$(Q)test -e $(DESTDIR)$(SYSCONFDIR)/mysqlprobe/mysqlprobe.yaml || \
		install -m 0640 conf/mysqlprobe.yaml $(DESTDIR)$(SYSCONFDIR)/mysqlprobe/mysqlprobe.yaml
	$(Q)if [ -z "$(DESTDIR)" ]; then chgrp -R mysqlprobe $(SYSCONFDIR)/mysqlprobe; fi
	$(Q)sed 's|/usr/local/|$(PREFIX)/|g; s|/etc/mysqlprobe/|$(SYSCONFDIR)/mysqlprobe/|g' \
		conf/mysqlprobe.service > $(BUILD)/mysqlprobe.service
	$(Q)install -D -m 0644 $(BUILD)/mysqlprobe.service $(DESTDIR)$(UNITDIR)/mysqlprobe.service
	$(Q)if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

vmlinux:
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

clean:
	$(Q)rm -rf .output build
