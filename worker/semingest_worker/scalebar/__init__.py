"""Stage 2: find the scale bar in the data bar, read its label, compute the pixel size.

``read_scale_bars`` reads each image on its own. Detection is OpenCV/numpy on the bottom third
of the image (``databar`` finds the bar, ``detect`` the line or tick ruler, its length with an
uncertainty, and the label candidates by geometry); ``vote`` reads a label several ways
(``ocr``: libtesseract, one crop at a time) and accepts it only when the readings agree;
``labels`` holds the grammar. Nothing is guessed: every image without a certain reading gets
``pixel_size_m=None`` and a specific reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..belief import AGREE_TOLERANCE
from ..records import ScaleBarGeometry, ScaleBarReading
from . import detect, fields, ocr, vote
from .databar import bottom_band, content_rows, find_databar
from .labels import has_decimal_mark, is_round_number, pixel_size_from_label, significant_digits

__all__ = ["ScaleBarInput", "read_scale_bars", "content_rows"]

# A bar is measured when its length is known within this share at COVERAGE_FACTOR standard
# uncertainties (~95 %): with ends to the pixel, bars of ~34 px and longer.
MAX_RELATIVE_UNCERTAINTY = 0.03
COVERAGE_FACTOR = 2.0
# The largest pixel size an SEM image can have (a ~50 mm field over ~500 px); larger readings are
# OCR errors (µ read as m).
MAX_SEM_PIXEL_M = 1e-4


@dataclass(frozen=True)
class ScaleBarInput:
    gray: np.ndarray  # 2-D uint8 or uint16 luminance of the saved image
    vendor: str | None = None  # "zeiss", "fei", "tescan", "jeol", "hitachi" (metadata hint)
    databar_height_px: int | None = None  # FEI [PrivateFei] DatabarHeight hint
    # the vendor metadata's pixel size: when the bar agrees with it, no third witness is read
    metadata_pixel_size_m: float | None = None


# Below this many pixels a side no data bar, label or ruler can be drawn legibly.
MIN_IMAGE_SIDE_PX = 16


def _detect(item: ScaleBarInput) -> detect.Found | Iterator[detect.Found]:
    gray = np.asarray(item.gray)
    if gray.ndim != 2 or gray.dtype.kind not in "ui":
        return detect.Found(
            None, None, None, f"not a 2-D integer luminance image (shape {gray.shape}, {gray.dtype})"
        )
    if min(gray.shape) < MIN_IMAGE_SIDE_PX:
        height, width = gray.shape
        return detect.Found(
            None,
            None,
            None,
            f"image too small to hold a scale bar ({width}x{height} px; at least {MIN_IMAGE_SIDE_PX} px a side)",
        )
    if gray.dtype.kind == "i":
        gray = np.clip(gray, 0, None).astype(np.uint16 if gray.dtype.itemsize > 1 else np.uint8)
    offset, band8 = bottom_band(gray)
    hint = item.databar_height_px if item.databar_height_px and item.databar_height_px > 0 else None
    bar = find_databar(band8, offset, gray.shape[0], hint)
    if bar is None:  # a ruler, else lines drawn over the image: the first with a length label
        found = detect.ruler(band8, offset)
        overlays = detect.overlay(band8, offset, gray.shape[0], item.vendor)  # lazy
        return itertools.chain([found] if found is not None else [], overlays)
    found = detect.in_databar(band8, offset, bar, item.vendor)
    if found.label_crop is None:
        inside = detect.ruler(band8[bar.top - offset :], bar.top)
        if inside is not None:
            found = inside
    return replace(found, databar_rows=(bar.top, bar.bottom))


def _geometry(found: detect.Found, label: int | None) -> ScaleBarGeometry | None:
    """Where the data bar, the bar and the label that was read (candidate ``label``) were found;
    None when nothing was. For the catalogue's overlay only."""
    label_box = found.label_boxes[label] if label is not None and label < len(found.label_boxes) else None
    if found.databar_rows is None and found.bar_box is None and label_box is None:
        return None
    return ScaleBarGeometry(
        databar_rows=found.databar_rows, bar_box=found.bar_box, bar_ends=found.bar_ends, label_box=label_box
    )


def _doubt(label, found: detect.Found, crop: np.ndarray) -> str | None:
    """Consistency checks between the agreed reading and the crop: a wrong number is worse than none."""
    if "." not in label.number and has_decimal_mark(crop):
        return "but the label has a decimal mark"
    if not is_round_number(label.number):
        return "but scale-bar lengths are round numbers"
    if found.style == "ruler" and significant_digits(label.number) != 3:
        return "but ruler labels have three significant digits (10.0µm, 500nm)"
    return None


def _read_candidates(found: detect.Found) -> tuple[vote.Vote, np.ndarray, int]:
    """The first candidate crop (best placed first) whose text is a length label, read or
    refused, and its index; when none is, a refusal that lists what was read."""
    assert found.label_crop is not None
    texts = []
    crops = itertools.chain([found.label_crop], (make() for make in found.alternatives))
    for index, crop in enumerate(crops):
        v = vote.read_label(crop)
        if v.parsed:
            return v, crop, index
        texts.append(v.text)
    why = f"no text next to the bar is a length: OCR read {', '.join(map(repr, texts))}"
    return vote.Vote(None, texts[0], why, False), found.label_crop, 0


def _reading(found: detect.Found) -> ScaleBarReading:
    """The label is read several ways (``vote``); the pixel size is stored only when the readings
    agree and the bar's length is known within 3 % (at ``COVERAGE_FACTOR`` standard uncertainties)."""
    return _reading_of(found)[0]


def _reading_of(found: detect.Found) -> tuple[ScaleBarReading, bool]:
    """The reading, and whether the bar has a length label at all (read or refused)."""
    u = found.bar_px_uncertainty
    if found.label_crop is None:
        reading = ScaleBarReading(
            bar_px=found.bar_px,
            bar_px_uncertainty=u,
            style=found.style,
            reason=found.reason,
            geometry=_geometry(found, None),
        )
        return reading, False
    assert found.bar_px is not None
    v, crop, index = _read_candidates(found)
    return replace(_checked(found, v, crop), geometry=_geometry(found, index)), v.parsed


def _checked(found: detect.Found, v: vote.Vote, crop: np.ndarray) -> ScaleBarReading:
    u = found.bar_px_uncertainty
    assert found.bar_px is not None
    base = {"label_text": v.text, "bar_px": found.bar_px, "bar_px_uncertainty": u, "style": found.style}
    if v.label is None:
        return ScaleBarReading(**base, reason=f"label unreadable: {v.reason}")
    doubt = _doubt(v.label, found, crop)
    if doubt:
        return ScaleBarReading(**base, reason=f"label unreadable: OCR read {v.text!r} {doubt}")
    size, label = pixel_size_from_label(v.label, found.bar_px)
    if size > MAX_SEM_PIXEL_M:  # e.g. "100µm" read as "100mm"
        return ScaleBarReading(
            **base, reason=f"label unreadable: OCR read {v.text!r}, an impossible {size:.3g} m per pixel"
        )
    base.update(value=label.value, unit=label.unit)
    relative = COVERAGE_FACTOR * (u or 0.0) / found.bar_px
    if relative > MAX_RELATIVE_UNCERTAINTY:
        return ScaleBarReading(
            **base,
            reason=(
                f"scale bar too short to measure within 3 %: {found.bar_px:.1f} ± {u:.2f} px "
                f"({relative:.1%} at {COVERAGE_FACTOR} standard uncertainties)"
            ),
        )
    return ScaleBarReading(**base, pixel_size_m=size)


def _first_length(founds: Iterator[detect.Found]) -> ScaleBarReading:
    """Candidate scale bars without a data bar (a ruler, then lines drawn over the image, longest
    first): the first whose label is a length gives the reading (read or refused)."""
    texts: list[str] = []
    last = ScaleBarReading(reason="no data bar found")
    for found in founds:
        reading, is_label = _reading_of(found)
        if is_label:
            return reading
        last = reading
        texts.append(reading.label_text or reading.reason or "")
    if len(texts) == 1:
        return last  # one candidate: its own reason
    if not texts:
        return ScaleBarReading(reason="no data bar found")
    return ScaleBarReading(reason=f"no data bar found (no line or ruler has a length label: {texts!r})")


def _with_witness(item: ScaleBarInput, found: detect.Found, reading: ScaleBarReading) -> ScaleBarReading:
    """Read the printed field width / pixel size when the metadata and the bar do not already
    agree (no metadata, no bar reading, or a disagreement): the third witness then decides."""
    meta, bar = item.metadata_pixel_size_m, reading.pixel_size_m
    if meta and bar and abs(bar / meta - 1) <= AGREE_TOLERANCE:
        return reading
    if found.text_boxes is None:
        return reading
    witness = fields.read_witness(found.text_boxes(), int(np.asarray(item.gray).shape[1]))
    if witness is None:
        return reading
    return replace(reading, printed_field=witness.text, printed_pixel_size_m=witness.pixel_size_m)


def read_scale_bars(items: Sequence[ScaleBarInput]) -> list[ScaleBarReading]:
    """One reading per input, in order. Never raises for a bad image. Each image is read on its
    own (its label crops are recognised one by one, see ``ocr``): a reading is a function of its
    image only, whatever else is in the batch."""
    out = []
    for item in items:
        try:
            found = _detect(item)
        except Exception as exc:  # noqa: BLE001 - one odd image must not fail the batch
            out.append(ScaleBarReading(reason=f"scale bar detection failed: {type(exc).__name__}: {exc}"))
            continue
        try:
            if not isinstance(found, detect.Found):  # no data bar: the first candidate that reads
                out.append(_first_length(found))
            else:
                out.append(_with_witness(item, found, _reading(found)))
        except ocr.TesseractError as exc:
            one = found if isinstance(found, detect.Found) else detect.Found(None, None, None)
            out.append(
                ScaleBarReading(
                    bar_px=one.bar_px,
                    bar_px_uncertainty=one.bar_px_uncertainty,
                    style=one.style,
                    reason=f"OCR failed: {exc}",
                )
            )
        except Exception as exc:  # noqa: BLE001 - one odd image must not fail the batch
            out.append(ScaleBarReading(reason=f"scale bar reading failed: {type(exc).__name__}: {exc}"))
    return out
