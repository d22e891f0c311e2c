#!/usr/bin/env bash
# Build the semingest container images from the repository root.
#
#   images/build.sh                 # both: semingest-operator:VERSION and semingest-worker:VERSION
#   images/build.sh worker          # only one
#   REGISTRY=registry.example.org/sem PUSH=1 images/build.sh
#   DOCKER=podman PYTHON_IMAGE=localhost/semingest-python:3.11-bookworm images/build.sh
#                                   # what `make images` runs (a base made by images/base/make_base.sh)
#
# Environment: REGISTRY (prefix for the image names), TAG (default: the version in pyproject.toml),
# PUSH=1 (push after building), DOCKER (the client: docker when installed, else podman),
# PYTHON_IMAGE (the Python base image; default: the official one named in the Dockerfiles),
# REGISTRY_CONFIG=none (do not hand this machine's pip/apt settings to the build, see
# images/registry_config.py), BUILD_ARGS (extra arguments for `build`, e.g. "--platform linux/amd64").
# With podman, images/podman/containers.conf applies (CONTAINERS_CONF) unless CONTAINERS_CONF is set.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DOCKER:-}" ]; then
  DOCKER=docker
  command -v docker >/dev/null 2>&1 || DOCKER=podman
fi
if [ "$(basename "$DOCKER")" = podman ]; then
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/images/podman/containers.conf}"
fi
TAG="${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)}"
PREFIX="${REGISTRY:+${REGISTRY%/}/}"
IMAGES=("$@")
if [ ${#IMAGES[@]} -eq 0 ]; then
  IMAGES=(operator worker)
fi

if ! command -v "$DOCKER" >/dev/null 2>&1; then
  echo "images/build.sh: no '$DOCKER' command here: install Docker (or set DOCKER=podman). Nothing was built." >&2
  exit 2
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "images/build.sh: '$DOCKER info' failed: no container engine is reachable (is the Docker daemon running?). Nothing was built." >&2
  exit 2
fi
if [ -z "$TAG" ]; then
  echo "images/build.sh: could not read the version from pyproject.toml; set TAG" >&2
  exit 2
fi

# This machine's package-registry settings, handed in as build secrets (never stored in a layer).
secrets=()
if [ "${REGISTRY_CONFIG:-host}" != none ]; then
  regdir=build/images/registry
  python3 images/registry_config.py "$regdir"
  for file in "$regdir"/*; do
    [ "$(basename "$file")" = mirror ] || secrets+=(--secret "id=$(basename "$file"),src=$file")
  done
fi
base_args=()
if [ -n "${PYTHON_IMAGE:-}" ]; then
  base_args=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
fi

built=()
for name in "${IMAGES[@]}"; do
  case "$name" in
    operator | worker) ;;
    *)
      echo "images/build.sh: unknown image '$name' (operator or worker)" >&2
      exit 2
      ;;
  esac
  image="${PREFIX}semingest-${name}:${TAG}"
  echo ">>> building $image${PYTHON_IMAGE:+ on $PYTHON_IMAGE} with $DOCKER"
  start=$SECONDS
  # shellcheck disable=SC2086 # BUILD_ARGS is a list of words on purpose
  "$DOCKER" build ${BUILD_ARGS:-} "${base_args[@]}" "${secrets[@]}" \
    -f "images/${name}/Dockerfile" -t "$image" .
  echo ">>> built $image in $((SECONDS - start)) s"
  if [ "${PUSH:-0}" = 1 ]; then
    "$DOCKER" push "$image"
  fi
  size="$("$DOCKER" image inspect --format '{{.Size}}' "$image")"
  built+=("$image ($((size / 1000000)) MB)")
done
printf 'built: %s\n' "${built[@]}"
