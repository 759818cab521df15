#!/usr/bin/env bash
# What a local node could leave on this machine, one normalized line each, so that two snapshots
# (before `control-plane.sh up DIR --node`, after `down`) compare with diff: mount points, cgroups
# named kubepods*, network links, iptables/ip6tables rules (no counters), node processes, and the
# fixed host paths the kubelet, containerd and CNI write.
#
#   tests/node/host-snapshot.sh > FILE      (root)
set -uo pipefail

echo "# mounts"
awk '{print "mount " $5}' /proc/self/mountinfo | sort -u
echo "# cgroups"
find /sys/fs/cgroup -maxdepth 4 -type d -name 'kubepods*' 2>/dev/null | sed 's/^/cgroup /' | sort
echo "# links"
ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}' | grep -v ' veth' | sort
echo "# veths"  # Docker's containers come and go; ours would be attached to the node's bridge
ip -o link show master ipcmesh0 2>/dev/null | awk -F': ' '{print "bridge-port " $2}' | sort
for tool in iptables ip6tables; do
  echo "# $tool"
  # Docker's own rules change with its containers (the image tier runs some): keep ours only.
  "$tool"-save 2>/dev/null | grep -v '^#' | sed -e 's/\[[0-9]*:[0-9]*\]//' | grep -E 'KUBE|CNI|ipcmesh' |
    sed "s/^/$tool /" | sort
done
echo "# nft"
nft list tables 2>/dev/null | grep -Ei 'kube|cni' | sed 's/^/nft /'
echo "# processes"
ps -eo comm= | grep -E '^(kubelet|kube-proxy|kube-scheduler|containerd|containerd-shim|pause|ipcmesh-relay)' |
  sed 's/^/process /' | sort
echo "# files"
for path in /var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /etc/cni /opt/cni \
  /run/containerd/s /run/nri /run/ipcmesh-node.owner /var/lib/containerd /run/netns; do
  [[ -e "$path" ]] && find "$path" -maxdepth 3 2>/dev/null | sed 's/^/file /'
done | sort
echo "# shm and mqueue"
ls -1 /dev/shm /dev/mqueue 2>/dev/null | grep -F ipcmesh | sed 's/^/ipc /' | sort
exit 0
