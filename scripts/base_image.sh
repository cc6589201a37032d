#!/usr/bin/env bash
# A Debian 12 (bookworm) base image for the Dockerfile, built locally with debootstrap: for
# machines that cannot pull debian:bookworm-slim from a registry (the test suite's case).
#   scripts/base_image.sh [TAG]      (default TAG: containerz-base:bookworm)
# DOCKER_HOST selects the engine. The root filesystem is cached as a tarball under
# /var/tmp/containerz-tools, so only the first run on a machine takes long (about a minute).
set -euo pipefail

say() { printf '[base-image] %s\n' "$*" >&2; }

TAG="${1:-containerz-base:bookworm}"
CACHE="/var/tmp/containerz-tools/bookworm-minbase.tar"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG is already in the engine"
  exit 0
fi
if [ ! -f "$CACHE" ]; then
  command -v debootstrap >/dev/null 2>&1 || {
    say "installing Debian's debootstrap"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  }
  # The mirror apt already uses on this machine.
  MIRROR="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
  ROOTFS="$(mktemp -d /var/tmp/containerz-rootfs.XXXXXX)"
  trap 'rm -rf "$ROOTFS"' EXIT
  say "debootstrap bookworm (minbase, with python3) from $MIRROR into $ROOTFS"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" "$MIRROR" >&2
  mkdir -p "$(dirname "$CACHE")"
  tar -C "$ROOTFS" -c . >"$CACHE.part"
  mv "$CACHE.part" "$CACHE"
fi
say "importing $CACHE as $TAG"
docker import "$CACHE" "$TAG" >/dev/null
