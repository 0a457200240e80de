# aod — build, run and test. `make V=1` shows the commands.
# Layout follows libbpf-bootstrap: a list of BPF apps, one pattern rule per step.

# Every bpf/<app>.bpf.c is an app.
BPF_APPS   := $(patsubst bpf/%.bpf.c,%,$(wildcard bpf/*.bpf.c))
TEST_BPF   := ringtest countbase bpfprof
BUN        := ./node_modules/.bin/bun
CLANG      ?= clang
BPFTOOL    ?= bpftool
RUNTIME_LIBS := libz.so.1 libelf.so.1 libbpf.so.1 libzstd.so.1
VERSION    := $(shell sed -n 's/^  "version": "\(.*\)",/\1/p' package.json)+$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)

BUILD      := build
BPF_OBJS   := $(addprefix $(BUILD)/bpf/,$(addsuffix .bpf.o,$(BPF_APPS)))
TEST_OBJS  := $(addprefix $(BUILD)/test/,$(addsuffix .bpf.o,$(TEST_BPF)))
LIBS       := $(addprefix $(BUILD)/lib/,$(RUNTIME_LIBS))
SOURCES    := $(shell find src -name '*.ts') config/aod.yaml package.json
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(BUILD) -Ibpf

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all deps build run test test-unit test-vm test-vm-second check lint fmt bench bench-vm clean
all: build

DEPS_STAMP := node_modules/.aod-deps
deps: $(DEPS_STAMP)
$(DEPS_STAMP): package.json package-lock.json scripts/deps.sh scripts/vm/deps.sh
	$(call msg,DEPS,apt + npm)
	$(Q)./scripts/deps.sh
	$(Q)./scripts/vm/deps.sh
	$(Q)touch $@

build: dist/aod

$(BUILD)/vmlinux.h: | $(DEPS_STAMP)
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

# clang compiles, bpftool strips DWARF and keeps BTF (CO-RE needs it).
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(BUILD)/test/%.bpf.o: test/fixtures/%.bpf.c $(wildcard bpf/*.h) $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

# The runtime libraries embedded in the binary and loaded from memory: built from
# Debian's source packages (apt-get source, cached in .cache/libs) so that they
# need no glibc newer than Bun's own floor, 2.17. See scripts/libs/build.sh.
# The versions are scripts/libs/sources.lock's: a change there rebuilds them.
LIB_SCRIPTS := scripts/libs/build.sh scripts/libs/glibc-symver.sh scripts/libs/glibc-compat.c \
	scripts/libs/fetch-source.sh scripts/libs/sources.sh scripts/libs/apt.sh scripts/libs/mirrors.sh \
	scripts/libs/sources.lock
$(BUILD)/lib/%.so.1: $(LIB_SCRIPTS) | $(DEPS_STAMP)
	$(Q)V=$(V) scripts/libs/build.sh $* $@


# --bytecode: precompiled JS starts ~4x faster (--version 10 ms instead of 50);
# it needs --format=esm because of top-level await.
dist/aod: $(SOURCES) $(BPF_OBJS) $(LIBS) $(DEPS_STAMP)
	$(call msg,BUN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BUN) build --compile --minify --sourcemap=none --bytecode --format=esm \
		--no-compile-autoload-dotenv --no-compile-autoload-bunfig \
		--define AOD_VERSION='"$(VERSION)"' \
		src/main.ts --outfile $@.tmp >/dev/null
	$(Q)mv $@.tmp $@

# Packages of dist/aod: dist/aod_<version>_amd64.deb and
# dist/aod-<version>-<release>.x86_64.rpm (dpkg-deb, rpmbuild; xz, ~1.5 min;
# PKG_COMPRESS=gzip for a quick one). Versions: scripts/package/version.sh.
.PHONY: package
package: dist/aod $(DEPS_STAMP)
	$(call msg,PACKAGE,deb + rpm)
	$(Q)scripts/package/build.sh dist/aod dist

run: dist/aod
	./dist/aod run

# Unit and host integration tests (everything but the VM).
test-unit: dist/aod $(TEST_OBJS)
	$(call msg,TEST,unit + host integration)
	$(Q)$(BUN) test --timeout 120000 --path-ignore-patterns 'test/vm/**' $(TEST_ARGS)

# Real SMB in qemu VMs: KERNELS="6.1 6.12" (default: Debian's current kernel),
# VM_SCENARIOS="03 04" to run some scenarios only.
KERNELS ?=
VM_SCENARIOS ?=
test-vm: dist/aod $(DEPS_STAMP)
	$(call msg,VM,$(or $(KERNELS),default kernel) $(VM_SCENARIOS))
	$(Q)KERNELS="$(KERNELS)" VM_SCENARIOS="$(VM_SCENARIOS)" V=$(V) $(BUN) test --timeout 900000 test/vm $(TEST_ARGS)

# The second kernel runs the scenarios that prove CO-RE and the tracepoint
# offsets (check; trace: its coverage per hook and error decoding, not its text
# output and module reload phases), the connection events (08) and NFS trace
# coverage (09, its coverage phase only); the rest run on the default kernel only, for time.
SECOND_KERNEL ?= 6.12
test-vm-second: dist/aod $(DEPS_STAMP)
	$(call msg,VM,$(SECOND_KERNEL) 01 02 08 09)
	$(Q)KERNELS="$(SECOND_KERNEL)" VM_SCENARIOS="01 02 08 09" VM_NFS_COVERAGE_ONLY=1 VM_TRACE_LAYOUT_ONLY=1 V=$(V) $(BUN) test --timeout 900000 test/vm $(TEST_ARGS)

# Types (tsc over src, test and scripts) and style (Biome for TypeScript,
# clang-format for C). `make fmt` fixes what can be fixed.
BIOME      := ./node_modules/.bin/biome
C_SOURCES  := $(wildcard bpf/*.c bpf/*.h scripts/libs/*.c test/fixtures/*.bpf.c)
check: $(DEPS_STAMP)
	$(call msg,TSC,src test scripts)
	$(Q)./node_modules/.bin/tsc --noEmit -p .

lint: $(DEPS_STAMP)
	$(call msg,LINT,biome + clang-format)
	$(Q)$(BIOME) check --error-on-warnings --no-errors-on-unmatched .
	$(Q)clang-format --dry-run -Werror $(C_SOURCES)

fmt: $(DEPS_STAMP)
	$(Q)$(BIOME) check --write .
	$(Q)clang-format -i $(C_SOURCES)

test: check lint test-unit test-vm test-vm-second

clean:
	rm -rf $(BUILD) dist

# Benchmarks in the VM (scripts/bench/vm), all three by default or
# BENCH_VM=bpf-cost (nfs, smb; "nfs smb") for some. bpf-cost: BPF time per SMB
# command (kernel.bpf_stats_enabled), beside a count-only baseline on the same
# hooks (bpf-cost.sh; printed). nfs: the NFS workload on a v3 and a v4.1 mount
# without aod, with `aod run` and with its flight recorder off, and aod's BPF
# time per RPC (nfs-overhead.sh, ~5 min under TCG, VM_TIMEOUT 900 s). smb: the
# same three conditions on the cifs mount, >= 5000 SMB commands per run (small
# files' create, stat, readdir, read, unlink and 64 MiB written and read
# sequentially), the noise band of the runs without aod, aod's BPF time per
# SMB command (smb-overhead.sh, ~10 min under TCG, VM_TIMEOUT 900 s). nfs and smb print and
# append to BENCHMARKS.md unless AOD_BENCH_NO_RECORD=1. Results in
# .cache/vm/results/bench/<name>/. BPF_COST_OLD=<git ref>: bpf-cost also
# measures smbslower as of that commit in the same run (its bpf/ built to
# build/test/old, programs renamed oldslower_*), for a before/after.
BENCH_VM ?= bpf-cost nfs smb
BPF_COST_OLD ?=
BENCH_VM_RESULTS := .cache/vm/results/bench
bench-vm: dist/aod $(TEST_OBJS) $(DEPS_STAMP)
	$(Q)for b in $(BENCH_VM); do case $$b in bpf-cost | nfs | smb) ;; *) echo "BENCH_VM: bpf-cost, nfs or smb, not '$$b'" >&2; exit 2 ;; esac; done
ifneq ($(filter bpf-cost,$(BENCH_VM)),)
	$(call msg,VM,bench bpf-cost)
	$(Q)rm -rf $(BUILD)/test/old $(BUILD)/test/oldslower.bpf.o
ifneq ($(BPF_COST_OLD),)
	$(call msg,BPF,$(BUILD)/test/oldslower.bpf.o ($(BPF_COST_OLD)))
	$(Q)mkdir -p $(BUILD)/test/old && git archive $(BPF_COST_OLD) bpf | tar -x -C $(BUILD)/test/old
	$(Q)sed -i 's/\bsmbslower_/oldslower_/g' $(BUILD)/test/old/bpf/smbslower.bpf.c
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $(BUILD)/test/old/bpf/smbslower.bpf.c -o $(BUILD)/test/oldslower.tmp.o
	$(Q)$(BPFTOOL) gen object $(BUILD)/test/oldslower.bpf.o $(BUILD)/test/oldslower.tmp.o && rm -f $(BUILD)/test/oldslower.tmp.o
endif
	$(Q)VM_RESULTS=$(CURDIR)/$(BENCH_VM_RESULTS)/bpf-cost scripts/vm/run.sh "" scripts/bench/vm/bpf-cost.sh
	$(Q)$(BUN) scripts/bench/vm/bpf-cost-report.ts $(BENCH_VM_RESULTS)/bpf-cost
endif
ifneq ($(filter nfs,$(BENCH_VM)),)
	$(call msg,VM,bench nfs-overhead)
	$(Q)VM_RESULTS=$(CURDIR)/$(BENCH_VM_RESULTS)/nfs-overhead VM_TIMEOUT=$${VM_TIMEOUT:-900} scripts/vm/run.sh "" scripts/bench/vm/nfs-overhead.sh
	$(Q)$(BUN) scripts/bench/vm/nfs-overhead-report.ts $(BENCH_VM_RESULTS)/nfs-overhead
endif
ifneq ($(filter smb,$(BENCH_VM)),)
	$(call msg,VM,bench smb-overhead)
	$(Q)VM_RESULTS=$(CURDIR)/$(BENCH_VM_RESULTS)/smb-overhead VM_TIMEOUT=$${VM_TIMEOUT:-900} scripts/vm/run.sh "" scripts/bench/vm/smb-overhead.sh
	$(Q)$(BUN) scripts/bench/vm/smb-overhead-report.ts $(BENCH_VM_RESULTS)/smb-overhead
endif

# Benchmarks (scripts/bench): all scenarios, or BENCH=02 (BENCH=01,04) for some.
# Each prints its table and appends it to BENCHMARKS.md.
bench: dist/aod $(TEST_OBJS)
	$(call msg,BENCH,$(or $(BENCH),all scenarios))
	$(Q)BENCH="$(BENCH)" $(BUN) scripts/bench/run.ts
