#!/usr/bin/env bash
# Makes sure the base image the Dockerfiles name (debian:bookworm-slim) is in the local engine.
# Offline (no registry reachable, as on the project's machines) it is made from Debian's own
# packages: mmdebstrap --variant=minbase bookworm -> docker import, tagged exactly as the
# Dockerfiles' base, with the Debian mirrors this machine's apt uses. Runs once; then cached.
#
#   docker/base-image.sh [IMAGE]      (default debian:bookworm-slim)
set -euo pipefail

image="${1:-debian:bookworm-slim}"
docker image inspect "$image" >/dev/null 2>&1 && exit 0

# A registry may be reachable elsewhere; here a pull fails at once.
if timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
  echo "base-image: pulled $image"
  exit 0
fi

command -v mmdebstrap >/dev/null || { echo "base-image: $image cannot be pulled and mmdebstrap is missing (make deps)" >&2; exit 1; }
((EUID == 0)) || { echo "base-image: $image cannot be pulled; making it with mmdebstrap needs root" >&2; exit 1; }

# The mirrors apt already uses (deb822 or one-line sources), else Debian's default.
mirror="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
[[ -n "$mirror" ]] || mirror="http://deb.debian.org/debian"
security="${mirror%/debian}/debian-security"

echo "base-image: $image cannot be pulled; making it with mmdebstrap from $mirror (about a minute)"
started=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Like the official slim image: minbase, no docs, man pages or locales.
mmdebstrap --quiet --variant=minbase \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"
docker import --change 'CMD ["bash"]' "$work/rootfs.tar" "$image" >/dev/null
echo "base-image: made $image in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
