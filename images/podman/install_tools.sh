#!/usr/bin/env bash
# Install what `make images` needs from Debian when it is missing: podman (with buildah's build
# engine inside), runc (crun fails on a hybrid cgroup v1/v2 layout), buildah and debootstrap.
set -euo pipefail
missing=()
for tool in podman runc buildah debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_tools.sh: ${missing[*]} missing and no apt-get here: install them with your package manager" >&2
  exit 2
fi
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)
echo ">>> installing Debian's ${missing[*]}"
# Another apt run (a parallel setup step) may hold the lock: wait for it rather than fail.
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
# With the recommended packages (the CNI network plugins, iptables, slirp4netns, catatonit).
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
  podman runc buildah debootstrap uidmap fuse-overlayfs >/dev/null
