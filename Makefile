# ipcmesh: the one front door. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
BUILD ?= build
JOBS ?= $(shell nproc)
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure
FUZZ_SECONDS ?= 30
export CCACHE_DIR ?= $(HOME)/.cache/ipcmesh/ccache
# Cache hits across clones in different folders (CI clones afresh): hash paths relative to here.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
# Each ctest tier's output is kept here; `make test` adds the counts up at the end.
TEST_LOGS := $(CURDIR)/build-test-logs

.PHONY: all build configure test test-unit test-ipc test-asan test-tsan test-fuzz bench clean help

all: build

help:
	@echo "make            build everything into $(BUILD)/ (binaries in $(BUILD)/bin)"
	@echo "make test       every test tier that runs on this machine (unit, ipc, sanitizers, fuzz)"
	@echo "make bench      side-by-side transport benchmark -> bench/results/latest.json"
	@echo "make clean      remove the build trees"

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DIPCMESH_WERROR=ON $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Unit and IPC tests in the main build; the ipc tier needs root for unshare --ipc.
test-unit: build
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -j $(JOBS) -LE '^ipc_test$$' | tee $(TEST_LOGS)/unit.log

test-ipc: build
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^ipc_test$$' | tee $(TEST_LOGS)/ipc.log

# Sanitizer builds cover the channel library and its tests only.
build-asan/build.ninja:
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIPCMESH_WERROR=ON \
	  -DIPCMESH_CHANNEL_ONLY=ON -DIPCMESH_SANITIZE=address,undefined
build-tsan/build.ninja:
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPCMESH_WERROR=ON \
	  -DIPCMESH_CHANNEL_ONLY=ON -DIPCMESH_SANITIZE=thread

test-asan: build-asan/build.ninja
	cmake --build build-asan -j $(JOBS)
	@mkdir -p $(TEST_LOGS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest $(CTEST_FLAGS) -j $(JOBS) | tee $(TEST_LOGS)/asan.log

test-tsan: build-tsan/build.ninja
	cmake --build build-tsan -j $(JOBS) --target unit_channel_test
	@mkdir -p $(TEST_LOGS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest $(CTEST_FLAGS) -j $(JOBS) -L unit_channel_test \
	  | tee $(TEST_LOGS)/tsan.log

build-fuzz/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DIPCMESH_BUILD_TESTS=OFF -DIPCMESH_BUILD_BENCH=OFF -DIPCMESH_FUZZ=ON \
	  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined"

# Each fuzz target runs for FUZZ_SECONDS from its committed seed corpus.
test-fuzz: build-fuzz/build.ninja
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	tests/fuzz/run.sh build-fuzz/bin $(FUZZ_SECONDS)

test: test-unit test-ipc test-asan test-tsan test-fuzz
	@echo "make test: every tier passed (unit, ipc, asan+ubsan, tsan, fuzz)"
	@cat $(TEST_LOGS)/*.log | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\)/\1 \2/p' \
	  | awk '{failed += $$1; total += $$2} END {print total - failed " passed, " failed " failed"}'

# Transports side by side (ratios in one run), then the operator: admission latency over TLS
# and cache memory with 1,000 IpcChannels and 10,000 Pods.
bench: build
	$(BUILD)/bin/ipcmesh-bench --json-out bench/results/latest.json
	$(BUILD)/bin/ipcmesh-operator-bench --json-out bench/results/operator.json

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz $(TEST_LOGS)
