#!/usr/bin/env bash
# Build the local stand-ins for the two base images of Dockerfile and docker-compose.yml
# (python:3.11-slim and postgres:16) on a machine that reaches no image registry, with podman.
# They are stand-ins, not the official images: Debian 12's python3.11 (3.11.2) and PostgreSQL 15
# behind the official images' names, with the postgres image's environment contract
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, the data volume at /var/lib/postgresql/data,
# pg_isready). An image that exists already is kept: delete it (podman rmi NAME) to rebuild.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE=localhost/debian:bookworm
PYTHON=docker.io/library/python:3.11-slim
POSTGRES=docker.io/library/postgres:16

if ! podman image exists "$BASE"; then
  rootfs="$(mktemp -d /tmp/headrace-bookworm-XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  echo "debootstrap bookworm (minbase) -> $BASE"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/tmp/headrace-debootstrap.log 2>&1 \
    || { tail -20 /tmp/headrace-debootstrap.log; exit 1; }
  # Slim like the official images: no package lists or docs left behind.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["bash"]' - "$BASE" >/dev/null
fi

build() {  # build NAME CONTAINERFILE: unless NAME exists
  if ! podman image exists "$1"; then
    echo "building the stand-in $1"
    podman build --quiet -t "$1" -f "$here/$2" "$here" >/tmp/headrace-standin-build.log 2>&1 \
      || { tail -30 /tmp/headrace-standin-build.log; exit 1; }
  fi
}
build "$PYTHON" python.Containerfile
build "$POSTGRES" postgres.Containerfile
