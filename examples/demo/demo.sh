#!/usr/bin/env bash
# `make demo`: a local Kubernetes control plane, the ipcmesh operator with its webhook, the
# IpcChannels and the workload of examples/, and - because this control plane has no kubelet - the
# injected Pod run as local processes, so that messages flow and the relay's /metrics count them.
# What is real and what is a stand-in: docs/demo.md.
#
#   demo.sh up      DIR   start everything (DIR holds the cluster, certificates, pids and logs)
#   demo.sh down    DIR   stop everything started in DIR (keeps DIR/logs); safe to repeat
#   demo.sh metrics DIR   the relay's ipcmesh_* metrics, read inside the Pod's network namespace
#
# Binaries come from $BUILD/bin (default build/bin: `make`), the upstream tools from
# $IPCMESH_TOOLS_BIN (default $BUILD/tools/bin: `make tools`). Running the Pod locally needs root.
set -Eeuo pipefail

command_name="${1:-}"
dir="${2:-}"
[[ -n "$command_name" && -n "$dir" ]] || { sed -n '2,13p' "$0" >&2; exit 2; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cd "$repo"
build="${BUILD:-build}"
[[ "$build" == /* ]] || build="$repo/$build"
bin="$build/bin"
tools_bin="${IPCMESH_TOOLS_BIN:-$build/tools/bin}"
kubectl=("$tools_bin/kubectl" --kubeconfig "$dir/cluster/kubeconfig")
# Images of the injected Pod -> the local programs that stand in for them (tag ignored).
relay_image=ipcmesh/relay
apps_image=ipcmesh/tools
pod=""  # the workload's Pod, once stored

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
log() { echo "demo: $*" >&2; }
source "$repo/tests/cluster/shell-helpers.sh"
die() { log "$*"; exit 1; }

# running PID: the process exists and is not a zombie waiting for init to reap it.
running() { local state; state="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ "$state" != Z* ]]; }
alive() { [[ -f "$dir/pids/$1" ]] && running "$(cat "$dir/pids/$1")"; }
# Up: the control plane and the operator run, and so does the local Pod (when we may run it).
is_up() {
  [[ -f "$dir/cluster/env" ]] && alive operator && { ((EUID != 0)) || alive local-pod; }
}

# stop NAME SECONDS: SIGTERM to the process group started as NAME, SIGKILL after SECONDS.
stop() {
  local pidfile="$dir/pids/$1" seconds="$2" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if running "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((seconds * 10))); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then
      log "$1 (pid $pid) did not stop within ${seconds}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

metrics_port() { cat "$dir/metrics-port"; }

# The relay listens inside the Pod's network namespace, which the local runner (pid in
# pids/local-pod) created: curl it from there.
relay_metrics() {
  nsenter --target "$(cat "$dir/pids/local-pod")" --net \
    curl -sf -m 3 "http://127.0.0.1:$(metrics_port)/metrics"
}

print_usage() {
  local relative="${dir#"$repo"/}" stop_command="make demo-down"
  [[ "$relative" == build/demo ]] || stop_command="examples/demo/demo.sh down $relative"
  echo
  echo "To use it:"
  printf '  %-58s # %s\n' \
    "export KUBECONFIG=$dir/cluster/kubeconfig" "" \
    "export PATH=$(cd "$tools_bin" && pwd):\$PATH" "kubectl from 'make tools'" \
    "kubectl get ipch,pods" "the Pod stays Pending: no kubelet" \
    "tail -f $relative/logs/pod.log" "the Pod's containers, prefixed by name" \
    "examples/demo/demo.sh metrics $relative" "the relay's /metrics" \
    "$stop_command" "stop it all" | sed 's/ *# $//'
}

# ------------------------------------------------------------------------------------------------

start_control_plane() {
  say "Control plane: etcd, kube-apiserver, kube-controller-manager (no kubelet)"
  IPCMESH_TOOLS_BIN="$tools_bin" tests/cluster/control-plane.sh up "$dir/cluster"
  "${kubectl[@]}" apply -f crds/ipcchannel.yaml
  "${kubectl[@]}" wait --for=condition=Established --timeout=60s crd/ipcchannels.ipcmesh.io
  "${kubectl[@]}" create namespace ipcmesh-system
}

# The operator out of the cluster, its webhook on https://127.0.0.1:PORT with a certificate
# for 127.0.0.1 signed by the control plane's CA (which the registration names as caBundle).
start_operator() {
  say "ipcmesh-operator (controller and mutating webhook)"
  local certs="$dir/operator" webhook_port health_port
  mkdir -p "$certs"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$certs/webhook.ext"
  openssl req -newkey rsa:2048 -nodes -subj /CN=ipcmesh-webhook -keyout "$certs/webhook.key" \
    -out "$certs/webhook.csr" 2>/dev/null
  openssl x509 -req -in "$certs/webhook.csr" -CA "$dir/cluster/pki/ca.crt" \
    -CAkey "$dir/cluster/pki/ca.key" -CAcreateserial -days 30 -extfile "$certs/webhook.ext" \
    -out "$certs/webhook.crt" 2>/dev/null
  webhook_port="$(free_port)"
  health_port="$(free_port)"
  # --namespace-label '': the registration below selects every namespace but the system ones,
  # not a label, so there is no namespace label for the controller to check.
  setsid "$bin/ipcmesh-operator" --kubeconfig "$dir/cluster/kubeconfig" \
    --namespace ipcmesh-system --identity demo \
    --health-port "$health_port" --webhook-port "$webhook_port" \
    --tls-cert "$certs/webhook.crt" --tls-key "$certs/webhook.key" --namespace-label '' \
    >"$dir/logs/operator.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/operator"
  wait_for 60 "operator /readyz" "$dir/logs/operator.log" \
    curl -sf -m 2 "http://127.0.0.1:$health_port/readyz"
  echo "operator ready: webhook https://127.0.0.1:$webhook_port/mutate-pods, log $dir/logs/operator.log"

  # failurePolicy Fail: a Pod that should get a channel is never stored without it. The
  # namespaceSelector keeps the control plane's own namespaces out of the webhook's way.
  "${kubectl[@]}" apply -f - <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: ipcmesh-demo
webhooks:
- name: pods.ipcmesh.io
  admissionReviewVersions: [v1]
  sideEffects: None
  timeoutSeconds: 5
  reinvocationPolicy: IfNeeded
  failurePolicy: Fail
  clientConfig:
    url: https://127.0.0.1:$webhook_port/mutate-pods
    caBundle: $(base64 -w0 "$dir/cluster/pki/ca.crt")
  rules:
  - operations: [CREATE]
    apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    scope: Namespaced
  namespaceSelector:
    matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: [kube-system, kube-public, kube-node-lease, ipcmesh-system]
EOF
}

apply_examples() {
  say "IpcChannels from examples/ (validated by the API server against the CRD)"
  local channel
  "${kubectl[@]}" apply -f examples/shared-memory.yaml -f examples/both-legacy-bridge.yaml \
    -f examples/message-queue.yaml
  # The webhook decides from the operator's cache: wait until the operator has seen each channel.
  for channel in frames legacy-bridge jobs; do
    wait_for 30 "the operator observing IpcChannel $channel" "$dir/logs/operator.log" \
      bash -c "[[ \"\$(\"\$@\" get ipch $channel -o jsonpath='{.status.observedGeneration}')\" -ge 1 ]]" \
      _ "${kubectl[@]}"
  done

  say "The workload: examples/workload.yaml (a Deployment; its ReplicaSet creates the Pod)"
  "${kubectl[@]}" apply -f examples/workload.yaml
  wait_for 60 "the Deployment's Pod being stored" "$dir/cluster/logs/kube-controller-manager.log" \
    bash -c '[[ -n "$("$@" get pods -l app=pipeline -o name)" ]]' _ "${kubectl[@]}"
  pod="$("${kubectl[@]}" get pods -l app=pipeline -o jsonpath='{.items[0].metadata.name}')"
  echo "$pod" >"$dir/pod-name"
}

show_injected_pod() {
  say "The Pod as stored: injected by the webhook (kubectl get pod $pod -o yaml, abridged)"
  "${kubectl[@]}" get pod "$pod" -o yaml >"$dir/pod.yaml"
  "${kubectl[@]}" get pod "$pod" -o json >"$dir/pod.json"
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
  # The app containers are the workload's own; the webhook only added env and mounts to them.
  echo "  containers:   # from examples/workload.yaml, plus the injected env and volumeMounts"
  "${kubectl[@]}" get pod "$pod" -o go-template='{{range .spec.containers}}  - name: {{.name}}
    command: {{range .command}}{{.}} {{end}}
    env: {{range .env}}{{.name}} {{end}}
    volumeMounts: {{range .volumeMounts}}{{.mountPath}} {{end}}
{{end}}'
  echo "(the full Pod: $dir/pod.yaml)"

  say "kubectl get ipch"
  # The controller counts the injected Pod from its watch: give it a moment.
  wait_for 15 "IpcChannel frames counting the Pod" "$dir/logs/operator.log" \
    bash -c "[[ \"\$(\"\$@\" get ipch frames -o jsonpath='{.status.injectedPods}')\" == 1 ]]" \
    _ "${kubectl[@]}" || true
  "${kubectl[@]}" get ipch
}

run_pod_locally() {
  say "Running the Pod (there is no kubelet here)"
  cat <<EOF
This control plane has no kubelet and no node, so the Pod stays Pending: Kubernetes itself will
never start it (a later issue adds real nodes). As a stand-in, ipcmesh-local-pod runs the
containers of the stored Pod as local processes in one private IPC, mount and network namespace,
from the Pod's own command, args and env; the images are mapped to the binaries in $bin.
EOF
  if ((EUID != 0)); then
    log "not running the Pod: ipcmesh-local-pod needs root (namespaces and mounts); run 'make demo' as root"
    return 0
  fi
  "${kubectl[@]}" get pod "$pod" \
    -o jsonpath='{.spec.initContainers[?(@.name=="ipcmesh-relay")].ports[0].containerPort}' \
    >"$dir/metrics-port"
  setsid "$bin/ipcmesh-local-pod" --pod "$dir/pod.json" --bin-dir "$bin" \
    --image "$relay_image=ipcmesh-relay" --image "$apps_image=ipcmeshctl" \
    >"$dir/logs/pod.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/local-pod"
  wait_for 60 "the local Pod starting its containers" "$dir/logs/pod.log" \
    bash -c 'grep -q "all containers started" "$1" || ! kill -0 "$2"' _ "$dir/logs/pod.log" "$!"
  if ! alive local-pod; then
    cat "$dir/logs/pod.log" >&2
    die "the local Pod stopped before its containers started (log above: $dir/logs/pod.log)"
  fi
  sed -n '1,/all containers started/p' "$dir/logs/pod.log"

  say "Messages flowing (tail -f ${dir#"$repo"/}/logs/pod.log)"
  wait_for 30 "messages reaching both subscribers" "$dir/logs/pod.log" \
    bash -c '[[ $(grep -c "^\[consumer\]" "$1") -ge 5 && $(grep -c "^\[legacy-subscriber\]" "$1") -ge 2 ]]' \
    _ "$dir/logs/pod.log"
  grep '^\[consumer\]' "$dir/logs/pod.log" | tail -n 3
  grep '^\[legacy-subscriber\]' "$dir/logs/pod.log" | tail -n 2

  say "The relay's /metrics (port $(metrics_port) in the Pod's network namespace)"
  show_metrics
}

show_metrics() {
  relay_metrics | grep -E '^ipcmesh_(channel_published_messages_total|subscriber_delivered_messages_total|bridge_messages_total|channel_subscribers|relay_ready)' ||
    die "no metrics from the relay (is the demo up? see ${dir}/logs/pod.log)"
}

up() {
  for binary in ipcmesh-operator ipcmesh-relay ipcmeshctl ipcmesh-local-pod; do
    [[ -x "$bin/$binary" ]] || die "$bin/$binary is missing: run 'make' first"
  done
  [[ -x "$tools_bin/kubectl" ]] || die "$tools_bin/kubectl is missing: run 'make tools' first"
  if is_up; then
    echo "The demo is already up in $dir."
    print_usage
    return 0
  fi
  if [[ -d "$dir/pids" || -f "$dir/cluster/env" ]]; then
    log "a previous demo in $dir is partly stopped: cleaning it up first"
    down
  fi
  mkdir -p "$dir/logs" "$dir/pids"
  trap 'log "demo up failed (logs: $dir/logs, $dir/cluster/logs); make demo-down cleans up"' ERR
  local started=$SECONDS
  start_control_plane
  start_operator
  apply_examples
  show_injected_pod
  run_pod_locally
  say "The demo is up (in $((SECONDS - started)) s) and keeps running"
  print_usage
}

down() {
  stop local-pod 45  # the runner stops the apps, then the relay (which unlinks the channels)
  stop operator 20
  if [[ -d "$dir/cluster" ]]; then
    IPCMESH_TOOLS_BIN="$tools_bin" tests/cluster/control-plane.sh down "$dir/cluster"
  fi
  rm -rf "$dir/pids" "$dir/metrics-port"
  log "stopped; logs kept in $dir/logs and $dir/cluster/logs"
}

case "$command_name" in
  up) up ;;
  down) down ;;
  metrics)
    alive local-pod || die "the demo's Pod is not running in $dir"
    show_metrics
    ;;
  *) die "unknown command '$command_name' (up, down, metrics)" ;;
esac
