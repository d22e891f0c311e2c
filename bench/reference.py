"""The reference implementation: PyPI ``sem-meta`` 0.1.1, in its own virtual environment.

``ensure_reference_venv`` creates ``build/ref-venv`` with ``python3 -m venv`` and installs
``sem-meta==0.1.1`` there (its own dependencies: opencv-python, matplotlib, pytesseract, ...),
never into the project's venv. Its OCR calls Tesseract with the ``eng+grc`` and ``ell+grc``
language sets; when the ``grc``/``ell`` traineddata are missing, Debian's ``tesseract-ocr-grc``
and ``tesseract-ocr-ell`` are installed when we are root, otherwise the OCR stage is reported as
not run (with the reason) instead of timing a stage that fails at once.

``run_reference`` starts ``bench/reference_runner.py`` inside that venv, pinned to one core
(``taskset -c 0``, and ``OMP_THREAD_LIMIT=1`` for Tesseract's OpenMP), over the same images.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "sem-meta==0.1.1"
OCR_LANGUAGES = ("eng", "grc", "ell")
RUNNER = Path(__file__).with_name("reference_runner.py")
_UNIT_TO_M = {"pm": 1e-12, "nm": 1e-9, "µm": 1e-6, "μm": 1e-6, "um": 1e-6, "mm": 1e-3}


class ReferenceUnavailable(RuntimeError):
    pass


@dataclass
class ReferenceResult:
    images: int
    stages_run: list[str]
    stages_not_run: dict[str, str]  # stage -> why it could not run here
    seconds: dict[str, float]  # stage -> total seconds over the images
    per_image_seconds: dict[str, dict[str, float]]  # stage -> {median, p90, max}
    import_seconds: float
    wall_seconds: float
    errors: dict[str, int]  # stage -> images whose call raised
    ocr_pixel_sizes_m: list[float | None] = field(default_factory=list)  # per image, None = not read
    setup_seconds: float = 0.0
    pinned: str = ""

    @property
    def images_per_second(self) -> float | None:
        total = sum(self.seconds.values())
        return self.images / total if total > 0 else None

    def as_json(self) -> dict[str, Any]:
        ok = sum(1 for v in self.ocr_pixel_sizes_m if v is not None)
        return {
            "package": PACKAGE,
            "images": self.images,
            "stages_run": self.stages_run,
            "stages_not_run": self.stages_not_run,
            "seconds": self.seconds,
            "seconds_per_image": {s: v / self.images for s, v in self.seconds.items()} if self.images else {},
            "per_image_seconds": self.per_image_seconds,
            "images_per_second": self.images_per_second,
            "import_seconds": self.import_seconds,
            "wall_seconds": self.wall_seconds,
            "setup_seconds": self.setup_seconds,
            "errors": self.errors,
            "ocr_pixel_size_read": ok,
            "pinned": self.pinned,
        }


def ensure_reference_venv(venv: Path, log: Path) -> float:
    """Create ``venv`` with the reference installed unless it is there; return seconds spent."""
    python = venv / "bin" / "python"
    t0 = time.perf_counter()
    if python.is_file() and _installed(python):
        return 0.0
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        if not python.is_file():
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True, stdout=out, stderr=out)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", PACKAGE],
            stdout=out,
            stderr=out,
            check=False,
        )
    if proc.returncode != 0 or not _installed(python):
        raise ReferenceUnavailable(f"cannot install {PACKAGE} into {venv} (see {log})")
    return time.perf_counter() - t0


def _installed(python: Path) -> bool:
    code = "import importlib.metadata as m, sys; sys.exit(m.version('sem-meta') != '0.1.1')"
    return subprocess.run([str(python), "-c", code], capture_output=True, check=False).returncode == 0


def missing_ocr_languages() -> list[str]:
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        return list(OCR_LANGUAGES)
    proc = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, check=False)
    have = {line.strip() for line in (proc.stdout + proc.stderr).splitlines()}
    return [lang for lang in OCR_LANGUAGES if lang not in have]


def ensure_ocr_languages(log: Path) -> str | None:
    """Install Debian's traineddata for the reference's languages when missing; None when ready."""
    missing = missing_ocr_languages()
    if not missing:
        return None
    if shutil.which("tesseract") is None:
        return "tesseract is not installed"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"tesseract lacks the {'+'.join(missing)} traineddata the reference needs (tesseract-ocr-{missing[0]})"
    packages = [f"tesseract-ocr-{lang}" for lang in missing]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with open(log, "ab") as out:
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-qq", *packages], stdout=out, stderr=out, env=env, check=False
        )
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], stdout=out, stderr=out, env=env, check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", *packages], stdout=out, stderr=out, env=env, check=False
            )
    still = missing_ocr_languages()
    return (
        None
        if not still
        else f"tesseract lacks the {'+'.join(still)} traineddata (apt-get failed, see {log})"
    )


def run_reference(
    images: list[Path], venv: Path, workdir: Path, *, timeout: float = 7200.0
) -> ReferenceResult:
    """Time the reference's metadata and OCR stages over ``images`` on one core."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "reference-setup.log"
    setup = ensure_reference_venv(venv, log)
    stages = ["metadata"]
    not_run: dict[str, str] = {}
    reason = ensure_ocr_languages(log)
    if reason is None:
        stages.append("ocr")
    else:
        not_run["ocr"] = reason
    listing = workdir / "reference-images.txt"
    listing.write_text("".join(f"{p}\n" for p in images), encoding="utf-8")
    out = workdir / "reference-raw.json"
    cmd = [
        str(venv / "bin" / "python"),
        str(RUNNER),
        "--list",
        str(listing),
        "--out",
        str(out),
        "--workdir",
        str(workdir / "scratch"),
        "--stages",
        ",".join(stages),
    ]
    pinned = ""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "0", *cmd]
        pinned = "taskset -c 0"
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONHASHSEED="0")
    t0 = time.perf_counter()
    with open(workdir / "reference-run.log", "wb") as err:
        proc = subprocess.run(cmd, stdout=err, stderr=err, env=env, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.is_file():
        raise ReferenceUnavailable(
            f"reference runner exited {proc.returncode} (see {workdir / 'reference-run.log'})"
        )
    raw = json.loads(out.read_text(encoding="utf-8"))
    seconds: dict[str, float] = {}
    spread: dict[str, dict[str, float]] = {}
    errors: dict[str, int] = {}
    for stage, rows in raw["stages"].items():
        times = [r["seconds"] for r in rows]
        seconds[stage] = sum(times)
        spread[stage] = _spread(times)
        errors[stage] = sum(1 for r in rows if r.get("error"))
    ocr_sizes = [parse_pixel_size(r.get("pixel_size")) for r in raw["stages"].get("ocr", [])]
    return ReferenceResult(
        images=len(images),
        stages_run=stages,
        stages_not_run=not_run,
        seconds=seconds,
        per_image_seconds=spread,
        import_seconds=float(raw.get("import_seconds", 0.0)),
        wall_seconds=wall,
        errors=errors,
        ocr_pixel_sizes_m=ocr_sizes,
        setup_seconds=setup,
        pinned=pinned,
    )


def parse_pixel_size(text: str | None) -> float | None:
    """The reference's "0.428 µm" (size of one pixel in the label's unit) in metres; None otherwise."""
    if not text:
        return None
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(pm|nm|µm|μm|um|mm)\s*", text)
    if not m:
        return None
    try:
        return float(m.group(1)) * _UNIT_TO_M[m.group(2)]
    except ValueError:
        return None


def _spread(times: list[float]) -> dict[str, float]:
    if not times:
        return {}
    ordered = sorted(times)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "max": ordered[-1],
    }


if __name__ == "__main__":  # handy by hand: python bench/reference.py IMAGE...
    res = run_reference(
        [Path(p) for p in sys.argv[1:]], Path("build/ref-venv"), Path("build/bench-work/reference")
    )
    print(json.dumps(res.as_json(), indent=2))
