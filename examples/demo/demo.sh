#!/usr/bin/env bash
# `make demo`: a local Kubernetes cluster with a real node (tests/cluster/control-plane.sh --node:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, a kubelet with its own
# containerd), the ipcmesh chart installed with the locally built images, and the IpcChannels and
# workload of examples/ running as real Pods: messages flow and the relay's /metrics count them.
# docs/demo.md says what you see.
#
#   demo.sh up      DIR   start everything (DIR holds the cluster, its node, logs); needs root
#   demo.sh down    DIR   stop everything started in DIR (keeps the logs); safe to repeat
#   demo.sh metrics DIR   the relay's ipcmesh_* metrics (through the API server's Pod proxy)
#
# Image archives come from $BUILD/images-save (`make images-save`), the upstream tools from
# $IPCMESH_TOOLS_BIN (default $BUILD/tools/bin: `make tools`).
set -Eeuo pipefail

command_name="${1:-}"
dir="${2:-}"
[[ -n "$command_name" && -n "$dir" ]] || { sed -n '2,14p' "$0" >&2; exit 2; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cd "$repo"
build="${BUILD:-build}"
[[ "$build" == /* ]] || build="$repo/$build"
images="$build/images-save"
tools_bin="${IPCMESH_TOOLS_BIN:-$build/tools/bin}"
kubectl=("$tools_bin/kubectl" --kubeconfig "$dir/cluster/kubeconfig")
helm=("$tools_bin/helm" --kubeconfig "$dir/cluster/kubeconfig")
version="$(awk '/^project/ {for (i = 1; i < NF; i++) if ($i == "VERSION") print $(i + 1)}' CMakeLists.txt)"
pod=""  # the workload's Pod, once created

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
log() { echo "demo: $*" >&2; }
source "$repo/tests/cluster/shell-helpers.sh"
die() { log "$*"; exit 1; }

# Up: the control plane runs with its node, and the workload's Pod exists.
is_up() {
  [[ -f "$dir/cluster/env" && -f "$dir/pod-name" ]] &&
    "${kubectl[@]}" get pod "$(cat "$dir/pod-name")" >/dev/null 2>&1
}

relay_metrics() {
  local pod_name port
  pod_name="$(cat "$dir/pod-name")"
  port="$("${kubectl[@]}" get pod "$pod_name" \
    -o jsonpath='{.spec.initContainers[?(@.name=="ipcmesh-relay")].ports[0].containerPort}')"
  "${kubectl[@]}" get --raw "/api/v1/namespaces/default/pods/$pod_name:$port/proxy/metrics"
}

print_usage() {
  local relative="${dir#"$repo"/}" stop_command="make demo-down"
  [[ "$relative" == build/demo ]] || stop_command="examples/demo/demo.sh down $relative"
  echo
  echo "To use it:"
  printf '  %-58s # %s\n' \
    "export KUBECONFIG=$dir/cluster/kubeconfig" "" \
    "export PATH=$(cd "$tools_bin" && pwd):\$PATH" "kubectl from 'make tools'" \
    "kubectl get ipch,pods" "channels and the injected Pods" \
    "kubectl logs -f deploy/pipeline -c consumer" "messages arriving" \
    "examples/demo/demo.sh metrics $relative" "the relay's /metrics" \
    "$stop_command" "stop it all" | sed 's/ *# $//'
}

# ------------------------------------------------------------------------------------------------

start_cluster() {
  say "Cluster: etcd, kube-apiserver, kube-controller-manager and a real node (kubelet + containerd)"
  IPCMESH_TOOLS_BIN="$tools_bin" IPCMESH_NODE_IMAGES="$(echo "$images"/*.tar)" \
    tests/cluster/control-plane.sh up "$dir/cluster" --node
  "${kubectl[@]}" get nodes -o wide
}

install_chart() {
  say "helm install ipcmesh charts/ipcmesh (operator and webhook as Pods, images ipcmesh/*:$version)"
  # The node allows the fs.mqueue.* sysctls, so the policy may let the webhook set them.
  "${helm[@]}" install ipcmesh charts/ipcmesh --namespace ipcmesh-system --create-namespace \
    --set injection.allowMqueueSysctls=true --wait --timeout 5m
  "${kubectl[@]}" get pods -n ipcmesh-system -o wide
  "${kubectl[@]}" label namespace default ipcmesh.io/injection=enabled --overwrite
}

apply_examples() {
  say "IpcChannels from examples/ (validated by the API server against the CRD)"
  local channel
  "${kubectl[@]}" apply -f examples/shared-memory.yaml -f examples/both-legacy-bridge.yaml \
    -f examples/message-queue.yaml
  # The webhook decides from the operator's cache: wait until the operator has seen each channel.
  for channel in frames legacy-bridge jobs; do
    wait_for 60 "the operator observing IpcChannel $channel" /dev/null \
      bash -c "[[ \"\$(\"\$@\" get ipch $channel -o jsonpath='{.status.observedGeneration}')\" -ge 1 ]]" \
      _ "${kubectl[@]}"
  done

  say "The workload: examples/workload.yaml (a Deployment; the webhook injects its Pod)"
  "${kubectl[@]}" apply -f examples/workload.yaml
  "${kubectl[@]}" rollout status deployment/pipeline --timeout=180s
  pod="$("${kubectl[@]}" get pods -l app=pipeline -o jsonpath='{.items[0].metadata.name}')"
  echo "$pod" >"$dir/pod-name"
}

show_injected_pod() {
  say "The Pod as the webhook injected it (kubectl get pod $pod -o yaml, abridged)"
  "${kubectl[@]}" get pod "$pod" -o yaml >"$dir/pod.yaml"
  echo "metadata.annotations[ipcmesh.io/status]:"
  echo "  $("${kubectl[@]}" get pod "$pod" -o jsonpath='{.metadata.annotations.ipcmesh\.io/status}')"
  # The relay (a native sidecar: the first init container), the volumes and the Pod's security
  # context as YAML, without the API server's defaults; long lines (the channel document in
  # IPCMESH_CHANNELS) cut at 110 columns.
  awk '/^status:/ { exit }
       /^spec:/ { in_spec = 1; print; next }
       in_spec && /^  [a-zA-Z]/ { key = $1; sub(":", "", key) }
       in_spec && key ~ /^(initContainers|securityContext|volumes)$/ &&
         !/terminationMessage|imagePullPolicy|resources: \{\}/ {
         print (length($0) > 110 ? substr($0, 1, 107) "..." : $0)
       }' "$dir/pod.yaml"
  echo "(the full Pod: $dir/pod.yaml)"

  say "kubectl get ipch,pods"
  wait_for 30 "IpcChannel frames counting the Pod" /dev/null \
    bash -c "[[ \"\$(\"\$@\" get ipch frames -o jsonpath='{.status.injectedPods}')\" == 1 ]]" \
    _ "${kubectl[@]}" || true
  "${kubectl[@]}" get ipch,pods -o wide
}

show_messages() {
  say "Messages flowing (kubectl logs $pod -c consumer / -c legacy-subscriber)"
  wait_for 60 "messages reaching both subscribers" /dev/null \
    bash -c '[[ $("$@" -c consumer | wc -l) -ge 5 && $("$@" -c legacy-subscriber | wc -l) -ge 2 ]]' \
    _ "${kubectl[@]}" logs "$pod"
  "${kubectl[@]}" logs "$pod" -c consumer --tail=3
  "${kubectl[@]}" logs "$pod" -c legacy-subscriber --tail=2

  say "The relay's /metrics (through the API server's Pod proxy)"
  show_metrics
}

show_metrics() {
  relay_metrics | grep -E '^ipcmesh_(channel_published_messages_total|subscriber_delivered_messages_total|bridge_messages_total|channel_subscribers|relay_ready)' ||
    die "no metrics from the relay (is the demo up? kubectl describe pod $(cat "$dir/pod-name" 2>/dev/null))"
}

up() {
  ((EUID == 0)) || die "the demo runs a kubelet and containerd on this machine: run 'make demo' as root"
  for image in relay operator tools; do
    [[ -f "$images/$image.tar" ]] || die "$images/$image.tar is missing: run 'make images-save' first"
  done
  [[ -x "$tools_bin/kubelet" ]] || die "$tools_bin/kubelet is missing: run 'make tools' first"
  if is_up; then
    echo "The demo is already up in $dir."
    print_usage
    return 0
  fi
  if [[ -d "$dir/cluster/pids" || -f "$dir/cluster/env" ]]; then
    log "a previous demo in $dir is partly stopped: cleaning it up first"
    down
  fi
  mkdir -p "$dir/logs"
  trap 'log "demo up failed (logs: $dir/cluster/logs); make demo-down cleans up"' ERR
  local started=$SECONDS
  start_cluster
  install_chart
  apply_examples
  show_injected_pod
  show_messages
  say "The demo is up (in $((SECONDS - started)) s) and keeps running"
  print_usage
}

down() {
  if [[ -d "$dir/cluster" ]]; then
    IPCMESH_TOOLS_BIN="$tools_bin" tests/cluster/control-plane.sh down "$dir/cluster"
  fi
  rm -f "$dir/pod-name"
  log "stopped; logs kept in $dir/cluster/logs"
}

case "$command_name" in
  up) up ;;
  down) down ;;
  metrics)
    is_up || die "the demo is not running in $dir"
    show_metrics
    ;;
  *) die "unknown command '$command_name' (up, down, metrics)" ;;
esac
