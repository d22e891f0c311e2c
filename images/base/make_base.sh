#!/usr/bin/env bash
# Make the Python base image locally when no container registry can be reached: a Debian
# bookworm root file system from the host's own Debian mirror (debootstrap), Python 3.11 laid
# out like the official python:3.11-slim-bookworm image (python3, python and pip in
# /usr/local/bin, packages in /usr/local/lib/python3.11/site-packages: /usr/local is a virtual
# environment over Debian's python3.11), imported with `podman import`.
#
#   images/base/make_base.sh IMAGE        # e.g. localhost/semingest-python:3.11-bookworm
#
# Environment: DOCKER (podman), DEBIAN_MIRROR (default: the host's apt sources, see
# images/registry_config.py), WORK (scratch directory, default build/images/base).
# Runs as root (debootstrap). Does nothing when IMAGE already exists (FORCE=1 rebuilds).
set -euo pipefail
cd "$(dirname "$0")/../.."

image="${1:?usage: make_base.sh IMAGE}"
DOCKER="${DOCKER:-podman}"
WORK="${WORK:-build/images/base}"
release=bookworm

if [ "${FORCE:-0}" != 1 ] && "$DOCKER" image exists "$image" 2>/dev/null; then
  echo ">>> base image $image exists (FORCE=1 rebuilds it)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "make_base.sh: debootstrap needs root (run as root or with sudo)" >&2
  exit 2
fi

regdir="$WORK/registry"
python3 images/registry_config.py "$regdir"
if [ ! -s "$regdir/mirror" ]; then
  echo "make_base.sh: no Debian bookworm mirror in this machine's apt sources: set DEBIAN_MIRROR" >&2
  exit 2
fi
mirror="$(cat "$regdir/mirror")"
root="$WORK/rootfs"
rm -rf "$root"
mkdir -p "$root"

echo ">>> debootstrap $release from $mirror into $root"
# debootstrap downloads with wget: the host's apt proxy (if any) becomes http_proxy.
apt_proxy="$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n 1)"
if [ -n "$apt_proxy" ] && [ -z "${http_proxy:-}" ]; then
  export http_proxy="$apt_proxy"
fi
debootstrap --variant=minbase --components=main \
  --include=python3,python3-venv,ca-certificates,netbase,tzdata \
  "$release" "$root" "$mirror"

# Slim the way the official -slim images do, for this and for every later package.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
cp images/base/dpkg-slim.cfg "$root/etc/dpkg/dpkg.cfg.d/semingest-slim"
cp images/base/apt-slim.conf "$root/etc/apt/apt.conf.d/semingest-slim"
rm -f "$root/etc/apt/sources.list"
cp "$regdir/debian.sources" "$root/etc/apt/sources.list.d/debian.sources"

# /usr/local as a virtual environment: `pip install` works without --break-system-packages and
# never touches Debian's python3 packages; python/python3/pip are in /usr/local/bin.
chroot "$root" /usr/bin/python3 -m venv /usr/local
chroot "$root" /usr/local/bin/python -c 'import ensurepip, pip, ssl, sqlite3, venv'

rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,info,groff,lintian,linda}/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +

echo ">>> podman import -> $image"
tar --numeric-owner -C "$root" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$image"
rm -rf "$root"
"$DOCKER" run --rm "$image" python -c 'import sys; print("base:", sys.version.split()[0], sys.prefix)'
