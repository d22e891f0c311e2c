"""The benchmark's image set: generated once per (count, seed) into a cache folder, then reused.

The project's own generator (``semingest_worker.synth.generate_corpus``) writes synthetic
1024x768 SEM images with Zeiss- and FEI-style data bars and planted duplicates. The folder is
complete only when its ``corpus.json`` (the generator's ground truth) exists: generation writes
into a temporary sibling folder and renames it, so an interrupted run never leaves a half corpus
that a later run would reuse.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_SIZE = (1024, 768)
STYLES = ("zeiss", "fei")
DUPLICATE_FRACTION = 0.05
MANIFEST = "corpus.json"


@dataclass(frozen=True)
class Corpus:
    root: Path  # the folder to ingest (holds only images and corpus.json)
    count: int
    seed: int
    generated_seconds: float | None  # None when reused from the cache
    truth: list[dict[str, Any]]  # one JSON-safe record per generated file

    @property
    def image_paths(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file() and p.name != MANIFEST)


def ensure_corpus(cache_root: Path, count: int, seed: int) -> Corpus:
    """The cached corpus ``cache_root/<count>-<seed>/``; generated first when absent."""
    root = cache_root / f"{count}-{seed}"
    manifest = root / MANIFEST
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return Corpus(root, count, seed, None, data["images"])

    from semingest_worker.synth import generate_corpus

    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = cache_root / f".{count}-{seed}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    images = generate_corpus(
        tmp,
        count,
        seed=seed,
        size=IMAGE_SIZE,
        styles=STYLES,
        duplicate_fraction=DUPLICATE_FRACTION,
    )
    seconds = time.perf_counter() - t0
    truth = [_json_safe(_relative(_record(im), tmp)) for im in images]
    (tmp / MANIFEST).write_text(
        json.dumps({"count": count, "seed": seed, "size": IMAGE_SIZE, "styles": STYLES, "images": truth}),
        encoding="utf-8",
    )
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return Corpus(root, count, seed, seconds, truth)


def truth_pixel_sizes(corpus: Corpus) -> dict[str, float]:
    """Path relative to the corpus root -> the generator's exact pixel size (m)."""
    out = {}
    for rec in corpus.truth:
        if rec.get("path") and rec.get("pixel_size_m"):
            out[rec["path"]] = float(rec["pixel_size_m"])
    return out


def _relative(record: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths in the record relative to the corpus folder (which is renamed after generation)."""
    out = dict(record)
    for key in ("path", "duplicate_of"):
        value = out.get(key)
        if value:
            try:
                out[key] = Path(value).resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                out[key] = str(value)
    return out


def _record(image: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(image) and not isinstance(image, type):
        return dataclasses.asdict(image)
    if hasattr(image, "_asdict"):
        return image._asdict()
    return dict(vars(image))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
