"""Typed records passed between the pipeline's stages (and from the executors to the database).

Each stage module produces one of these; the pipeline assembles an ``ImageResult`` per file and
the database stage writes it. Everything here is plain data: picklable for Spark, no behaviour
beyond small derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STAGES = ("metadata", "scalebar", "inference", "database")


@dataclass(frozen=True)
class ImageFile:
    """A file found on the driver: what decides whether it was ingested already."""

    path: str
    size: int
    mtime_ns: int
    sidecars: tuple[str, ...] = ()  # same-stem .txt etc. found beside it (JEOL, Hitachi)


@dataclass(frozen=True)
class InstrumentMeta:
    """Normalised instrument metadata in SI units; ``None`` where the source has no value."""

    vendor: str | None = None  # zeiss, fei, tescan, jeol, hitachi, or None
    model: str | None = None
    pixel_size_m: float | None = None
    accelerating_voltage_v: float | None = None
    working_distance_m: float | None = None
    magnification: float | None = None
    detector: str | None = None
    acquired_at: datetime | None = None
    source: str | None = None  # where the values came from: "tiff:34118", a sidecar path, ...
    databar_height_px: int | None = None  # hint for the scale-bar stage (FEI DatabarHeight)
    raw: dict[str, Any] = field(default_factory=dict)  # the full vendor dictionary (JSON-safe)


@dataclass(frozen=True)
class MetadataResult:
    exif: dict[str, Any]  # column name -> typed value, only the tags present (absent = NULL)
    instrument: InstrumentMeta
    # Specific reasons why metadata was rejected (absurd values, undecodable vendor text): the
    # offending values are left NULL, the rest is kept, and the pipeline records the image as failed.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScaleBarReading:
    """What the scale-bar stage found. ``pixel_size_m`` is None with a ``reason`` when not found."""

    label_text: str | None = None  # the OCR text as read, e.g. "200 µm"
    value: float | None = None  # 200.0
    unit: str | None = None  # normalised unit: pm, nm, µm, mm
    bar_px: float | None = None  # length of the bar (or whole ruler) in pixels of the saved image
    pixel_size_m: float | None = None
    style: str | None = None  # which detector matched: zeiss_light, zeiss_black, fei, tescan, jeol, ruler
    reason: str | None = None  # why nothing was found ("no data bar", "label unreadable: ...")


@dataclass(frozen=True)
class Classification:
    model_id: str
    top1_label: str
    top1_score: float
    scores: dict[str, float]


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
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def vendor(self) -> str | None:
        return self.metadata.instrument.vendor if self.metadata else None
