"""The images' sizes: kept under a bound, and written to build/images/sizes.json with what dominates
(the biggest layers and, for each image, the biggest installed Python packages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "build" / "images" / "sizes.json"
MB = 10**6
# Measured on the debootstrapped base (152 MB): operator 227 MB, worker 2.81 GB (TensorFlow 1.25 GB,
# PySpark's jars 0.48 GB, pyarrow 0.16 GB, OpenJDK 17 0.19 GB). The bounds leave room for patch
# releases only: a new heavy dependency has to move them deliberately.
LIMITS = {"operator": 320 * MB, "worker": 3200 * MB}


def _sizes(podman, image: str) -> dict:
    size = int(podman.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    layers = json.loads(podman.run("history", "--format", "json", image).stdout)
    biggest = sorted(layers, key=lambda layer: layer["size"], reverse=True)[:4]
    packages = podman.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "du -s -k /usr/local/lib/python3.11/site-packages/* | sort -rn | head -n 6",
        timeout=120,
    ).stdout.split("\n")
    return {
        "image": image,
        "bytes": size,
        "biggest_layers": [{"bytes": layer["size"], "step": layer["CreatedBy"][:160]} for layer in biggest],
        "biggest_python_packages": [
            {"kilobytes": int(kb), "path": path}
            for kb, path in (line.split("\t", 1) for line in packages if "\t" in line)
        ],
    }


@pytest.fixture(scope="module")
def report():
    data: dict = {}
    yield data
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
    REPORT.write_text(json.dumps({**previous, **data}, indent=2) + "\n")


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_image_size_is_bounded_and_reported(name, podman, request, report):
    image = request.getfixturevalue(f"{name}_image")
    sizes = _sizes(podman, image)
    report[name] = sizes
    assert sizes["bytes"] <= LIMITS[name], json.dumps(sizes, indent=2)
