#!/usr/bin/env bash
# Lays out the root filesystems of the distroless images (relay, operator) and the files of the
# tools image, from built binaries: each binary stripped, plus every shared library it loads (as
# ldd resolves it on this Debian 12 system, at the same path), and a passwd/group naming the
# non-root user 65532. Used the same way by `make images` (binaries from `make`) and by
# docker/build.Dockerfile (binaries built inside Docker), so both paths make identical images.
#
#   docker/stage-images.sh BIN_DIR OUT_DIR
#
# OUT_DIR/relay and OUT_DIR/operator become images FROM scratch; OUT_DIR/tools holds binaries and
# the libraries Debian's slim image lacks, copied over debian:bookworm-slim.
set -euo pipefail

bin_dir="$1"
out_dir="$2"
rm -rf "$out_dir"
mkdir -p "$out_dir"

# copy_with_libraries ROOT BINARY...: each binary into ROOT/usr/local/bin, its libraries (and the
# dynamic loader) into ROOT at their own paths. A library next to the build (libipcmesh) goes to
# the multiarch directory, which the loader searches without a cache.
copy_with_libraries() {
  local root="$1"
  shift
  mkdir -p "$root/usr/local/bin" "$root/usr/lib/x86_64-linux-gnu"
  local binary library
  for binary in "$@"; do
    [[ -x "$bin_dir/$binary" ]] || { echo "stage-images: $bin_dir/$binary is missing (run make)" >&2; exit 1; }
    strip --strip-unneeded -o "$root/usr/local/bin/$binary" "$bin_dir/$binary"
    while read -r library; do
      case "$library" in
        /lib/* | /lib64/* | /usr/lib/*)
          mkdir -p "$root$(dirname "$library")"
          [[ -e "$root$library" ]] || cp -L "$library" "$root$library" ;;
        *)
          strip --strip-unneeded -o "$root/usr/lib/x86_64-linux-gnu/$(basename "$library")" \
            "$library" ;;
      esac
    done < <(ldd "$bin_dir/$binary" | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}')
  done
}

# Debian's /lib is a symlink to /usr/lib; the copies go where ldd named them, so give the image the
# same merged layout.
move_into_usr() {
  local root="$1" dir
  for dir in lib lib64; do
    [[ -d "$root/$dir" ]] || continue
    mkdir -p "$root/usr/$dir"
    cp -a "$root/$dir/." "$root/usr/$dir/"
    rm -rf "${root:?}/$dir"
  done
}
merge_usr() {
  move_into_usr "$1"
  ln -s usr/lib "$1/lib"
  ln -s usr/lib64 "$1/lib64"
}

write_users() {
  local root="$1"
  mkdir -p "$root/etc"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
}

distroless() {  # distroless NAME BINARY...
  local root="$out_dir/$1"
  shift
  copy_with_libraries "$root" "$@"
  merge_usr "$root"
  write_users "$root"
  mkdir -p "$root/tmp"
  chmod 1777 "$root/tmp"
}

distroless relay ipcmesh-relay
distroless operator ipcmesh-operator

# The tools image is debian:bookworm-slim (a shell for kubectl exec) plus our binaries and the
# libraries slim lacks; glibc, libstdc++ and libgcc come from the base, never from here.
tools="$out_dir/tools"
copy_with_libraries "$tools" ipcmeshctl ipcmesh-example-pubsub \
  ipcmesh-example-legacy-mq-sender ipcmesh-example-legacy-mq-receiver
move_into_usr "$tools"  # the base image already links /lib to /usr/lib
# kubectl's plugin name for ipcmeshctl: `kubectl ipcmesh ...` where kubectl is on PATH.
ln -sf ipcmeshctl "$tools/usr/local/bin/kubectl-ipcmesh"
find "$tools/usr/lib/x86_64-linux-gnu" -name 'libc.so*' -o -name 'libm.so*' -o -name 'libstdc++*' \
  -o -name 'libgcc_s*' -o -name 'ld-linux*' | xargs -r rm -f
du -sh "$out_dir"/* | sed 's/^/stage-images: /'
