# A real Kubernetes node for the local control plane (sourced by control-plane.sh for `up DIR
# --node`): kubelet, kube-scheduler and kube-proxy as plain processes, the kubelet with its own
# containerd instance (own root, state and socket; Docker's daemon is left alone), Debian's runc
# and CNI plugins, a bridge with a private range and no NAT. ../shared/notes/real-node.md is the
# measured recipe this follows; docs/control-plane.md says what it leaves on the host (nothing).
#
# One node per machine: the kubelet writes a few fixed host paths (node_clean_host_paths).
# Needs root (namespaces, mounts, cgroups, iptables) and cgroup v1 or v2.

node_name=ipcmesh-node
node_bridge=ipcmesh0
node_pod_cidr=10.213.0.0/16
node_ip=10.213.0.1
# Which control-plane directory owns the node, so a second `up --node` names the first.
node_owner_file=/run/ipcmesh-node.owner
node_sandbox_image=docker.io/ipcmesh/pause:3.10-local
# Fixed host folders the kubelet and CNI write into whatever they are configured with, deepest first.
node_host_dirs=(/var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers
  /var/lib/cni/results /var/lib/cni)

node_require_root() {
  ((EUID == 0)) || die "a node needs root (mounts, cgroups, iptables); run without --node for an API-only control plane"
  for binary in kubelet kube-scheduler kube-proxy containerd containerd-shim-runc-v2 ctr crictl; do
    [[ -x "$tools_bin/$binary" ]] || die "$tools_bin/$binary is missing: run 'make tools' first"
  done
  for binary in /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback; do
    [[ -x "$binary" ]] || die "$binary is missing: run 'make deps' (runc, containernetworking-plugins)"
  done
  local pause_tar="${IPCMESH_TOOLS_CACHE:-$HOME/.cache/ipcmesh/tools}/pause.tar"
  [[ -f "$pause_tar" ]] || die "$pause_tar is missing: run 'make tools' (it builds the pause image)"
}

# Before the API server starts: it binds the bridge's gateway address, which Pods reach.
node_prepare() {
  node_require_root
  if [[ -f "$node_owner_file" ]]; then
    die "a node already runs for $(cat "$node_owner_file"): '$0 down $(cat "$node_owner_file")' first"
  fi
  if ip link show "$node_bridge" >/dev/null 2>&1; then
    die "bridge $node_bridge exists without an owner: a node was not torn down ('ip link del $node_bridge')"
  fi
  if ip -4 route | grep -q '^10\.213\.'; then
    die "the node's range $node_pod_cidr overlaps a route of this machine: $(ip -4 route | grep '^10\.213\.')"
  fi
  echo "$dir" >"$node_owner_file"
  mkdir -p "$dir/node"
  # Host folders that were there before us stay, even when empty.
  local path
  for path in "${node_host_dirs[@]}"; do
    [[ ! -e "$path" ]] || echo "$path"
  done >"$dir/node/host-dirs-before"
  ip link add "$node_bridge" type bridge
  ip addr add "$node_ip/16" dev "$node_bridge"
  ip link set "$node_bridge" up
}

# The node's certificates: kubelet and kube-proxy clients, kube-scheduler, and the API server's
# client certificate for the kubelet (exec, logs, port-forward).
node_make_pki() {
  issue kubelet "/O=system:nodes/CN=system:node:$node_name"
  issue kube-scheduler "/CN=system:kube-scheduler"
  issue kube-proxy "/CN=system:kube-proxy"
  issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
}

node_apiserver_flags() {
  echo --kubelet-client-certificate "$dir/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$dir/pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --enable-aggregator-routing=true
}

node_write_containerd_config() {
  local node="$dir/node"
  mkdir -p "$node/containerd/root" "$node/containerd/state" "$node/cni/conf" "$node/cni/data" \
    "$node/containerd/opt"
  cat >"$node/containerd/config.toml" <<EOF
version = 3
root = "$node/containerd/root"
state = "$node/containerd/state"

[grpc]
  address = "$node/containerd/containerd.sock"
[ttrpc]
  address = "$node/containerd/containerd.sock.ttrpc"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$node/containerd/opt"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$node_sandbox_image'
  [plugins.'io.containerd.cri.v1.runtime']
    disable_apparmor = true
    # Without CAP_SYS_RESOURCE the sandbox's -998 cannot be set: clamp instead of failing.
    restrict_oom_score_adj = true
    tolerate_missing_hugetlb_controller = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '/usr/sbin/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '$node/cni/conf'
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
EOF
  # No NAT (ipMasq false): nothing a Pod sends leaves the machine; the host routes to Pods.
  cat >"$node/cni/conf/10-ipcmesh.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "ipcmesh-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$node_bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$node/cni/data",
        "ranges": [[{"subnet": "$node_pod_cidr", "gateway": "$node_ip"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
}

node_write_kubelet_config() {
  local node="$dir/node"
  mkdir -p "$node/kubelet" "$node/pod-logs"
  cat >"$node/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine is cgroup v1; kubelet 1.36 refuses v1 unless told.
failCgroupV1: $([[ -f /sys/fs/cgroup/cgroup.controllers ]] && echo true || echo false)
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$node/containerd/containerd.sock
address: $node_ip
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz_port
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $dir/pki/ca.crt}
authorization: {mode: Webhook}
podLogsDir: $node/pod-logs
resolvConf: ""
# The images are imported, never pulled: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
failSwapOn: false
# The webhook raises fs.mqueue.msg_max / msgsize_max per Pod when a channel needs it.
allowedUnsafeSysctls: ["fs.mqueue.*"]
serializeImagePulls: false
EOF
}

# node_import_images FILE...: docker-save archives into the node's containerd (namespace k8s.io).
node_import_images() {
  local archive
  for archive in "$@"; do
    # ctr warns on every call that cgroup v1 support is deprecated: keep only real errors.
    "$tools_bin/ctr" -a "$dir/node/containerd/containerd.sock" -n k8s.io images import "$archive" \
      2> >(grep -v 'DEPRECATION: The support for cgroup v1' >&2) >/dev/null ||
      die "importing $archive into the node failed"
  done
}

# After the API server and controller manager are up.
node_up() {
  local started=$SECONDS kubectl=("$tools_bin/kubectl" --kubeconfig "$dir/kubeconfig")
  write_kubeconfig "$dir/kubelet.kubeconfig" kubelet
  write_kubeconfig "$dir/kube-scheduler.kubeconfig" kube-scheduler
  write_kubeconfig "$dir/kube-proxy.kubeconfig" kube-proxy
  # The harness authorizes with RBAC only (no Node authorizer): the node's group gets system:node.
  "${kubectl[@]}" create clusterrolebinding ipcmesh-test-nodes --clusterrole=system:node \
    --group=system:nodes >/dev/null

  kubelet_port="$(free_port)"
  kubelet_healthz_port="$(free_port)"
  local proxy_healthz_port proxy_metrics_port
  proxy_healthz_port="$(free_port)"
  proxy_metrics_port="$(free_port)"
  node_write_containerd_config
  node_write_kubelet_config

  # containerd finds its runc shim on PATH.
  start containerd env PATH="$(cd "$tools_bin" && pwd):$PATH" "$tools_bin/containerd" \
    --config "$dir/node/containerd/config.toml"
  wait_for 30 containerd "$dir/logs/containerd.log" \
    "$tools_bin/ctr" -a "$dir/node/containerd/containerd.sock" version
  node_import_images "${IPCMESH_TOOLS_CACHE:-$HOME/.cache/ipcmesh/tools}/pause.tar" \
    ${IPCMESH_NODE_IMAGES:-}

  start kube-scheduler "$tools_bin/kube-scheduler" --kubeconfig "$dir/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/kube-scheduler.kubeconfig" \
    --secure-port 0 --leader-elect=false --profiling=false --v=1
  # Pods reach the API server through the `kubernetes` Service (10.0.0.1:443): kube-proxy's DNAT.
  # Zero conntrack settings: leave the host's nf_conntrack sysctls as they are. NodePorts open on
  # the bridge address only, never on the machine's own interfaces.
  start kube-proxy "$tools_bin/kube-proxy" --kubeconfig "$dir/kube-proxy.kubeconfig" \
    --hostname-override "$node_name" --proxy-mode iptables --cluster-cidr "$node_pod_cidr" \
    --bind-address "$node_ip" --healthz-bind-address "127.0.0.1:$proxy_healthz_port" \
    --metrics-bind-address "127.0.0.1:$proxy_metrics_port" \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 \
    --conntrack-tcp-timeout-close-wait 0 --iptables-localhost-nodeports=false \
    --nodeport-addresses "$node_ip/32" --v=1
  start kubelet "$tools_bin/kubelet" --config "$dir/node/kubelet/config.yaml" \
    --kubeconfig "$dir/kubelet.kubeconfig" --root-dir "$dir/node/kubelet/root" \
    --cert-dir "$dir/node/kubelet/pki" --hostname-override "$node_name" --node-ip "$node_ip" --v=1
  wait_for 60 "node $node_name Ready" "$dir/logs/kubelet.log" \
    "${kubectl[@]}" wait --for=condition=Ready "node/$node_name" --timeout=1s
  # Only the node-lifecycle controller lifts this taint, and the harness does not run it.
  "${kubectl[@]}" taint node "$node_name" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  wait_for 30 "kube-proxy healthy" "$dir/logs/kube-proxy.log" \
    curl -sf "http://127.0.0.1:$proxy_healthz_port/healthz"
  log "node $node_name Ready in $((SECONDS - started)) s (Pods in $node_pod_cidr, node IP $node_ip)"
}

node_stop_process() {  # node_stop_process NAME SECONDS
  local pidfile="$dir/pids/$1" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# The teardown order that leaves nothing: Pods first (through the API while the kubelet runs),
# then the processes, then what they left in the kernel and on disk.
node_down() {
  local node="$dir/node" kubectl=("$tools_bin/kubectl" --kubeconfig "$dir/kubeconfig" --request-timeout=5s)
  local crictl=("$tools_bin/crictl" --runtime-endpoint "unix://$node/containerd/containerd.sock" --timeout 5s)
  if [[ -f "$dir/pids/kubelet" ]] && kill -0 "$(cat "$dir/pids/kubelet")" 2>/dev/null; then
    "${kubectl[@]}" cordon "$node_name" >/dev/null 2>&1 || true
    "${kubectl[@]}" delete pods --all-namespaces --all --force --grace-period=0 --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 1 150); do
      [[ -z "$("${crictl[@]}" pods --state ready -q 2>/dev/null)" ]] && break
      sleep 0.2
    done
  fi
  node_stop_process kubelet 10
  node_stop_process kube-scheduler 5
  if [[ -f "$dir/pids/containerd" ]]; then
    "${crictl[@]}" rmp -af >/dev/null 2>&1 || true
  fi
  node_stop_process containerd 10
  # Shims outlive containerd by design; ours are the ones whose socket lives in our state dir.
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $node/containerd/containerd.sock" 2>/dev/null || true
  if [[ -f "$dir/pids/kube-proxy" ]]; then
    node_stop_process kube-proxy 5
    "$tools_bin/kube-proxy" --cleanup --proxy-mode iptables >>"$dir/logs/kube-proxy.log" 2>&1 || true
  fi
  node_unmount_under "$node"
  node_remove_cgroups
  node_remove_kubelet_iptables
  ip link del "$node_bridge" 2>/dev/null || true
  node_clean_host_paths
  rm -rf "$node"
  [[ "$(cat "$node_owner_file" 2>/dev/null)" != "$dir" ]] || rm -f "$node_owner_file"
}

node_unmount_under() {  # deepest first; the kubelet binds its --root-dir onto itself (rshared)
  local root="$1" mount_point
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v root="$root" '$5 == root || index($5, root "/") == 1 {print $5}' \
      /proc/self/mountinfo | sort -r)
    ((${#mounts[@]})) || return 0
    for mount_point in "${mounts[@]}"; do umount -l "$mount_point" 2>/dev/null || true; done
  done
}

node_remove_cgroups() {  # the kubelet's kubepods trees, deepest first, in every hierarchy
  local cgroup
  find /sys/fs/cgroup -depth -type d -name 'kubepods*' 2>/dev/null | while read -r top; do
    find "$top" -depth -type d 2>/dev/null | while read -r cgroup; do rmdir "$cgroup" 2>/dev/null || true; done
  done
}

node_remove_kubelet_iptables() {
  local tool table chain
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || continue
    for chain in INPUT OUTPUT; do
      while "$tool" -t filter -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
    done
    for table in filter nat mangle; do
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$tool" -t "$table" -F "$chain" 2>/dev/null && "$tool" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# Host paths the kubelet and CNI write whatever their configured directories.
node_clean_host_paths() {
  local link path
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/cni/results/ipcmesh-node-*
  for link in /var/log/containers/*; do
    [[ -L "$link" && "$(readlink "$link")" == "$dir/node/"* ]] && rm -f "$link"
  done
  for path in "${node_host_dirs[@]}"; do
    grep -qxF "$path" "$dir/node/host-dirs-before" 2>/dev/null || rmdir "$path" 2>/dev/null || true
  done
}
