#!/usr/bin/env bash
# A local Kubernetes control plane for tests and the demo, envtest-style: etcd, kube-apiserver
# (RBAC on) and kube-controller-manager as plain processes on free loopback ports, with their
# own PKI. Without --node no kubelet runs: Pods are stored and admitted, never run. With --node
# (root) a real node joins it (tests/cluster/node.sh): kubelet + containerd, kube-scheduler,
# kube-proxy, and the API server listens on the node's bridge address so Pods reach it.
#
#   control-plane.sh up   DIR [--node]   start (DIR holds PKI, data, logs, kubeconfig, pids, env)
#   control-plane.sh down DIR            stop everything started in DIR (keeps DIR/logs)
#   control-plane.sh env  DIR            print the shell exports (KUBECONFIG etc.)
#
# Binaries come from $IPCMESH_TOOLS_BIN (default build/tools/bin, made by `make tools`).
# IPCMESH_NODE_IMAGES: docker-save archives the node imports (e.g. build/images-save/*.tar).
set -euo pipefail

command_name="${1:-}"
dir="${2:-}"
[[ -n "$command_name" && -n "$dir" ]] || { sed -n '2,13p' "$0" >&2; exit 2; }
with_node=false
[[ "${3:-}" != --node ]] || with_node=true
tools_bin="${IPCMESH_TOOLS_BIN:-build/tools/bin}"

log() { echo "control-plane: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/shell-helpers.sh"
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"
die() { log "$*"; exit 1; }
# Where the API server listens: loopback, or the node's bridge address, which Pods can reach.
listen_ip=127.0.0.1

make_pki() {
  local pki="$dir/pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ipcmesh-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  # issue NAME SUBJECT [SAN]: a key and a CA-signed certificate.
  issue() {
    local name="$1" subject="$2" san="${3:-}" ext="$pki/$1.ext"
    openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$pki/$name.key" \
      -out "$pki/$name.csr" 2>/dev/null
    if [[ -n "$san" ]]; then
      printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$ext"
    else
      printf 'extendedKeyUsage=clientAuth\n' >"$ext"
    fi
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
      -CAcreateserial -days 3650 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  }
  issue apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:10.0.0.1,IP:$node_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  issue admin "/O=system:masters/CN=ipcmesh-test-admin"
  issue controller-manager "/CN=system:kube-controller-manager"
  if $with_node; then node_make_pki; fi
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

write_kubeconfig() {  # write_kubeconfig FILE USER
  local file="$1" user="$2" pki="$dir/pki"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ipcmesh-test
  cluster:
    server: https://$listen_ip:$apiserver_port
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki/$user.crt
    client-key: $pki/$user.key
contexts:
- name: ipcmesh-test
  context: {cluster: ipcmesh-test, user: $user}
current-context: ipcmesh-test
EOF
}

start() {  # start NAME COMMAND...: runs in its own process group, pid in DIR/pids/NAME
  local name="$1"
  shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name"
}

up() {
  for binary in etcd kube-apiserver kube-controller-manager kubectl; do
    [[ -x "$tools_bin/$binary" ]] || die "$tools_bin/$binary is missing: run 'make tools' first"
  done
  if [[ -f "$dir/env" ]]; then die "$dir already holds a control plane: '$0 down $dir' first"; fi
  mkdir -p "$dir/logs" "$dir/pids" "$dir/etcd"
  dir="$(cd "$dir" && pwd)"
  local started=$SECONDS
  if $with_node; then
    node_prepare
    listen_ip="$node_ip"
  fi
  make_pki
  local etcd_port peer_port controller_manager_port
  etcd_port="$(free_port)"
  peer_port="$(free_port)"
  apiserver_port="$(free_port)"
  controller_manager_port="$(free_port)"

  # --unsafe-no-fsync: test data need not survive a power cut, and fsync dominates etcd's latency.
  start etcd "$tools_bin/etcd" --name ipcmesh-test --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "ipcmesh-test=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --log-level warn
  wait_for 60 etcd "$dir/logs/etcd.log" curl -sf "http://127.0.0.1:$etcd_port/health"

  start kube-apiserver "$tools_bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$listen_ip" --advertise-address "$listen_ip" --secure-port "$apiserver_port" \
    --cert-dir "$dir/pki" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/pki/sa.pub" \
    --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode RBAC --allow-privileged=true \
    $($with_node && node_apiserver_flags) --profiling=false --v=1
  write_kubeconfig "$dir/kubeconfig" admin
  write_kubeconfig "$dir/controller-manager.kubeconfig" controller-manager
  local kubectl=("$tools_bin/kubectl" --kubeconfig "$dir/kubeconfig")
  wait_for 120 kube-apiserver "$dir/logs/kube-apiserver.log" "${kubectl[@]}" get --raw /readyz

  # As in kubeadm clusters, each controller runs as its own service account (tokens from the
  # TokenRequest API, signed with sa.key): the bootstrap RBAC grants the controllers' roles to
  # those accounts, not to system:kube-controller-manager itself.
  start kube-controller-manager "$tools_bin/kube-controller-manager" \
    --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$controller_manager_port" \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --cluster-signing-cert-file "$dir/pki/ca.crt" --cluster-signing-key-file "$dir/pki/ca.key" \
    --use-service-account-credentials=true --leader-elect=false \
    --controllers '*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route' \
    --profiling=false --v=1
  # The service-account controller creating "default" in "default" shows it is running.
  wait_for 120 kube-controller-manager "$dir/logs/kube-controller-manager.log" \
    "${kubectl[@]}" get serviceaccount default -n default
  if $with_node; then node_up; fi

  cat >"$dir/env" <<EOF
export KUBECONFIG=$dir/kubeconfig
export IPCMESH_CLUSTER_DIR=$dir
export IPCMESH_CLUSTER_CA=$dir/pki/ca.crt
export IPCMESH_APISERVER=https://$listen_ip:$apiserver_port
export IPCMESH_NODE=$($with_node && echo "$node_name")
export IPCMESH_ETCD=http://127.0.0.1:$etcd_port
export IPCMESH_TOOLS_BIN=$(cd "$tools_bin" && pwd)
EOF
  log "ready in $((SECONDS - started)) s: API server https://$listen_ip:$apiserver_port, logs in $dir/logs"
  log "use it with: source $dir/env   (or KUBECONFIG=$dir/kubeconfig)"
}

down() {
  [[ -d "$dir/pids" ]] || { log "nothing running in $dir"; return 0; }
  dir="$(cd "$dir" && pwd)"
  # The node first: its Pods are deleted through the API server.
  if [[ -d "$dir/node" || "$(cat "$node_owner_file" 2>/dev/null)" == "$dir" ]]; then node_down; fi
  # Reverse order of start, so nothing logs errors about a dependency that went first.
  for name in kube-controller-manager kube-apiserver etcd; do
    local pidfile="$dir/pids/$name"
    [[ -f "$pidfile" ]] || continue
    local pid
    pid="$(cat "$pidfile")"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  rm -rf "$dir/etcd" "$dir/env"
  log "stopped; logs kept in $dir/logs"
}

case "$command_name" in
  up) up ;;
  down) down ;;
  env) cat "$dir/env" ;;
  *) die "unknown command '$command_name' (up, down, env)" ;;
esac
