#!/usr/bin/env bash
# Build the pinned control plane (etcd, kube-apiserver, kube-controller-manager) into $1
# (default .tools/bin of the project). Go's build cache makes a rebuild a quick no-op
# link; a binary is only replaced when its build output changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/../../.tools/bin}" && cd "${1:-$here/../../.tools/bin}" && pwd)
cd "$here"
command -v go >/dev/null || { echo "control-plane: Go (>= 1.24) is needed: https://go.dev/dl" >&2; exit 1; }

k8s=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)     # e.g. v1.34.4
etcd=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
minor=${k8s#v1.}; minor=${minor%%.*}
# Stamp the release into the binaries the way upstream's hack/lib/version.sh does, so the
# API server reports v1.34.x (helm's kubeVersion checks and kubectl's skew check read it).
ver=k8s.io/component-base/version
ldk="-s -w -X $ver.gitVersion=$k8s -X $ver.gitMajor=1 -X $ver.gitMinor=$minor -X $ver.gitTreeState=clean -X $ver.buildDate=1970-01-01T00:00:00Z"
ldk="$ldk -X k8s.io/client-go/pkg/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly

build() {  # name, package, ldflags
  local tmp="$out/.$1.new"
  echo "control-plane: building $1 ($2)" >&2
  nice -n 10 go build -trimpath -ldflags "$3" -o "$tmp" "$2"
  if cmp -s "$tmp" "$out/$1"; then rm -f "$tmp"; else mv -f "$tmp" "$out/$1"; fi
}
build etcd go.etcd.io/etcd/server/v3 "-s -w"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldk"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ldk"
echo "control-plane: kubernetes $k8s, etcd $etcd in $out" >&2
