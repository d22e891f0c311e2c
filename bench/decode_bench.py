"""Stage-1 cost per image: decode + pixel hash (``decode_image``) and metadata (``extract_metadata``).

Measures 1024 x 768 synthetic files in the layouts SEM software writes (8-bit grey with one strip
per row, a Zeiss-style palette, 16-bit, LZW-compressed, JPEG) and, when ``SEMINGEST_SHARED`` is
set, every real file of the shared corpus. Figures are medians over ``repetitions`` runs, in
milliseconds per image, on one core. ``python bench/decode_bench.py [--output FILE]`` prints /
writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO / "worker") not in sys.path:
    sys.path.insert(0, str(_REPO / "worker"))


def _synthetic_files(folder: Path) -> dict[str, Path]:
    import tifffile
    from PIL import Image

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (768, 1024), dtype=np.uint8)
    files = {
        "grey8_strip_per_row.tif": lambda p: tifffile.imwrite(p, grey, rowsperstrip=1),
        "grey8_lzw.tif": lambda p: Image.fromarray(grey).save(p, compression="tiff_lzw"),
        "grey16.tif": lambda p: tifffile.imwrite(p, grey.astype(np.uint16) * 257),
        "palette.tif": lambda p: _palette(grey).save(p),
        "rgb.jpg": lambda p: Image.fromarray(np.stack([grey] * 3, axis=-1)).save(p, quality=90),
    }
    out = {}
    for name, write in files.items():
        write(folder / name)
        out[name] = folder / name
    return out


def _palette(grey: np.ndarray):
    from PIL import Image

    im = Image.fromarray(grey).convert("P")
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    return im


def _median_ms(fn, repetitions: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def measure_stage1(repetitions: int = 20) -> dict[str, Any]:
    from semingest_worker.imageio import decode_image
    from semingest_worker.metadata import extract_metadata, find_sidecars
    from semingest_worker.records import ImageFile

    results: dict[str, Any] = {"unit": "ms per image (median)", "repetitions": repetitions, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        files = {f"synthetic/{k}": v for k, v in _synthetic_files(Path(tmp)).items()}
        corpus = Path(os.environ.get("SEMINGEST_SHARED", "/nonexistent")) / "sem-corpus"
        if corpus.is_dir():
            for path in sorted(corpus.iterdir()):
                if path.suffix.lower() in (".tif", ".jpg", ".png", ".bmp"):
                    files[f"corpus/{path.name}"] = path
        for label, path in files.items():
            image = decode_image(path)
            st = path.stat()
            record = ImageFile(str(path), st.st_size, st.st_mtime_ns, find_sidecars(str(path)))
            results["files"][label] = {
                "size": f"{image.width}x{image.height} {image.mode}",
                "decode_and_hash_ms": _median_ms(lambda p=path: decode_image(p), repetitions),
                "metadata_ms": _median_ms(lambda i=image, r=record: extract_metadata(i, r), repetitions),
                "vendor": extract_metadata(image, record).instrument.vendor,
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="write the JSON here as well")
    parser.add_argument("--repetitions", type=int, default=20)
    args = parser.parse_args(argv)
    result = measure_stage1(args.repetitions)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
