#!/usr/bin/env bash
# `make deps`: installs what a fresh Debian 12 machine lacks to build, test and demo ipcmesh.
# Idempotent and quiet when everything is there. As root it runs apt-get; otherwise it prints the
# exact apt-get line and exits 2. Go >= 1.26 (for the upstream Kubernetes tools the tests build)
# is checked, not installed: Debian 12's Go is too old.
#
#   hack/deps.sh            check and install
#   hack/deps.sh --list     print the package list and exit
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev clang-format-14
  libcpprest-dev libyaml-cpp-dev libspdlog-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  prometheus-cpp-dev libexpected-dev libssl-dev libboost-dev libcli11-dev
  # the benchmark peer
  iceoryx libiceoryx-posh-dev
  # tests, the control plane's PKI and the demo
  util-linux procps openssl curl python3 git
  # images made offline: a debian:bookworm-slim stand-in when no registry can be reached
  mmdebstrap
  # the local kubelet node: containerd's OCI runtime, the Pods' CNI plugins, the kubelet's chains
  runc containernetworking-plugins iptables
)

if [[ "${1:-}" == --list ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done

if ((${#missing[@]})); then
  install_line="apt-get install -y --no-install-recommends ${missing[*]}"
  if ((EUID != 0)); then
    echo "deps: missing Debian packages; as root run:" >&2
    echo "  apt-get update && $install_line" >&2
    exit 2
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { echo "deps: apt-get install failed; run it yourself to see why: $install_line" >&2; exit 1; }
fi

# Go: PATH first, then where the official tarball installs it.
go_binary="$(command -v go || true)"
[[ -n "$go_binary" ]] || { [[ -x /usr/local/go/bin/go ]] && go_binary=/usr/local/go/bin/go; }
if [[ -z "$go_binary" ]]; then
  echo "deps: Go >= 1.26 is needed (it builds etcd, kube-apiserver, kubectl and helm for the tests); none on PATH or at /usr/local/go" >&2
  exit 2
fi
go_version="$("$go_binary" env GOVERSION)"  # go1.26.8
go_minor="${go_version#go1.}"
go_minor="${go_minor%%.*}"
if [[ ! "$go_minor" =~ ^[0-9]+$ ]] || ((go_minor < 26)); then
  echo "deps: Go >= 1.26 is needed, $go_binary is $go_version" >&2
  exit 2
fi
