#!/usr/bin/env bash
# Builds the three images, tagged with the project's version (never :latest):
#   ipcmesh/relay:V     the sidecar (distroless)
#   ipcmesh/operator:V  controller + webhook (distroless)
#   ipcmesh/tools:V     ipcmeshctl and the examples, on debian:bookworm-slim
#
#   docker/images.sh prebuilt VERSION BIN_DIR STAGE_DIR   package binaries `make` built (make images)
#   docker/images.sh source   VERSION                     build everything inside Docker
#   docker/images.sh save     VERSION OUT_DIR             docker save each image to OUT_DIR/NAME.tar
#
# The base image is made offline when it cannot be pulled (docker/base-image.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
images=(relay operator tools)
mode="${1:-}"
version="${2:-}"
[[ -n "$mode" && -n "$version" ]] || { sed -n '2,11p' "$0" >&2; exit 2; }

command -v docker >/dev/null || { echo "images: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "images: the Docker engine is not running (docker info fails)" >&2; exit 1; }

# build_images BINARIES_IMAGE: the three Dockerfiles, each taking its files from that image.
build_images() {
  local binaries="$1" image
  for image in "${images[@]}"; do
    docker build -q -f "$here/$image.Dockerfile" --build-arg "BINARIES=$binaries" \
      --build-arg "VERSION=$version" -t "ipcmesh/$image:$version" "$here" >/dev/null
  done
  docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^ipcmesh/($(IFS='|'; echo "${images[*]}")):$version " |
    sed 's/^/images: /'
}

started=$SECONDS
case "$mode" in
  prebuilt)
    bin_dir="$3"
    stage_dir="$4"
    "$here/base-image.sh"
    "$here/stage-images.sh" "$bin_dir" "$stage_dir" >/dev/null
    docker build -q -f "$here/binaries.Dockerfile" -t "ipcmesh/binaries:$version" "$stage_dir" >/dev/null
    build_images "ipcmesh/binaries:$version"
    ;;
  source)
    "$here/base-image.sh"
    docker build -f "$here/build.Dockerfile" -t "ipcmesh/build:$version" "$repo"
    build_images "ipcmesh/build:$version"
    ;;
  save)
    out_dir="$3"
    mkdir -p "$out_dir"
    for image in "${images[@]}"; do
      docker save -o "$out_dir/$image.tar" "ipcmesh/$image:$version"
      echo "images: $out_dir/$image.tar"
    done
    ;;
  *) sed -n '2,11p' "$0" >&2; exit 2 ;;
esac
echo "images: $mode done in $((SECONDS - started)) s"
