#!/usr/bin/env bash
# Build the semingest container images from the repository root.
#
#   images/build.sh                 # both: semingest-operator:VERSION and semingest-worker:VERSION
#   images/build.sh worker          # only one
#   REGISTRY=registry.example.org/sem PUSH=1 images/build.sh
#
# Environment: REGISTRY (prefix for the image names), TAG (default: the version in pyproject.toml),
# PUSH=1 (push after building), DOCKER (the client: docker by default, podman works too),
# BUILD_ARGS (extra arguments for `build`, e.g. "--platform linux/amd64").
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER="${DOCKER:-docker}"
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
  echo ">>> building $image"
  # shellcheck disable=SC2086 # BUILD_ARGS is a list of words on purpose
  "$DOCKER" build ${BUILD_ARGS:-} -f "images/${name}/Dockerfile" -t "$image" .
  if [ "${PUSH:-0}" = 1 ]; then
    "$DOCKER" push "$image"
  fi
  built+=("$image")
done
printf 'built: %s\n' "${built[@]}"
