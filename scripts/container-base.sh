#!/usr/bin/env bash
# Local base images for the Dockerfile, for machines without registry access.
#
#   scripts/container-base.sh runtime   localhost/switchboard-base:bookworm
#       Debian 12 minbase from debootstrap (deb.debian.org, or $DEBIAN_MIRROR):
#       stands in for debian:bookworm-slim (RUNTIME_IMAGE).
#   scripts/container-base.sh build     localhost/switchboard-swift:bookworm
#       the runtime base plus the host's Swift toolchain ($SWIFT_DIR, default
#       /opt/swift) and what it needs to link: stands in for
#       swift:6.3-bookworm (BUILD_IMAGE). Large (the toolchain is ~3 GB).
#
# Needs root, debootstrap and buildah. Images already present are kept
# (FORCE=1 rebuilds). Prints the image name on stdout.
set -euo pipefail

kind="${1:-runtime}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
swift_dir="${SWIFT_DIR:-/opt/swift}"
runtime_image="localhost/switchboard-base:bookworm"
build_image="localhost/switchboard-swift:bookworm"

need() { command -v "$1" >/dev/null 2>&1 || { echo "container-base: $1 is not installed" >&2; exit 69; }; }
need buildah
[ "$(id -u)" -eq 0 ] || { echo "container-base: run as root (debootstrap, buildah mount)" >&2; exit 77; }

exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# Working containers and the scratch root file system are removed however the
# script ends (a failed step included); `commit --rm` has removed them on success.
containers=()
rootfs=""
cleanup() {
  for c in "${containers[@]+"${containers[@]}"}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  [ -z "$rootfs" ] || rm -rf "$rootfs"
}
trap cleanup EXIT

make_runtime() {
  if exists "$runtime_image" && [ -z "${FORCE:-}" ]; then echo "$runtime_image"; return; fi
  need debootstrap
  local root
  root="$(mktemp -d /var/tmp/sb-rootfs.XXXXXX)"
  rootfs="$root"
  echo "container-base: debootstrap bookworm from $mirror" >&2
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >&2
  # What debian:bookworm-slim leaves out.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/* \
         "$root"/usr/share/info/* "$root"/var/log/*.log
  local c mnt
  c="$(buildah from scratch)"
  containers+=("$c")
  mnt="$(buildah mount "$c")"
  cp -a "$root"/. "$mnt"/
  buildah umount "$c" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash \
                 --label org.opencontainers.image.description="Debian 12 minbase (debootstrap) for Switchboard" "$c"
  buildah commit --rm "$c" "$runtime_image" >&2
  echo "$runtime_image"
}

make_build() {
  if exists "$build_image" && [ -z "${FORCE:-}" ]; then echo "$build_image"; return; fi
  [ -x "$swift_dir/usr/bin/swift" ] || { echo "container-base: no Swift toolchain at $swift_dir" >&2; exit 69; }
  make_runtime >/dev/null
  local c mnt
  c="$(buildah from "$runtime_image")"
  containers+=("$c")
  # The toolchain's own dependencies (swift.org's bookworm image list).
  buildah run --isolation chroot "$c" -- sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3.11 libsqlite3-0 \
      libstdc++-12-dev libxml2-dev libncurses-dev libz3-dev pkg-config tzdata zlib1g-dev >/dev/null \
      && rm -rf /var/lib/apt/lists/*' >&2
  mnt="$(buildah mount "$c")"
  mkdir -p "$mnt/opt"
  cp -a "$swift_dir" "$mnt/opt/swift"
  buildah umount "$c" >/dev/null
  buildah config --env PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  buildah commit --rm "$c" "$build_image" >&2
  echo "$build_image"
}

case "$kind" in
  runtime) make_runtime ;;
  build) make_build ;;
  *) echo "usage: $0 runtime|build" >&2; exit 64 ;;
esac
