"""Typed records passed between the pipeline's stages (and from the executors to the database).

Each stage module produces one of these; the pipeline assembles an ``ImageResult`` per file and
the database stage writes it. Everything here is plain data: picklable for Spark, no behaviour
beyond small derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from . import identity


@dataclass(frozen=True)
class ImageFile:
    """A file found on the driver: what decides whether it was ingested already.

    Its identity in the database (``path_key``, ``display_path``, ``sidecar_stamp``; see
    ``identity``) is computed once, here, when discovery lists it on the driver; the executors
    get it with the file and the database rows use it as is.
    """

    path: str
    size: int
    mtime_ns: int
    sidecars: tuple[str, ...] = ()  # same-stem .txt etc. found beside it (JEOL, Hitachi)
    problem: str | None = None  # why it must not be opened (a FIFO, a dangling link...), see discovery
    path_key: str = field(init=False, compare=False)
    display_path: str = field(init=False, compare=False)
    sidecar_stamp: str | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_key", identity.path_key(self.path))
        object.__setattr__(self, "display_path", identity.display_path(self.path))
        object.__setattr__(self, "sidecar_stamp", identity.sidecar_stamp(self.sidecars))


class FieldKind(StrEnum):
    """How an instrument field is typed, checked and stored."""

    TEXT = "text"
    FLOAT = "float"
    INT = "int"
    DATETIME = "datetime"
    JSON = "json"


@dataclass(frozen=True)
class FieldSpec:
    """What the metadata stage and the database need to know about one ``InstrumentMeta`` field.

    ``from_vendor``: a vendor reader's mapping table may fill it (the others are the reading's
    own bookkeeping: vendor, source, raw, provenance). ``plausible``: the inclusive range in
    ``unit``; a value outside it is "absurd metadata" (dropped, with a problem).
    """

    kind: FieldKind
    label: str
    unit: str | None = None
    plausible: tuple[float, float] | None = None
    max_chars: int | None = None  # TEXT: the column's length (None: unbounded)
    comment: str | None = None  # the database column's comment
    from_vendor: bool = True


def _spec(spec: FieldSpec, default: Any = None) -> Any:
    if spec.kind is FieldKind.JSON:
        return field(default_factory=dict, metadata={"spec": spec})
    return field(default=default, metadata={"spec": spec})


_TEXT, _FLOAT, _INT = FieldKind.TEXT, FieldKind.FLOAT, FieldKind.INT


@dataclass(frozen=True)
class InstrumentMeta:
    """Normalised instrument metadata in SI units; ``None`` where the source has no value.

    The one definition of the instrument fields: the vendor readers' tables, the range checks,
    the ``instrument_meta`` columns and their rows are all derived from these fields and their
    ``FieldSpec`` (see ``INSTRUMENT_FIELDS``). New fields go at the end (new columns are added
    at the end of the table).
    """

    vendor: str | None = _spec(FieldSpec(_TEXT, "vendor", max_chars=32, from_vendor=False))
    model: str | None = _spec(FieldSpec(_TEXT, "model", max_chars=255))
    # The pixel width of the SAVED image (checked against the field of view where stated).
    pixel_size_m: float | None = _spec(FieldSpec(_FLOAT, "pixel size", "m", (1e-12, 1e-2)))
    accelerating_voltage_v: float | None = _spec(FieldSpec(_FLOAT, "accelerating voltage", "V", (0.0, 1e6)))
    working_distance_m: float | None = _spec(FieldSpec(_FLOAT, "working distance", "m", (0.0, 1.0)))
    magnification: float | None = _spec(FieldSpec(_FLOAT, "magnification", "x", (1e-3, 1e8)))
    detector: str | None = _spec(FieldSpec(_TEXT, "detector", max_chars=255))
    acquired_at: datetime | None = _spec(FieldSpec(FieldKind.DATETIME, "acquisition time"))
    # Rows of the data bar below the scan: a hint for the scale-bar stage.
    databar_height_px: int | None = _spec(FieldSpec(_INT, "data bar height", "px", (0.0, 1e5)))
    source: str | None = _spec(
        FieldSpec(
            _TEXT,
            "source",
            max_chars=4096,
            comment="where the values came from: tiff:34118, a sidecar path, ...",
            from_vendor=False,
        )
    )
    raw: dict[str, Any] = _spec(
        FieldSpec(
            FieldKind.JSON, "raw", comment="the full vendor dictionary (JSON object)", from_vendor=False
        )
    )
    # The pixel height of the saved image; equal to pixel_size_m for square pixels.
    pixel_size_y_m: float | None = _spec(FieldSpec(_FLOAT, "pixel height", "m", (1e-12, 1e-2)))
    provenance: dict[str, str] = _spec(
        FieldSpec(
            FieldKind.JSON,
            "provenance",
            comment="field -> the vendor key(s) it was read from and why (JSON object)",
            from_vendor=False,
        )
    )


INSTRUMENT_FIELDS: dict[str, FieldSpec] = {f.name: f.metadata["spec"] for f in fields(InstrumentMeta)}


@dataclass(frozen=True)
class MetadataResult:
    exif: dict[str, Any]  # column name -> typed value, only the tags present (absent = NULL)
    instrument: InstrumentMeta
    # Specific reasons why metadata was rejected (absurd values, undecodable vendor text): the
    # offending values are left NULL, the rest is kept, and the pipeline records the image as failed.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScaleBarGeometry:
    """Where the scale-bar stage looked and what it measured, in pixels of the saved image
    (x to the right, y down; boxes are ``(x0, y0, x1, y1)`` with x1/y1 inclusive).

    Drawn over the thumbnail in the catalogue, so anyone can see why the pixel size is what it is.
    """

    databar_rows: tuple[int, int] | None = None  # (first row, one past the last) of the data bar
    bar_box: tuple[int, int, int, int] | None = None  # the measured bar line (or tick ruler)
    bar_ends: tuple[float, float] | None = None  # x of the two end points the length is measured between
    label_box: tuple[int, int, int, int] | None = None  # the label text that was read


@dataclass(frozen=True)
class ScaleBarReading:
    """What the scale-bar stage found. ``pixel_size_m`` is None with a ``reason`` when not found."""

    label_text: str | None = None  # the OCR text as read, e.g. "200 µm"
    value: float | None = None  # 200.0
    unit: str | None = None  # normalised unit: pm, nm, µm, mm
    bar_px: float | None = None  # length of the bar (or whole ruler) in pixels of the saved image
    bar_px_uncertainty: float | None = None  # standard uncertainty of bar_px (px)
    pixel_size_m: float | None = None
    # which detector matched: zeiss_light, zeiss_black, fei, tescan, jeol, ruler, overlay
    style: str | None = None
    reason: str | None = None  # why nothing was found ("no data bar", "label unreadable: ...")
    # a second witness printed in the data bar (read when metadata and bar do not already agree)
    printed_field: str | None = None  # e.g. "HFW 427 µm", "Pixel Size = 2.233 nm"
    printed_pixel_size_m: float | None = None  # that field's pixel size (field width / image width)
    geometry: ScaleBarGeometry | None = None  # what was found where (None: nothing located)


@dataclass(frozen=True)
class Classification:
    model_id: str
    top1_label: str
    top1_score: float
    scores: dict[str, float]


@dataclass(frozen=True)
class Thumbnail:
    """A small preview of the image (the catalogue shows it; it never opens the image files)."""

    data: bytes  # encoded image
    format: str  # "webp" or "jpeg"
    width: int
    height: int


@dataclass
class ImageResult:
    """Everything the pipeline learnt about one file; the database stage writes it."""

    file: ImageFile
    run_id: str
    status: str  # "ok" or "failed"
    error: str | None = None  # specific reason when failed (or a stage's non-fatal problem)
    image_hash: str | None = None  # hex digest of the decoded pixels (None when decoding failed)
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    format: str | None = None
    page_count: int | None = None
    metadata: MetadataResult | None = None
    scale_bar: ScaleBarReading | None = None
    classification: Classification | None = None
    inference_error: str | None = None  # why the model could not classify this image
    thumbnail: Thumbnail | None = None

    @property
    def vendor(self) -> str | None:
        return self.metadata.instrument.vendor if self.metadata else None
