#!/usr/bin/env bash
# The end-to-end suite on a kind (Kubernetes in Docker) cluster; `make e2e-kind` runs up, test and
# down (down always). docs/e2e-kind.md says more.
#
#   tests/e2e/kind.sh up NAME     create kind cluster NAME (tests/e2e/kind-config.yaml: one node whose
#                                 kubelet allows the fs.mqueue.* sysctls), load $BUILD/images-save/*.tar
#                                 (make images-save) into it, write $BUILD/kind/NAME.kubeconfig
#   tests/e2e/kind.sh test NAME [CTEST_ARGS...]
#                                 run tests/e2e/run-suite.sh with KUBECONFIG=$BUILD/kind/NAME.kubeconfig
#   tests/e2e/kind.sh down NAME   delete the cluster and its kubeconfig
#
# Environment:
#   KIND_NODE_IMAGE    node image, e.g. kindest/node:v1.35.8@sha256:...; default: the kind release's
#                      own default (kind v0.33.0: kindest/node:v1.37.0)
#   IPCMESH_TOOLS_BIN  kind, kubectl and helm (default build/tools/bin: make tools-kind tools-cluster)
#   BUILD              the build directory (default build); VERSION and TEST_LOGS go on to run-suite.sh
#
# kind runs each node as a privileged Docker container. Every command first checks that this Docker
# runs privileged containers and, if it refuses them (as on this project's development machine),
# exits 1 saying so: use `make test-e2e` (the local kubelet node) there. Nothing exits 0 unless it ran.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

usage() { sed -n '2,20p' "$0" >&2; exit 2; }
die() { echo "kind.sh: $*" >&2; exit 1; }

command="${1:-}"
name="${2:-}"
shift 2 || shift $#
case "$command" in up | test | down) ;; *) usage ;; esac
[[ -n "$name" && "$name" =~ ^[a-z0-9][a-z0-9.-]*$ ]] ||
  { echo "kind.sh: NAME must be a lowercase cluster name, got '${name}'" >&2; usage; }

build="${BUILD:-build}"
[[ "$build" == /* ]] || build="$repo/$build"
tools_bin="${IPCMESH_TOOLS_BIN:-$build/tools/bin}"
[[ -d "$tools_bin" ]] && tools_bin="$(cd "$tools_bin" && pwd)"
kubeconfig="$build/kind/$name.kubeconfig"
config="$here/kind-config.yaml"

kind_binary() {
  if [[ -x "$tools_bin/kind" ]]; then
    echo "$tools_bin/kind"
  elif command -v kind >/dev/null; then
    command -v kind
  else
    die "no kind in $tools_bin or on PATH (make tools-kind builds it)"
  fi
}

# A privileged root container from an image that is already here (nothing is pulled): the node image if
# present, else the project's tools image, else any local image that can run `true`.
check_privileged() {
  command -v docker >/dev/null || die "docker is not installed (kind runs its nodes as Docker containers)"
  docker info >/dev/null 2>&1 || die "the Docker engine is not running (docker info fails)"
  local candidates=() image error
  if [[ -n "${KIND_NODE_IMAGE:-}" ]] && docker image inspect "$KIND_NODE_IMAGE" >/dev/null 2>&1; then
    candidates+=("$KIND_NODE_IMAGE")
  fi
  mapfile -t -O "${#candidates[@]}" candidates < <(
    docker image ls --format '{{.Repository}}:{{.Tag}}' | awk 'NF && !/<none>/' | sort |
      awk '/^ipcmesh\/tools:/ {print; next} {rest[++n] = $0} END {for (i = 1; i <= n; i++) print rest[i]}')
  ((${#candidates[@]})) ||
    die "no local Docker image to check privileged containers with (docker image ls is empty); make images-save builds the project's"
  for image in "${candidates[@]}"; do
    # As root, like kind's nodes: an image's non-root USER gets no capabilities to apply, so a
    # privileged run of it succeeds where kind's fails. An image without `true` says nothing: next.
    docker run --rm --pull never --network none --user 0 --entrypoint true "$image" >/dev/null 2>&1 || continue
    if error="$(docker run --rm --pull never --network none --user 0 --privileged --entrypoint true "$image" 2>&1)"; then
      return 0
    fi
    error="$(echo "$error" | grep -m1 . | sed 's/^docker: Error response from daemon: //')"
    die "kind needs privileged containers, this Docker refuses them (docker run --user 0 --privileged $image: $error); use \`make test-e2e\` (the local kubelet node) instead"
  done
  die "no local Docker image can run \`true\` to check privileged containers with (tried ${candidates[*]})"
}

cluster_exists() { "$kind" get clusters 2>/dev/null | grep -qx "$name"; }

up() {
  local archives=("$build/images-save"/*.tar) archive node="$name-control-plane"
  [[ -e "${archives[0]}" ]] || die "no image archives in $build/images-save (make images-save)"
  local image
  for image in relay operator tools; do
    [[ -f "$build/images-save/$image.tar" ]] || die "$build/images-save/$image.tar is missing (make images-save)"
  done
  cluster_exists && die "a kind cluster named $name exists already (tests/e2e/kind.sh down $name deletes it)"
  mkdir -p "$(dirname "$kubeconfig")"
  echo "kind.sh: creating cluster $name (node image: ${KIND_NODE_IMAGE:-the default of $("$kind" version)})"
  local image_flag=()
  [[ -z "${KIND_NODE_IMAGE:-}" ]] || image_flag=(--image "$KIND_NODE_IMAGE")
  "$kind" create cluster --name "$name" --config "$config" --kubeconfig "$kubeconfig" --wait 5m \
    "${image_flag[@]}"
  for archive in "${archives[@]}"; do
    echo "kind.sh: loading $(basename "$archive")"
    "$kind" load image-archive --name "$name" "$archive"
  done
  # What the suite relies on, checked on the node itself: the images and the kubelet's sysctls.
  local listed
  listed="$(docker exec "$node" crictl images)"
  for image in relay operator tools; do
    grep -qE "^[^ ]*ipcmesh/$image " <<<"$listed" || die "ipcmesh/$image is not on node $node after kind load"
  done
  docker exec "$node" grep -A2 '^allowedUnsafeSysctls:' /var/lib/kubelet/config.yaml | grep -q 'fs\.mqueue\.\*' ||
    die "the kubelet on $node does not allow fs.mqueue.* (the kubeadmConfigPatches of $config did not apply)"
  echo "kind.sh: cluster $name is up; KUBECONFIG=$kubeconfig"
}

run_tests() {
  [[ -f "$kubeconfig" ]] || die "no kubeconfig $kubeconfig (tests/e2e/kind.sh up $name first)"
  cluster_exists || die "no kind cluster named $name (tests/e2e/kind.sh up $name first)"
  [[ -x "$here/run-suite.sh" ]] || die "tests/e2e/run-suite.sh is missing or not executable"
  KUBECONFIG="$kubeconfig" IPCMESH_TOOLS_BIN="$tools_bin" BUILD="$build" "$here/run-suite.sh" "$@"
}

down() {
  "$kind" delete cluster --name "$name" --kubeconfig "$kubeconfig"
  rm -f "$kubeconfig"
}

check_privileged
kind="$(kind_binary)"
case "$command" in
  up) up ;;
  test) run_tests "$@" ;;
  down) down ;;
esac
