"""Times the reference implementation (PyPI ``sem-meta`` 0.1.1) over a list of images.

Runs INSIDE the reference's own virtual environment (``bench/reference.py`` creates it and starts
this script there, pinned to one core); it imports only the standard library and ``sem_meta``.

It drives the package's real entry points, in the order its classes are meant to be chained:

* metadata: ``SEMMeta.ImageMetadata(PIL image)`` -> ``CheckInsTag`` -> ``SEMEXIF`` ->
  ``GetExifMetadata`` -> ``ExifMetaDict`` -> ``GetInsMetadata`` -> ``InsMetaDict`` ->
  ``FullMetaData(..., FullSEMKeys)`` (the full per-image record the package builds);
* ocr: ``OCRPS.RunOCR(path)`` (finds the info bar, matches the scale-bar contour against its
  reference shape, OCRs the label with Tesseract ``eng+grc`` and, for noisy reads, ``ell+grc``
  with its own user patterns, and returns the pixel size as "<value> <unit>").

The package writes intermediate JPEGs into the current directory, so this script changes into a
scratch directory first. Its many ``print`` calls go to /dev/null (they are not part of the work
being timed in a fair sense, but they are cheap and are left in place as the package does them).

Output (``--out``): JSON with per-image seconds and results for each stage, and import seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import traceback


def _metadata(sem_meta, path: str) -> dict:
    from PIL import Image

    meta = sem_meta.SEMMeta
    with Image.open(path) as img:
        _, tags = meta.ImageMetadata(img)
        is_sem = meta.CheckInsTag(meta.semtags, tags)
        exif_keys, exif_number = meta.SEMEXIF
        found, missing = meta.GetExifMetadata(img, exif_keys, exif_number)
        exif = meta.ExifMetaDict(found, missing)
        instrument = meta.InsMetaDict(meta.GetInsMetadata)
        full = meta.FullMetaData({**exif, **instrument}, sem_meta.FullSEMKeys)
    present = sum(1 for v in full.values() if v is not None)
    return {"sem_tags": bool(is_sem), "instrument_keys": len(instrument), "fields_present": present}


def _ocr(sem_meta, path: str) -> dict:
    pixel_size, _ = sem_meta.OCRPS.RunOCR(path)
    return {"pixel_size": pixel_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", required=True, help="file with one image path per line")
    ap.add_argument("--out", required=True, help="JSON output path")
    ap.add_argument("--workdir", required=True, help="scratch directory for the package's JPEGs")
    ap.add_argument("--stages", default="metadata,ocr")
    args = ap.parse_args(argv)

    with open(args.list, encoding="utf-8") as fh:
        paths = [os.path.abspath(line.rstrip("\n")) for line in fh if line.strip()]
    out_path = os.path.abspath(args.out)
    stages = [s for s in args.stages.split(",") if s]
    os.makedirs(args.workdir, exist_ok=True)
    os.chdir(args.workdir)

    t0 = time.perf_counter()
    import sem_meta  # noqa: PLC0415 - timed on purpose

    import_seconds = time.perf_counter() - t0
    runners = {"metadata": _metadata, "ocr": _ocr}
    per_stage: dict[str, list[dict]] = {s: [] for s in stages}
    sink = io.StringIO()
    for path in paths:
        for stage in stages:
            t = time.perf_counter()
            error = None
            result: dict = {}
            try:
                with contextlib.redirect_stdout(sink):
                    result = runners[stage](sem_meta, path)
            except Exception as exc:  # noqa: BLE001 - recorded per image, not faked
                error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(limit=2, file=sys.stderr)
            seconds = time.perf_counter() - t
            per_stage[stage].append({"path": path, "seconds": seconds, "error": error, **result})
            sink.seek(0)
            sink.truncate()

    out = {
        "package": "sem-meta",
        "version": getattr(sem_meta, "__version__", None) or _dist_version(),
        "python": sys.version.split()[0],
        "import_seconds": import_seconds,
        "images": len(paths),
        "stages": per_stage,
    }
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(out, fh)
    return 0


def _dist_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("sem-meta")
    except Exception:  # noqa: BLE001
        return None


if __name__ == "__main__":
    sys.exit(main())
