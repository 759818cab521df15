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
# Go builds the upstream tools; the official tarball installs it here, often off PATH.
export PATH := $(PATH):/usr/local/go/bin
# Each ctest tier's output is kept here; `make test` adds the counts up at the end.
TEST_LOGS := $(CURDIR)/build-test-logs
# Images are tagged with the project's version (CMakeLists.txt), never :latest.
VERSION := $(shell awk '/^project/ {for (i = 1; i < NF; i++) if ($$i == "VERSION") print $$(i + 1)}' CMakeLists.txt)

.PHONY: all deps build configure test test-unit test-ipc test-asan test-tsan test-fuzz test-cluster \
	tools tools-cluster demo demo-down bench bench-pod bench-scale bench-scale-run clean help images images-from-source images-save \
	test-images test-chart test-node test-e2e tools-kind e2e-kind test-webhook format test-format
# Upstream tools (etcd, kube-apiserver, kube-controller-manager, kubectl, helm), built from their
# Go modules into a version-keyed cache outside the clone (Go's own caches are outside it too),
# linked here.
TOOLS_BIN := $(BUILD)/tools/bin
# The control plane the cluster tier shares (one per `make test-cluster`) and the demo's.
CLUSTER_DIR := $(CURDIR)/$(BUILD)/cluster
# The end-to-end tier's control plane with a real node (one kubelet per machine).
E2E_DIR := $(CURDIR)/$(BUILD)/e2e
DEMO_DIR := $(CURDIR)/$(BUILD)/demo

all: build

# Debian packages (installed as root, else the apt-get line is printed) and Go >= 1.26.
deps:
	@hack/deps.sh

help:
	@echo "make deps       install the Debian packages that are missing (as root) and check Go"
	@echo "make            build everything into $(BUILD)/ (binaries in $(BUILD)/bin)"
	@echo "make demo       local control plane + operator + examples/, messages flowing (make demo-down stops it)"
	@echo "make format     clang-format the C and C++ sources (make test-format checks them)"
	@echo "make test       every test tier (format, unit, ipc, webhook limits, sanitizers, fuzz, images, chart, cluster against a real API server)"
	@echo "make tools      build etcd, kube-apiserver, kube-controller-manager, kubectl, helm and the node tools (cached)"
	@echo "make test-cluster  only the cluster tier (starts and stops its own control plane)"
	@echo "make test-webhook  only the admission server under hostile clients (limits, memory, deadlines)"
	@echo "make test-images   only the image tier (make images, then real containers)"
	@echo "make test-chart    only helm lint / helm template checks of charts/ipcmesh"
	@echo "make test-node     only the local node's lifecycle (real Pods; teardown leaves nothing; root)"
	@echo "make test-e2e      the end-to-end suite: chart installed, examples run as real Pods on a local node (root)"
	@echo "make e2e-kind      the e2e suite on a kind cluster (KIND_NODE_IMAGE=...; needs a Docker that runs privileged containers: GitHub runners, not this machine)"
	@echo "make images     ipcmesh/{relay,operator,tools}:$(VERSION) from the built binaries (Docker)"
	@echo "make images-from-source  the same images, compiled inside Docker (no toolchain needed)"
	@echo "make images-save  docker save archives into $(BUILD)/images-save (for containerd or kind)"
	@echo "make bench      side-by-side transport benchmark -> bench/results/latest.json"
	@echo "make bench-scale  the operator at scale on a real control plane (BENCH_SCALE_FLAGS, e.g. --pods 2000) -> bench/results/scale.json"
	@echo "make bench-pod  the bench inside a Pod with a CPU limit (BENCH_POD_CPU, default 500m) on the 'make demo' cluster -> bench/results/pod.json"
	@echo "make clean      remove the build trees"

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DIPCMESH_WERROR=ON $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Unit and IPC tests in the main build; the ipc tier needs root for unshare --ipc.
# The C and C++ sources as .clang-format says (Debian 12's clang-format 14): `make format` fixes,
# the test-format tier lists what differs.
CLANG_FORMAT := clang-format-14
FORMATTED_SOURCES = $(shell git ls-files '*.cpp' '*.hpp' '*.h' 2>/dev/null || \
	find operator sidecar cli bench tests examples -name '*.cpp' -o -name '*.hpp' -o -name '*.h')
format: deps
	$(CLANG_FORMAT) -i $(FORMATTED_SOURCES)

test-format: deps
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMATTED_SOURCES) || \
	  { echo "test-format: the files above differ from .clang-format: run make format" >&2; exit 1; }
	@echo "test-format: $(words $(FORMATTED_SOURCES)) files as .clang-format says"

test-unit: build
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -j $(JOBS) -LE '^(ipc_test|webhook_test|cluster_test|images_test|chart_test|node_test|e2e_test)$$' \
	  | tee $(TEST_LOGS)/unit.log

test-ipc: build
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^ipc_test$$' | tee $(TEST_LOGS)/ipc.log

# The admission server attacked by hostile clients while valid reviews flow (time and memory are
# measured, so it runs alone).
test-webhook: build
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^webhook_test$$' | tee $(TEST_LOGS)/webhook.log

# Sanitizer builds cover the channel library and its tests only.
build-asan/build.ninja: | deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIPCMESH_WERROR=ON \
	  -DIPCMESH_CHANNEL_ONLY=ON -DIPCMESH_SANITIZE=address,undefined
build-tsan/build.ninja: | deps
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

build-fuzz/build.ninja: | deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DIPCMESH_BUILD_TESTS=OFF -DIPCMESH_BUILD_BENCH=OFF -DIPCMESH_FUZZ=ON \
	  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined"

# Each fuzz target runs for FUZZ_SECONDS from its committed seed corpus.
test-fuzz: build-fuzz/build.ninja
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	tests/fuzz/run.sh build-fuzz/bin $(FUZZ_SECONDS)

# The three images, packaging what `make` built (so `make test` compiles the project once); the
# base image is made offline with mmdebstrap when no registry can be reached.
images: build
	docker/images.sh prebuilt $(VERSION) $(BUILD)/bin $(BUILD)/images

images-from-source: deps
	docker/images.sh source $(VERSION)

images-save: images
	docker/images.sh save $(VERSION) $(BUILD)/images-save

# Real containers from those images; without a Docker engine this fails, it is never skipped.
test-images: images
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^images_test$$' | tee $(TEST_LOGS)/images.log

# helm lint and helm template checks of charts/ipcmesh (no cluster; installs are in test-cluster).
test-chart: build tools-cluster
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^chart_test$$' | tee $(TEST_LOGS)/chart.log

tools: deps
	tests/tools/build-tools.sh $(TOOLS_BIN)
	tests/tools/pause/build-pause-image.sh

# What the control plane and the chart tests need.
tools-cluster: deps
	tests/tools/build-tools.sh $(TOOLS_BIN) etcd kube-apiserver kube-controller-manager kubectl helm

# One control plane for the whole tier; its logs stay in $(CLUSTER_DIR)/logs (kept on failure).
# The operator image joins it too: run with the chart's config, token and RBAC (in-cluster mode).
test-cluster: build tools-cluster images
	@mkdir -p $(TEST_LOGS)
	-tests/cluster/control-plane.sh down $(CLUSTER_DIR) >/dev/null 2>&1
	IPCMESH_TOOLS_BIN=$(TOOLS_BIN) tests/cluster/control-plane.sh up $(CLUSTER_DIR)
	source $(CLUSTER_DIR)/env && cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^cluster_test$$' \
	  | tee $(TEST_LOGS)/cluster.log; status=$$?; \
	  cd $(CURDIR) && tests/cluster/control-plane.sh down $(CLUSTER_DIR); exit $$status

# The local kubelet node (tests/cluster/node.sh): real Pods, then teardown compared with a
# snapshot of the host taken before.
test-node: build tools images-save
	@mkdir -p $(TEST_LOGS)
	cd $(BUILD) && ctest $(CTEST_FLAGS) -L '^node_test$$' | tee $(TEST_LOGS)/node.log

# The end-to-end suite on real Pods: a control plane with a node, the chart installed with the
# locally built images, examples applied (tests/e2e/run-suite.sh; the same suite runs on kind).
test-e2e: test-node
	@mkdir -p $(TEST_LOGS)
	-tests/cluster/control-plane.sh down $(E2E_DIR) >/dev/null 2>&1
	IPCMESH_TOOLS_BIN=$(TOOLS_BIN) IPCMESH_NODE_IMAGES="$$(echo $(CURDIR)/$(BUILD)/images-save/*.tar)" \
	  tests/cluster/control-plane.sh up $(E2E_DIR) --node
	source $(E2E_DIR)/env && BUILD=$(BUILD) TEST_LOGS=$(TEST_LOGS) VERSION=$(VERSION) tests/e2e/run-suite.sh; \
	  status=$$?; tests/cluster/control-plane.sh down $(E2E_DIR); exit $$status

# kind, built from its Go module like the other tools (tests/tools/kind); only e2e-kind needs it.
tools-kind: deps
	tests/tools/build-tools.sh $(TOOLS_BIN) kind

# The e2e suite on a kind cluster (docs/e2e-kind.md). kind needs privileged containers, which this
# project's machines refuse (kind.sh then exits 1 saying so; make test-e2e is the local path).
# KIND_NODE_IMAGE picks the Kubernetes version (default: kind's own). The cluster is always
# deleted; the status is up's or test's.
KIND_CLUSTER ?= ipcmesh-e2e
KIND_NODE_IMAGE ?=
e2e-kind: build images-save tools-kind tools-cluster
	@mkdir -p $(TEST_LOGS)
	export KIND_NODE_IMAGE='$(KIND_NODE_IMAGE)' IPCMESH_TOOLS_BIN=$(TOOLS_BIN) BUILD=$(BUILD) \
	  VERSION=$(VERSION) TEST_LOGS=$(TEST_LOGS); \
	tests/e2e/kind.sh up $(KIND_CLUSTER) && tests/e2e/kind.sh test $(KIND_CLUSTER); status=$$?; \
	tests/e2e/kind.sh down $(KIND_CLUSTER); exit $$status

demo: deps build tools images-save
	IPCMESH_TOOLS_BIN=$(TOOLS_BIN) BUILD=$(BUILD) examples/demo/demo.sh up $(DEMO_DIR)

demo-down:
	BUILD=$(BUILD) examples/demo/demo.sh down $(DEMO_DIR)

test: deps test-format test-unit test-ipc test-webhook test-asan test-tsan test-fuzz test-images test-chart test-cluster test-e2e
	@echo "make test: every tier passed (format, unit, ipc, webhook, asan+ubsan, tsan, fuzz, images, chart, cluster, node, e2e)"
	@cat $(TEST_LOGS)/*.log | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\)/\1 \2/p' \
	  | awk '{failed += $$1; total += $$2} END {print total - failed " passed, " failed " failed"}'

# Transports side by side (ratios in one run, fan-out and fan-in, the fan-out chart), then the
# operator: admission latency over TLS and cache memory with 1,000 IpcChannels and 10,000 Pods,
# then the operator at scale against a real control plane (bench-scale).
bench: build tools-cluster
	$(BUILD)/bin/ipcmesh-bench --json-out bench/results/latest.json --plot-out bench/results/fanout.svg
	$(BUILD)/bin/ipcmesh-operator-bench --json-out bench/results/operator.json
	$(MAKE) --no-print-directory bench-scale-run

# The operator at scale (issue 13): its own control plane (no node: it runs beside the e2e tier's),
# 10 IpcChannels, Deployments of 5,000 Pods by default (about 15 minutes on 2 cores; e.g.
# BENCH_SCALE_FLAGS="--pods 2000" for a quicker run, "--operator-bin PATH" for another build).
BENCH_SCALE_FLAGS ?=
bench-scale: build tools-cluster
	$(MAKE) --no-print-directory bench-scale-run

bench-scale-run:
	$(BUILD)/bin/ipcmesh-scale-bench --tools-bin $(TOOLS_BIN) --json-out bench/results/scale.json \
	  $(BENCH_SCALE_FLAGS)

# The bench in a Pod with a CPU limit, on the running demo cluster (`make demo` first): waiting
# and throttling where users run the channel (bench/pod/bench-pod.sh).
BENCH_POD_CPU ?= 500m
bench-pod:
	IPCMESH_TOOLS_BIN=$(TOOLS_BIN) bench/pod/bench-pod.sh $(DEMO_DIR) bench/results/pod.json $(BENCH_POD_CPU)

clean:
	-tests/cluster/control-plane.sh down $(CLUSTER_DIR) >/dev/null 2>&1
	-tests/cluster/control-plane.sh down $(E2E_DIR) >/dev/null 2>&1
	-examples/demo/demo.sh down $(DEMO_DIR) >/dev/null 2>&1
	rm -rf $(BUILD) build-asan build-tsan build-fuzz $(TEST_LOGS)
