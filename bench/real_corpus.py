"""A benchmark corpus from the real SEM files of ``$SEMINGEST_SHARED/sem-corpus``.

Each real image is copied ``copies`` times with a few pixels changed, so every copy has its own
pixel hash (no copy is a duplicate of another) while its vendor metadata, sidecar, data bar and
scale bar stay those of a real instrument:

* uncompressed TIFF (all of the corpus's TIFFs): the file's bytes are copied unchanged except ONE
  byte of the first strip (the top image row), XOR 1 at a position that differs per copy: every
  tag, the byte order and the strip layout are the original's;
* JPEG and PNG: decoded, one pixel of the top row changed, saved again (JPEG at quality 95 with the
  original's EXIF; PNG lossless): the decode cost is a real camera-sized JPEG/PNG's.

Sidecars (JEOL ``.txt``) are copied beside their image under the copy's name. The copies go to
``<cache>/real-<copies>/`` and are reused when complete. The files stay outside the repository.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".tif", ".tiff", ".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class RealCorpus:
    root: Path
    count: int
    originals: int
    copies: int


def sources(shared: Path) -> list[Path]:
    folder = shared / "sem-corpus"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist (set SEMINGEST_SHARED to the shared folder)")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def ensure_real_corpus(cache: Path, shared: Path, target: int = 1000) -> RealCorpus:
    """About ``target`` files: each real image copied ``ceil(target / originals)`` times."""
    originals = sources(shared)
    if not originals:
        raise FileNotFoundError(f"no images in {shared / 'sem-corpus'}")
    copies = max(1, -(-target // len(originals)))
    root = cache / f"real-{copies}"
    done = root / ".complete"
    if done.is_file():
        return RealCorpus(root, len(originals) * copies, len(originals), copies)
    if root.exists():
        shutil.rmtree(root)
    for original in originals:
        sidecar = original.with_suffix(".txt")
        for k in range(copies):
            folder = root / f"batch{k // 10:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            target_path = folder / f"{original.stem}__{k:03d}{original.suffix}"
            changed_copy(original, target_path, k)
            if sidecar.is_file():
                shutil.copyfile(sidecar, target_path.with_suffix(".txt"))
    done.write_text(f"{len(originals)} originals x {copies} copies\n", encoding="utf-8")
    return RealCorpus(root, len(originals) * copies, len(originals), copies)


def changed_copy(source: Path, target: Path, k: int) -> None:
    """``source`` copied to ``target`` with pixel ``k`` of the top row changed (see the module)."""
    from PIL import Image

    with Image.open(source) as im:
        fmt = im.format
        if fmt == "TIFF":
            compression = im.tag_v2.get(259, 1)
            offsets = im.tag_v2.get(273)
            counts = im.tag_v2.get(279)
            if compression == 1 and offsets and counts:
                data = bytearray(source.read_bytes())
                first, length = int(offsets[0]), int(counts[0])
                position = first + (k % max(1, length))
                data[position] ^= 0x01
                target.write_bytes(bytes(data))
                os.utime(target)
                return
        image = im.copy()
        exif = im.info.get("exif")
    x = k % image.width
    pixel = image.getpixel((x, 0))
    if isinstance(pixel, tuple):
        image.putpixel((x, 0), tuple((v ^ 0x08) for v in pixel))
    else:
        image.putpixel((x, 0), pixel ^ 0x08)
    if fmt == "JPEG":
        image.save(target, "JPEG", quality=95, **({"exif": exif} if exif else {}))
    elif fmt == "PNG":
        image.save(target, "PNG")
    else:
        raise ValueError(f"{source}: compressed {fmt} is not handled by the real-corpus builder")
