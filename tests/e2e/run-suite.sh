#!/usr/bin/env bash
# The end-to-end suite against whatever cluster KUBECONFIG names (the local node of
# `make test-e2e`, a kind cluster of `make e2e-kind`, your own): installs charts/ipcmesh with the
# locally built images (they must already be on the nodes), runs the e2e_test binary through
# ctest, then uninstalls the chart and deletes the namespaces the tests made.
#
#   KUBECONFIG=... tests/e2e/run-suite.sh [CTEST_ARGS...]
#
# Environment: BUILD (default build), IPCMESH_TOOLS_BIN (kubectl, helm; default $BUILD/tools/bin,
# else PATH), VERSION (image tag; default the project's), IPCMESH_E2E_KEEP=1 keeps the chart and
# namespaces for a look afterwards. The result is ctest's; the log is in build-test-logs/e2e.log
# when TEST_LOGS is set.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD:-build}"
[[ "$build" == /* ]] || build="$repo/$build"
tools_bin="${IPCMESH_TOOLS_BIN:-$build/tools/bin}"
[[ -x "$tools_bin/kubectl" ]] && PATH="$tools_bin:$PATH"
version="${VERSION:-$(awk '/^project/ {for (i = 1; i < NF; i++) if ($i == "VERSION") print $(i + 1)}' "$repo/CMakeLists.txt")}"
namespace=ipcmesh-system
log() { echo "e2e: $*" >&2; }

[[ -n "${KUBECONFIG:-}" ]] || { log "KUBECONFIG is not set: which cluster?"; exit 2; }
command -v kubectl >/dev/null && command -v helm >/dev/null || { log "kubectl and helm are needed (make tools-cluster)"; exit 2; }
[[ -x "$build/bin/e2e_test" ]] || { log "$build/bin/e2e_test is missing: run 'make build'"; exit 2; }

cleanup() {
  [[ "${IPCMESH_E2E_KEEP:-}" == 1 ]] && { log "kept: release ipcmesh in $namespace and the e2e namespaces"; return; }
  kubectl delete namespace -l ipcmesh.io/e2e=true --wait=false >/dev/null 2>&1 || true
  helm uninstall ipcmesh --namespace "$namespace" --wait --timeout 2m >/dev/null 2>&1 || true
  kubectl delete namespace "$namespace" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

started=$SECONDS
kubectl wait --for=condition=Ready nodes --all --timeout=120s >/dev/null
# The suite's policy: fs.mqueue.* sysctls allowed (the node runs with them allowed) and scope: Node
# channels allowed in exactly one namespace, so both sides of the policy are tested.
helm upgrade --install ipcmesh "$repo/charts/ipcmesh" --namespace "$namespace" --create-namespace \
  --set "image.tag=$version" --set "relay.image.tag=$version" \
  --set injection.allowMqueueSysctls=true \
  --set 'injection.hostIpcNamespaces={ipcmesh-e2e-hostipc}' \
  --wait --timeout 5m >/dev/null
log "chart installed and operator ready in $((SECONDS - started)) s"

status=0
(cd "$build" && ctest --output-on-failure -L '^e2e_test$' "$@") | tee "${TEST_LOGS:-/tmp}/e2e.log" || status=$?
log "suite finished in $((SECONDS - started)) s"
exit "$status"
