"""CPU per image of the scale-bar stage alone (issue 19: it may grow by at most 30 %).

Decodes every image under DIR (``semingest generate`` output) once, then times
``read_scale_bars`` over compute batches of 32 images (as the pipeline batches them), counting
this process's CPU time plus that of its children (Tesseract). The label cache is cleared before
each repeat, so every label is really read. Prints one JSON object: the median over the repeats
of the CPU seconds per image.

    python bench/scalebar_cpu.py DIR [--repeats 5] [--batch 32] [--no-metadata]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument(
        "--no-metadata", action="store_true", help="read as exports without vendor metadata (no hints)"
    )
    args = ap.parse_args(argv)

    from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
    from semingest_worker.imageio import decode_image
    from semingest_worker.metadata import extract_metadata
    from semingest_worker.scalebar import ScaleBarInput, ocr, read_scale_bars

    inputs = []
    for f in list_images(args.dir, DEFAULT_INCLUDE).files:
        image = decode_image(f.path)
        ins = extract_metadata(image, f).instrument
        extra = {"metadata_pixel_size_m": ins.pixel_size_m}  # as the pipeline passes it (when known)
        if "metadata_pixel_size_m" not in ScaleBarInput.__dataclass_fields__:
            extra = {}  # an older reader (the "before" of a comparison)
        if args.no_metadata:
            inputs.append(ScaleBarInput(image.gray()))
        else:
            inputs.append(ScaleBarInput(image.gray(), ins.vendor, ins.databar_height_px, **extra))
    per_image, wall = [], []
    read = 0
    for _ in range(args.repeats):
        ocr.LABEL_CACHE.clear()
        c0, t0 = _cpu(), time.perf_counter()
        readings = []
        for start in range(0, len(inputs), args.batch):
            readings += read_scale_bars(inputs[start : start + args.batch])
        per_image.append((_cpu() - c0) / len(inputs))
        wall.append((time.perf_counter() - t0) / len(inputs))
        read = sum(r.pixel_size_m is not None for r in readings)
    print(
        json.dumps(
            {
                "images": len(inputs),
                "with_pixel_size": read,
                "cpu_seconds_per_image_median": statistics.median(per_image),
                "cpu_seconds_per_image": per_image,
                "wall_seconds_per_image_median": statistics.median(wall),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
