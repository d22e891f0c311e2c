"""Fixtures of the image tests (``make test-images``): podman, the built images, helpers to run them.

These tests run the images that ``make images`` built (podman, a debootstrapped base; nothing is
pulled). They are not part of ``make test``; when podman or an image is missing they fail with
what to run, never skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "images" / "podman" / "containers.conf"


def _version() -> str:
    m = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert m, "pyproject.toml has no version"
    return m.group(1)


@dataclass(frozen=True)
class Podman:
    """The podman client with the project's containers.conf."""

    binary: str
    env: Mapping[str, str]

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, timeout=timeout, env=dict(self.env)
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args[:3])} ... exited {result.returncode}\n"
                f"--- stdout (tail)\n{result.stdout[-4000:]}\n--- stderr (tail)\n{result.stderr[-6000:]}"
            )
        return result

    def command(self, *args: str) -> list[str]:
        return [self.binary, *args]


@pytest.fixture(scope="session")
def podman() -> Podman:
    binary = shutil.which("podman")
    if binary is None:
        pytest.fail(
            "podman is not installed: `make images` installs Debian's podman, runc and debootstrap "
            "and builds the images these tests run"
        )
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return Podman(binary, env)


def _image(podman: Podman, variable: str, name: str) -> str:
    image = os.environ.get(variable) or f"localhost/semingest-{name}:{_version()}"
    if podman.run("image", "exists", image, check=False).returncode != 0:
        pytest.fail(f"image {image} is missing: run `make images` first (or set {variable})")
    return image


@pytest.fixture(scope="session")
def operator_image(podman: Podman) -> str:
    return _image(podman, "SEMINGEST_OPERATOR_IMAGE", "operator")


@pytest.fixture(scope="session")
def worker_image(podman: Podman) -> str:
    return _image(podman, "SEMINGEST_WORKER_IMAGE", "worker")


@pytest.fixture(scope="session")
def helm() -> Path:
    path = REPO / ".tools" / "bin" / "helm"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make setup` (tools/fetch_helm.py extracts it)")
    return path
