"""Calibration for image tools: a Fiji/ImageJ CSV and an OMERO key-value CSV.

* ``fiji-csv``: ``path,pixel_width,pixel_height,unit`` with the believed pixel size in nm (the
  height is the metadata's pixel height where it states one, else the width: square pixels),
  one line per image that has a pixel size. A Fiji macro
  reads it and calls ``run("Properties...", "unit=nm pixel_width=W pixel_height=H")`` per image.
* ``omero-csv``: the shape ``omero metadata populate`` takes: the first column ``Image Name``
  (the file name, matched within the target Dataset), then one column per key; with
  ``--context bulkmap`` the columns become each image's key-value pairs.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import IO, Any

from .values import csv_value

FIJI_UNIT = "nm"
FIJI_HEADER = ("path", "pixel_width", "pixel_height", "unit")

# key -> image row column (imagequery.image_select): the pairs an OMERO user sees on the image.
OMERO_KEYS: tuple[tuple[str, str], ...] = (
    ("Path", "path"),
    ("SHA-256 (pixels)", "image_hash"),
    ("Vendor", "vendor"),
    ("Instrument", "instrument"),
    ("Detector", "detector"),
    ("Acquired (UTC)", "acquired_at"),
    ("Pixel size (nm)", "pixel_size_nm"),
    ("Pixel size source", "pixel_size_source"),
    ("Metadata pixel size (nm)", "metadata_pixel_size_nm"),
    ("Scale-bar pixel size (nm)", "ocr_pixel_size_nm"),
    ("Pixel size agreement", "pixel_size_agreement"),
    ("Accelerating voltage (kV)", "accelerating_voltage_kv"),
    ("Working distance (mm)", "working_distance_mm"),
    ("Magnification", "magnification"),
    ("Scale bar", "scale_bar_text"),
    ("Category", "category"),
    ("Duplicates", "duplicates"),
)


def write_fiji_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Images with a pixel size only; returns the number of lines written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIJI_HEADER)
    count = 0
    for row in rows:
        nm = row.get("pixel_size_nm")
        if nm is None:
            continue
        writer.writerow([row["path"], csv_value(nm), csv_value(row.get("pixel_height_nm")), FIJI_UNIT])
        count += 1
    return count


def write_omero_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Image Name", *(key for key, _ in OMERO_KEYS)])
    count = 0
    for row in rows:
        writer.writerow([os.path.basename(row["path"]), *(csv_value(row.get(col)) for _, col in OMERO_KEYS)])
        count += 1
    return count
