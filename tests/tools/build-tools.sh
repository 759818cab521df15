#!/usr/bin/env bash
# Builds the upstream tools the cluster tier and the demo need (etcd, kube-apiserver,
# kube-controller-manager, kubectl, helm) and what a local kubelet node needs (kubelet,
# kube-scheduler, kube-proxy, containerd with its runc shim and ctr, crictl) from their published Go modules,
# into a cache outside the work tree keyed by version, the pinned go.mod/go.sum, the ldflags and
# build tags, and links them into $OUT_BIN. A cached build is reused; nothing here is ever committed.
#
#   tests/tools/build-tools.sh [OUT_BIN [TOOL...]]   (default: build/tools/bin, every tool)
#
# TOOL is etcd, kube-apiserver, kube-controller-manager, kubectl, helm, kubelet, kube-scheduler,
# kube-proxy, containerd (containerd, containerd-shim-runc-v2 and ctr) or crictl.
# kind is built only when named (make tools-kind): it is in no default list.
#
# Environment: IPCMESH_TOOLS_CACHE (default ~/.cache/ipcmesh/tools), GOFLAGS is respected.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_bin="${1:-build/tools/bin}"
shift || true
wanted=("$@")
((${#wanted[@]})) || wanted=(etcd kube-apiserver kube-controller-manager kubectl helm
  kubelet kube-scheduler kube-proxy containerd crictl)
is_wanted() { [[ " ${wanted[*]} " == *" $1 "* ]]; }
cache_root="${IPCMESH_TOOLS_CACHE:-$HOME/.cache/ipcmesh/tools}"
mkdir -p "$out_bin" "$cache_root"
out_bin="$(cd "$out_bin" && pwd)"

if ! command -v go >/dev/null; then
  PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null || { echo "build-tools: go is not installed (needed to build the test control plane)" >&2; exit 1; }

export CGO_ENABLED=0
# One builder at a time per cache: a second caller waits, then finds the tools cached.
exec 9>"$cache_root/.lock"
flock 9
build_date="2026-01-01T00:00:00Z"  # fixed, so a rebuild of the same pin is byte-identical

# version_ldflags PACKAGE VERSION: the variables Kubernetes' hack/lib/version.sh sets.
version_ldflags() {
  local package="$1" version="$2" major minor
  major="${version#v}"; major="${major%%.*}"
  minor="${version#v*.}"; minor="${minor%%.*}"
  printf -- '-X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=%s -X %s.gitCommit=%s ' \
    "$package" "$version" "$package" "$major" "$package" "$minor" "$package" "$package" "$build_date" \
    "$package" "module-$version"  # no git checkout: name the published module version instead
}

module_version() {  # module_version WRAPPER_DIR MODULE
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

# build_tool WRAPPER PACKAGE BINARY VERSION LDFLAGS [TAGS]
build_tool() {
  local wrapper="$here/$1" package="$2" binary="$3" version="$4" ldflags="$5" tags="${6:-}"
  local pin
  # Build tags join the key only when there are some, so the keys of untagged tools never change.
  pin="$( (cat "$wrapper/go.mod" "$wrapper/go.sum"; echo "$ldflags"; [[ -z "$tags" ]] || echo "tags $tags") |
    sha256sum | cut -c1-12)"
  local dir="$cache_root/$binary-$version-$pin"
  if [[ ! -x "$dir/$binary" ]]; then
    echo "build-tools: building $binary $version (cold builds take minutes on 2 cores)..."
    local started=$SECONDS
    mkdir -p "$dir.partial"
    (cd "$wrapper" && go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$dir.partial/$binary" "$package")
    rm -rf "$dir" && mv "$dir.partial" "$dir"
    echo "build-tools: built $binary $version in $((SECONDS - started)) s -> $dir"
  else
    echo "build-tools: $binary $version cached in $dir"
  fi
  ln -sfn "$dir/$binary" "$out_bin/$binary"
}

started_all=$SECONDS
if is_wanted etcd; then
  etcd_version="$(module_version "$here/etcd" go.etcd.io/etcd/server/v3)"
  build_tool etcd go.etcd.io/etcd/server/v3 etcd "$etcd_version" \
    "-X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd_version"
fi

kube_version="$(module_version "$here/kubernetes" k8s.io/kubernetes)"
kube_ldflags="$(version_ldflags k8s.io/component-base/version "$kube_version")$(version_ldflags k8s.io/client-go/pkg/version "$kube_version")"
for command in kube-apiserver kube-controller-manager kubectl; do
  is_wanted "$command" || continue
  build_tool kubernetes "k8s.io/kubernetes/cmd/$command" "$command" "$kube_version" "$kube_ldflags"
done

# The node's commands: same k8s.io/kubernetes version and replaces, in a wrapper of their own so the
# pin (and cache key) of the commands above stays as it is.
if is_wanted kubelet || is_wanted kube-scheduler || is_wanted kube-proxy; then
  node_version="$(module_version "$here/kubernetes-node" k8s.io/kubernetes)"
  node_ldflags="$(version_ldflags k8s.io/component-base/version "$node_version")$(version_ldflags k8s.io/client-go/pkg/version "$node_version")"
  for command in kubelet kube-scheduler kube-proxy; do
    is_wanted "$command" || continue
    build_tool kubernetes-node "k8s.io/kubernetes/cmd/$command" "$command" "$node_version" "$node_ldflags"
  done
fi

if is_wanted containerd; then
  # The node's CRI runtime: no btrfs, devmapper, zfs or aufs snapshotters (overlayfs is used), no cgo.
  containerd_version="$(module_version "$here/containerd" github.com/containerd/containerd/v2)"
  containerd_ldflags="-X github.com/containerd/containerd/v2/version.Version=$containerd_version"
  containerd_ldflags+=" -X github.com/containerd/containerd/v2/version.Revision=module-$containerd_version"
  for command in containerd containerd-shim-runc-v2 ctr; do
    build_tool containerd "github.com/containerd/containerd/v2/cmd/$command" "$command" "$containerd_version" \
      "$containerd_ldflags" "no_btrfs no_devmapper no_zfs no_aufs"
  done
fi

if is_wanted crictl; then
  crictl_version="$(module_version "$here/cri-tools" sigs.k8s.io/cri-tools)"
  build_tool cri-tools sigs.k8s.io/cri-tools/cmd/crictl crictl "$crictl_version" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version"
fi

if is_wanted kind; then
  # kind's Makefile sets version.gitCommit (shown only for pre-releases); no git checkout here.
  kind_version="$(module_version "$here/kind" sigs.k8s.io/kind)"
  build_tool kind sigs.k8s.io/kind kind "$kind_version" \
    "-buildid= -X sigs.k8s.io/kind/pkg/cmd/kind/version.gitCommit=module-$kind_version"
fi

if is_wanted helm; then
  helm_version="$(module_version "$here/helm" helm.sh/helm/v3)"
  helm_client_go="$(module_version "$here/helm" k8s.io/client-go)"  # v0.MINOR.x -> Kubernetes 1.MINOR
  helm_kube_minor="${helm_client_go#v0.}"; helm_kube_minor="${helm_kube_minor%%.*}"
  helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for package in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $package.k8sVersionMajor=1 -X $package.k8sVersionMinor=$helm_kube_minor"
  done
  build_tool helm helm.sh/helm/v3/cmd/helm helm "$helm_version" "$helm_ldflags"
fi

echo "build-tools: ${wanted[*]} ready in $out_bin ($((SECONDS - started_all)) s)"
