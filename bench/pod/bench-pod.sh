#!/usr/bin/env bash
# `make bench-pod`: the transport bench inside a real Pod with a CPU limit, on the cluster of
# `make demo` (its node runs the Pod with the locally built ipcmesh/tools image, whose ipcmeshctl
# has the bench). Both sides of every measurement run in the Pod's one container, so they share
# its CFS quota as an app and its subscriber would; the bench reads its own cgroup's cpu.stat and
# reports the throttled periods of each measurement. docs/benchmarks.md explains the figures.
#
#   bench-pod.sh DEMO_DIR OUT.json [CPU_LIMIT]     (CPU_LIMIT default 500m)
#
# Extra bench flags come from $BENCH_POD_ARGS (default: the paced section and the 64 B pair).
set -Eeuo pipefail

dir="${1:?usage: bench-pod.sh DEMO_DIR OUT.json [CPU_LIMIT]}"
out="${2:?usage: bench-pod.sh DEMO_DIR OUT.json [CPU_LIMIT]}"
cpu="${3:-500m}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tools_bin="${IPCMESH_TOOLS_BIN:-$repo/build/tools/bin}"
kubeconfig="$dir/cluster/kubeconfig"
[[ -f "$kubeconfig" ]] || { echo "bench-pod: no cluster in $dir: run 'make demo' first" >&2; exit 2; }
kubectl=("$tools_bin/kubectl" --kubeconfig "$kubeconfig")
version="$(awk '/^project/ {for (i = 1; i < NF; i++) if ($i == "VERSION") print $(i + 1)}' \
  "$repo/CMakeLists.txt")"
args="${BENCH_POD_ARGS:---sizes 64 --no-fanout --paced 1000,10000,50000 --duration 2}"
name="ipcmesh-bench-$(date +%s)"

read -r -a bench_args <<<"$args"
args_json="$(printf '"%s",' ipcmeshctl bench --host-ipc -o json --no-table --quiet "${bench_args[@]}")"
"${kubectl[@]}" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  annotations:
    ipcmesh.io/inject: "false"
spec:
  restartPolicy: Never
  containers:
    - name: bench
      image: ipcmesh/tools:$version
      imagePullPolicy: Never
      command: [${args_json%,}]
      resources:
        requests: {cpu: "$cpu", memory: 256Mi}
        limits: {cpu: "$cpu", memory: 256Mi}
YAML
trap '"${kubectl[@]}" delete pod "$name" --wait=false >/dev/null 2>&1 || true' EXIT
echo "bench-pod: $name (cpu limit $cpu): ipcmeshctl bench --host-ipc $args" >&2
for _ in $(seq 1 600); do
  phase="$("${kubectl[@]}" get pod "$name" -o jsonpath='{.status.phase}')"
  [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
  sleep 1
done
"${kubectl[@]}" logs "$name" -c bench >"$out"
echo "bench-pod: phase $phase, report in $out" >&2
[[ "$phase" == Succeeded ]]
