#!/usr/bin/env bash
# Builds the local node's pause (sandbox) image from pause.c: a static binary, `FROM scratch`,
# run as 65535. Tags it $IMAGE and writes `docker save` of it into the tools cache so a containerd
# can import it (`ctr -n k8s.io images import FILE`); prints nothing new when both are current.
#
#   tests/tools/pause/build-pause-image.sh     (needs gcc and Docker; no registry is reached)
#
# Environment: IPCMESH_TOOLS_CACHE (default ~/.cache/ipcmesh/tools), IPCMESH_PAUSE_IMAGE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${IPCMESH_PAUSE_IMAGE:-ipcmesh/pause:3.10-local}"
cache_root="${IPCMESH_TOOLS_CACHE:-$HOME/.cache/ipcmesh/tools}"
command -v gcc >/dev/null || { echo "build-pause-image: gcc is needed" >&2; exit 1; }
command -v docker >/dev/null || { echo "build-pause-image: docker is needed" >&2; exit 1; }

# Keyed by the sources and the tag, like the Go tools.
pin="$( (cat "$here/pause.c" "$here/Dockerfile"; echo "$image") | sha256sum | cut -c1-12)"
dir="$cache_root/pause-$pin"
tar="$dir/pause.tar"
mkdir -p "$cache_root"
exec 9>"$cache_root/.pause.lock"
flock 9

if [[ -f "$tar" ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-pause-image: $image cached in $tar"
  exit 0
fi

started=$SECONDS
context="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$context" "$log"' EXIT
gcc -Os -static -s -Wall -Wextra -Werror -o "$context/pause" "$here/pause.c"
cp "$here/Dockerfile" "$context/"
# Docker 20.10 builds with its classic builder (no buildx here); never --pull: no registry is reached.
# Its "legacy builder is deprecated" notice is noise: show the output only when the build fails.
docker build -q -t "$image" "$context" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
mkdir -p "$dir.partial"
docker save -o "$dir.partial/pause.tar" "$image"
rm -rf "$dir" && mv "$dir.partial" "$dir"
ln -sfn "$dir/pause.tar" "$cache_root/pause.tar"
echo "build-pause-image: built $image ($(stat -c %s "$context/pause") byte binary) -> $tar in $((SECONDS - started)) s"
