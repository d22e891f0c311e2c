"""Print the requirements of the project's base dependencies plus the given extras, one per line.

Used by the Dockerfiles to install the dependencies in their own, cacheable layer before the
source is copied:
``python requirements_from_pyproject.py pyproject.toml constraints.txt worker > requirements.txt``.
On aarch64, where TensorFlow publishes no ``tensorflow-cpu`` wheels, the ``tensorflow`` wheel
(CPU-only there) replaces it at the version pinned for ``tensorflow-cpu`` in constraints.txt.
"""

from __future__ import annotations

import platform
import re
import sys
import tomllib
from pathlib import Path


def _pinned(constraints: Path, name: str) -> str | None:
    wanted = re.sub(r"[-_.]+", "-", name).lower()
    for line in constraints.read_text().splitlines():
        req, _, version = line.partition("==")
        if re.sub(r"[-_.]+", "-", req.strip()).lower() == wanted:
            return version.strip()
    return None


def requirements(pyproject: Path, constraints: Path, extras: list[str], machine: str) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    out = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r} (has: {', '.join(optional)})")
        out.extend(optional[extra])
    if machine in ("aarch64", "arm64"):
        version = _pinned(constraints, "tensorflow-cpu")
        out = [
            (f"tensorflow=={version}" if version else "tensorflow")
            if re.match(r"tensorflow[-_]cpu\b", req)
            else req
            for req in out
        ]
    return out


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit("usage: requirements_from_pyproject.py PYPROJECT CONSTRAINTS EXTRA...")
    print("\n".join(requirements(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:], platform.machine())))
