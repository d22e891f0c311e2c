"""``semingest show PATH|HASH``: everything the database knows about one image.

The image is found by its pixel hash (64 hex digits, or an unambiguous prefix of at least 8), or
by a file path (as given, and as an absolute path): all its copies (``image_files``), the image
row in human units (``imagequery``), the vendor metadata, the EXIF tags that are set, the
scale-bar reading with its uncertainty, every classification and the runs that wrote it.

The scale-bar pixel size is the label's value divided by the bar's length in pixels; the bar's
ends are located to about one pixel, so its relative uncertainty is about ``1 / scale_bar_px``
(given as ``ocr_relative_uncertainty``; the label's digits are taken as exact).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..database import imagequery, schema
from ..identity import display_path, path_key
from .values import json_row, parse_json

_HASH = re.compile(r"[0-9a-f]{8,64}")
_HIDDEN = frozenset({"image_hash"})


class NotIngestedError(LookupError):
    """The path or hash is not in the database."""


@dataclass(frozen=True)
class ImageRecord:
    """What ``show`` prints (``as_json`` for ``--json``)."""

    query: str
    files: list[dict[str, Any]]  # every copy (image_files rows); a failed file alone has no image
    image: dict[str, Any] | None
    vendor_metadata: Any
    exif: dict[str, Any]
    scale_bar: dict[str, Any] | None
    classifications: list[dict[str, Any]]
    runs: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "image": json_row(self.image) if self.image else None,
            "files": [json_row(f) for f in self.files],
            "vendor_metadata": self.vendor_metadata,
            "exif": json_row(self.exif),
            "scale_bar": json_row(self.scale_bar) if self.scale_bar else None,
            "classifications": [json_row(c) for c in self.classifications],
            "runs": [json_row(r) for r in self.runs],
        }


def find(conn: sa.Connection, query: str) -> ImageRecord:
    """The record of the image ``query`` names (a hash, a hash prefix or a path)."""
    f = schema.image_files
    image_hash: str | None = None
    files: list[dict[str, Any]] = []
    if _HASH.fullmatch(query.lower()):
        image_hash = _hash_from_prefix(conn, query.lower())
    if image_hash is None:
        keys = {path_key(query), path_key(os.path.abspath(query))}
        row = conn.execute(sa.select(f).where(f.c.path_key.in_(sorted(keys)))).mappings().first()
        if row is None:
            shown = display_path(query)
            row = conn.execute(sa.select(f).where(f.c.path == shown)).mappings().first()
        if row is None:
            raise NotIngestedError(
                f"{display_path(query)} is not ingested (no file or image hash matches it)"
            )
        image_hash = row["image_hash"]
        if image_hash is None:  # a file that could not be decoded: it is its own whole story
            files = [dict(row)]
    if image_hash is not None:
        files = [
            dict(r)
            for r in conn.execute(
                sa.select(f).where(f.c.image_hash == image_hash).order_by(f.c.path)
            ).mappings()
        ]
    image = _image_row(conn, image_hash) if image_hash else None
    vendor = parse_json(image.pop("vendor_metadata", None)) if image else None
    return ImageRecord(
        query=query,
        files=files,
        image=image,
        vendor_metadata=vendor,
        exif=_exif(conn, image_hash) if image_hash else {},
        scale_bar=_scale_bar(conn, image_hash) if image_hash else None,
        classifications=_classifications(conn, image_hash) if image_hash else [],
        runs=_runs(conn, {r["run_id"] for r in files} | ({image["run_id"]} if image else set())),
    )


def _hash_from_prefix(conn: sa.Connection, prefix: str) -> str | None:
    im = schema.images
    hits = [
        h
        for (h,) in conn.execute(
            sa.select(im.c.image_hash).where(im.c.image_hash.startswith(prefix)).limit(2)
        )
    ]
    if len(hits) > 1:
        raise NotIngestedError(f"{prefix} matches several images: give more digits")
    return hits[0] if hits else None


def _image_row(conn: sa.Connection, image_hash: str) -> dict[str, Any] | None:
    stmt = imagequery.image_select(vendor_metadata=True).where(schema.images.c.image_hash == image_hash)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def _exif(conn: sa.Connection, image_hash: str) -> dict[str, Any]:
    t = schema.exif_meta
    row = conn.execute(sa.select(t).where(t.c.image_hash == image_hash)).mappings().first()
    if row is None:
        return {}
    return {k: v for k, v in row.items() if v is not None and k not in _HIDDEN}


def _scale_bar(conn: sa.Connection, image_hash: str) -> dict[str, Any] | None:
    t = schema.pixel_size
    row = conn.execute(sa.select(t).where(t.c.image_hash == image_hash)).mappings().first()
    if row is None:
        return None
    out = {k: v for k, v in row.items() if k not in _HIDDEN}
    bar_px = out.get("scale_bar_px")
    if out.get("ocr_pixel_size_m") is not None and bar_px:
        out["ocr_relative_uncertainty"] = 1.0 / bar_px
    return out


def _classifications(conn: sa.Connection, image_hash: str) -> list[dict[str, Any]]:
    t = schema.inference
    rows = conn.execute(sa.select(t).where(t.c.image_hash == image_hash).order_by(t.c.model_id)).mappings()
    return [
        {k: (parse_json(v) if k == "scores" else v) for k, v in r.items() if k not in _HIDDEN} for r in rows
    ]


def _runs(conn: sa.Connection, run_ids: set[str]) -> list[dict[str, Any]]:
    if not run_ids:
        return []
    r = schema.ingest_runs
    stmt = (
        sa.select(r.c.id, r.c.source, r.c.started_at, r.c.status, r.c.model_id, r.c.semingest_version)
        .where(r.c.id.in_(sorted(run_ids)))
        .order_by(r.c.started_at)
    )
    return [dict(row) for row in conn.execute(stmt).mappings()]


# -- the readable layout ----------------------------------------------------------------------------
def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    return f"{text} {unit}".rstrip()


def format_record(record: ImageRecord) -> str:
    lines: list[str] = []
    image = record.image
    if image is None:
        f = record.files[0]
        lines += [
            f"{f['path']}",
            f"  not decodable: status {f['status']}: {f['error'] or '-'}",
            f"  size {f['size']} bytes, run {f['run_id']}, ingested {f['ingested_at']}",
        ]
        return "\n".join(lines)
    lines += [
        f"{image['path']}",
        f"  image      {image['image_hash']}  {image['width']}x{image['height']} {image['format']} {image['mode']}"
        f"  status {image['status']}",
    ]
    if image.get("error"):
        lines.append(f"  problems   {image['error']}")
    lines += [
        f"  instrument {_fmt(image['vendor'])} {_fmt(image['instrument'])}, detector {_fmt(image['detector'])}",
        f"  acquired   {_fmt(image['acquired_at'])} UTC",
        f"  beam       {_fmt(image['accelerating_voltage_kv'], 'kV')}, working distance "
        f"{_fmt(image['working_distance_mm'], 'mm')}, magnification {_fmt(image['magnification'])}",
        f"  pixel size {_fmt(image['pixel_size_nm'], 'nm')} (from {_fmt(image['pixel_size_source'])}; "
        f"metadata {_fmt(image['metadata_pixel_size_nm'], 'nm')}, scale bar {_fmt(image['ocr_pixel_size_nm'], 'nm')}: "
        f"{image['pixel_size_agreement']})",
    ]
    bar = record.scale_bar
    if bar is not None:
        if bar.get("ocr_pixel_size_m") is not None:
            unc = bar.get("ocr_relative_uncertainty")
            uncertainty = (
                f"uncertainty ±{unc * 100:.2g}% (±1 px)" if unc is not None else "uncertainty unknown"
            )
            lines.append(
                f"  scale bar  {bar['scale_bar_text']!r} over {_fmt(bar['scale_bar_px'], 'px')} ({bar['style']}), "
                f"{uncertainty}"
            )
        else:
            lines.append(f"  scale bar  not read: {bar.get('reason') or '-'}")
    for c in record.classifications:
        label = (
            f"{c['top1_label']} ({c['top1_score']:.3f})"
            if c.get("top1_label")
            else f"error: {c.get('error')}"
        )
        lines.append(f"  category   {label}  model {c['model_id']}")
    lines.append(f"  copies     {len(record.files)} file(s), {image['duplicates']} duplicate(s):")
    for f in record.files:
        mark = "*" if f["path"] == image["path"] else " "
        lines.append(f"   {mark} {f['path']}  ({f['size']} bytes, {f['status']}, run {f['run_id']})")
    lines.append(
        f"  provenance semingest {_fmt(image['semingest_version'])}, readers: metadata {_fmt(image['metadata_reader'])}, "
        f"scalebar {_fmt(image['scalebar_reader'])}, inference {_fmt(image['inference_reader'])}"
    )
    for r in record.runs:
        lines.append(
            f"  run        {r['id']}  {r['status']}  started {r['started_at']}  source {r['source']}"
        )
    if record.vendor_metadata:
        lines.append(f"  vendor metadata: {len(record.vendor_metadata)} keys (--json shows them)")
    if record.exif:
        lines.append(f"  EXIF/TIFF tags: {', '.join(sorted(k for k in record.exif if k not in _PROVENANCE))}")
    return "\n".join(lines)


_PROVENANCE = frozenset({"semingest_version", "reader_version"})
