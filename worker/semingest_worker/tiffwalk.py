"""A bounded walk over a TIFF's structure, before any decoder touches it.

Pillow and tifffile trust a TIFF's declarations: a tag may declare a gigabyte of data (read in
full from a sparse file that costs a few kilobytes of disk), and counting 200,000 pages takes
minutes. ``walk_tiff`` reads only the IFD entry tables, with fixed bounds, and returns the page
count (up to ``max_pages``) and the largest payload any tag of the first page declares, so the
caller can refuse a file before a decoder allocates for it. Classic TIFF and BigTIFF, both byte
orders; IFD loops end the walk.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

MAX_PAGES_COUNTED = 10_000
# TIFF field types -> bytes per value (unknown types count as 1 byte, as the spec says to skip them).
_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}


class TiffStructureError(ValueError):
    """The IFD structure cannot be walked (truncated or pointing outside the file)."""


@dataclass(frozen=True)
class TiffStructure:
    pages: int  # IFDs in the main chain, at most ``max_pages``
    pages_capped: bool  # True when the chain goes on past ``max_pages``
    largest_tag: int  # tag number of the first page's largest declared payload
    largest_payload: int  # its size in bytes (count x type size)


def walk_tiff(fp: BinaryIO, size: int, *, max_pages: int = MAX_PAGES_COUNTED) -> TiffStructure:
    """Walk the IFD chain of the TIFF in ``fp`` (``size`` bytes long); see the module docstring."""
    fp.seek(0)
    head = fp.read(16)
    if len(head) < 8:
        raise TiffStructureError("header ends early")
    order = "<" if head[:2] == b"II" else ">"
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 43:
        if len(head) < 16:
            raise TiffStructureError("BigTIFF header ends early")
        entry_fmt, count_fmt, next_fmt, entry_size, count_size = "HHQQ", "Q", "Q", 20, 8
        offset = struct.unpack(order + "Q", head[8:16])[0]
    else:
        entry_fmt, count_fmt, next_fmt, entry_size, count_size = "HHII", "H", "I", 12, 2
        offset = struct.unpack(order + "I", head[4:8])[0]
    next_size = struct.calcsize(next_fmt)
    seen: set[int] = set()
    pages = 0
    largest_tag = largest = 0
    while offset and pages < max_pages:
        if offset in seen:
            break  # an IFD loop: what was counted is the chain
        seen.add(offset)
        if offset + count_size > size:
            if pages == 0:
                raise TiffStructureError(
                    f"first IFD at byte {offset} is past the end of the file ({size} bytes)"
                )
            break  # a broken chain after page 1: count what is readable
        fp.seek(offset)
        n = struct.unpack(order + count_fmt, fp.read(count_size))[0]
        table_end = offset + count_size + n * entry_size
        if table_end + next_size > size:
            if pages == 0:
                raise TiffStructureError(f"first IFD declares {n} entries, more than the file holds")
            break
        table = fp.read(n * entry_size + next_size)
        if pages == 0:
            for i in range(n):
                tag, ftype, count, _ = struct.unpack_from(order + entry_fmt, table, i * entry_size)
                payload = count * _TYPE_SIZES.get(ftype, 1)
                if payload > largest:
                    largest_tag, largest = tag, payload
        pages += 1
        offset = struct.unpack_from(order + next_fmt, table, n * entry_size)[0]
    capped = bool(offset) and pages >= max_pages and offset not in seen
    return TiffStructure(pages=pages, pages_capped=capped, largest_tag=largest_tag, largest_payload=largest)
