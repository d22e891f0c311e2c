"""Hostile inputs, made on the spot: the files an attacker or a careless instrument PC would leave.

Each function writes one file (or special file) and returns its path. They are small on disk
(sparse files, minimal IFDs) so the tests that use them are fast, but each declares something
that used to hang, exhaust memory or merge different images (issue 13).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import tifffile


def fifo(path: Path) -> Path:
    """A named pipe: ``open()`` without O_NONBLOCK blocks until a writer appears (forever)."""
    os.mkfifo(path)
    return path


def many_samples_tiff(path: Path, samples: int = 8000, side: int = 300) -> Path:
    """A small, well-formed TIFF whose pixels have ``samples`` samples each (a memory bomb)."""
    header = _classic_tiff_ifd(
        [
            (256, 4, 1, side),  # ImageWidth
            (257, 4, 1, side),  # ImageLength
            (258, 3, 1, 8),  # BitsPerSample (one value is legal for all samples)
            (259, 3, 1, 1),  # uncompressed
            (262, 3, 1, 1),  # BlackIsZero
            (273, 4, 1, 0),  # StripOffsets, patched below
            (277, 3, 1, samples),  # SamplesPerPixel
            (278, 4, 1, side),  # RowsPerStrip
            (279, 4, 1, side * side * samples),  # StripByteCounts
            (284, 3, 1, 1),  # chunky
        ]
    )
    _write_sparse(path, header, total=len(header) + 1024)
    return path


def huge_tag_tiff(path: Path, payload: int = 1 << 30) -> Path:
    """A sparse file (kilobytes on disk) of ``payload`` bytes whose one tag declares them all."""
    data_offset = 4096
    header = _classic_tiff_ifd(
        [
            (256, 4, 1, 16),
            (257, 4, 1, 16),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (270, 2, payload, data_offset),  # ImageDescription: a gigabyte of ASCII
            (273, 4, 1, data_offset),
            (277, 3, 1, 1),
            (278, 4, 1, 16),
            (279, 4, 1, 256),
        ]
    )
    _write_sparse(path, header, total=data_offset + payload)
    return path


def many_pages_tiff(path: Path, pages: int = 200_000) -> Path:
    """A valid 1x1 8-bit TIFF with ``pages`` IFDs (counting them used to take minutes)."""
    entries = 8
    ifd_size = 2 + entries * 12 + 4
    first = 8
    pixel_at = first + pages * ifd_size
    chunks = [b"II*\x00" + struct.pack("<I", first)]
    for i in range(pages):
        nxt = first + (i + 1) * ifd_size if i + 1 < pages else 0
        table = struct.pack("<H", entries)
        for tag, ftype, count, value in (
            (256, 4, 1, 1),
            (257, 4, 1, 1),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (273, 4, 1, pixel_at),
            (278, 4, 1, 1),
            (279, 4, 1, 1),
        ):
            table += struct.pack("<HHII", tag, ftype, count, value)
        chunks.append(table + struct.pack("<I", nxt))
    chunks.append(b"\x80")
    path.write_bytes(b"".join(chunks))
    return path


def float64_pair(directory: Path) -> tuple[Path, Path]:
    """Two float64 images that differ only below float32 precision (must not share a hash)."""
    base = np.linspace(1.0, 2.0, 64 * 48, dtype=np.float64).reshape(48, 64)
    other = base.copy()
    other[10, 10] = np.nextafter(other[10, 10], 3.0)  # one ulp of float64: invisible in float32
    a, b = directory / "f64_a.tif", directory / "f64_b.tif"
    tifffile.imwrite(a, base)
    tifffile.imwrite(b, other)
    return a, b


def uint64_pair(directory: Path) -> tuple[Path, Path]:
    """Two uint64 images beyond int32 that float32 cannot tell apart."""
    base = np.full((32, 32), 2**40, dtype=np.uint64)
    other = base.copy()
    other[0, 0] += 1
    a, b = directory / "u64_a.tif", directory / "u64_b.tif"
    tifffile.imwrite(a, base)
    tifffile.imwrite(b, other)
    return a, b


def complex_pair(directory: Path) -> tuple[Path, Path]:
    """Two complex images with the same real part (the imaginary part used to be dropped)."""
    real = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    a, b = directory / "c_a.tif", directory / "c_b.tif"
    tifffile.imwrite(a, (real + 1j).astype(np.complex64))
    tifffile.imwrite(b, (real + 2j).astype(np.complex64))
    return a, b


def _classic_tiff_ifd(entries: list[tuple[int, int, int, int]]) -> bytes:
    """Little-endian header + one IFD at byte 8 (entries sorted by tag); the strip follows it."""
    entries = sorted(entries)
    ifd = struct.pack("<H", len(entries))
    end = 8 + 2 + len(entries) * 12 + 4
    for tag, ftype, count, value in entries:
        if tag == 273 and value == 0:
            value = end
        ifd += struct.pack("<HHII", tag, ftype, count, value)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


def _write_sparse(path: Path, head: bytes, total: int) -> None:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(total)


def huge_metadata_tiff(path: Path, value_bytes: int = 20_000_000) -> Path:
    """A small image whose ImageDescription holds ``value_bytes`` of text."""
    tifffile.imwrite(path, np.full((32, 32), 1, np.uint8), description="x" * value_bytes)
    return path


def many_private_tags_tiff(path: Path, tags: int = 5000, size: int = 4096) -> Path:
    """A small image with ``tags`` private ASCII tags of ``size`` bytes each (20 MB of metadata)."""
    extratags = [(40000 + i, "s", 0, chr(65 + i % 26) * (size - 1), False) for i in range(tags)]
    tifffile.imwrite(path, np.full((32, 32), 2, np.uint8), extratags=extratags)
    return path
