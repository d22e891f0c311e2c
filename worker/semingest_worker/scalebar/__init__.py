"""Stage 2: find the scale bar in the data bar, read its label, compute the pixel size.

``read_scale_bars`` takes many images at once so that their label crops share one Tesseract
call (see ``ocr``). Detection per image is OpenCV/numpy on the bottom third of the image
(``databar`` finds the bar, ``detect`` the line or tick ruler and the label crop); ``labels``
parses the OCR text. Nothing is guessed: every image without a readable bar gets
``pixel_size_m=None`` and a specific reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..records import ScaleBarReading
from . import detect, ocr
from .databar import bottom_band, content_rows, find_databar
from .labels import (
    has_decimal_mark,
    is_round_number,
    parse_label,
    pixel_size_from_label,
    repair_dropped_micro,
    significant_digits,
)

__all__ = ["ScaleBarInput", "read_scale_bars", "content_rows", "MIN_BAR_PX"]

# A bar shorter than this cannot give the pixel size within 3 % (its ends are uncertain by ±1 px).
MIN_BAR_PX = 40
# The largest pixel size an SEM image can have (a ~50 mm field over ~500 px); larger readings are
# OCR errors (µ read as m).
MAX_SEM_PIXEL_M = 1e-4


@dataclass(frozen=True)
class ScaleBarInput:
    gray: np.ndarray  # 2-D uint8 or uint16 luminance of the saved image
    vendor: str | None = None  # "zeiss", "fei", "tescan", "jeol", "hitachi" (metadata hint)
    databar_height_px: int | None = None  # FEI [PrivateFei] DatabarHeight hint


def _detect(item: ScaleBarInput) -> detect.Found:
    gray = np.asarray(item.gray)
    if gray.ndim != 2 or gray.dtype.kind not in "ui" or min(gray.shape) < 16:
        return detect.Found(
            None, None, None, f"not a 2-D integer luminance image (shape {gray.shape}, {gray.dtype})"
        )
    if gray.dtype.kind == "i":
        gray = np.clip(gray, 0, None).astype(np.uint16 if gray.dtype.itemsize > 1 else np.uint8)
    offset, band8 = bottom_band(gray)
    hint = item.databar_height_px if item.databar_height_px and item.databar_height_px > 0 else None
    bar = find_databar(band8, offset, gray.shape[0], hint)
    if bar is None:
        found = detect.ruler(band8, offset)
        return found if found is not None else detect.Found(None, None, None, "no data bar found")
    found = detect.in_databar(band8, offset, bar, item.vendor)
    if found.label_crop is None:
        inside = detect.ruler(band8[bar.top - offset :], bar.top)
        if inside is not None:
            return inside
    return found


def _doubt(label, text: str, found: detect.Found) -> str | None:
    """Consistency checks between the OCR text and the crop: a wrong number is worse than none."""
    crop = found.label_crop
    if "." not in label.number and has_decimal_mark(crop):
        return "but the label has a decimal mark"
    if not is_round_number(label.number):
        return "but scale-bar lengths are round numbers"
    if found.style == "ruler" and significant_digits(label.number) != 3:
        return "but ruler labels have three significant digits (10.0µm, 500nm)"
    return None


def _interpret(text: str, crop: np.ndarray, found: detect.Found) -> tuple[object | None, str]:
    """A label from one OCR text, or None and why not."""
    label = parse_label(text)
    if label is None:
        repaired = repair_dropped_micro(text, crop)
        label = parse_label(repaired) if repaired else None
    if label is None:
        return None, f"label unreadable: OCR read {text!r}"
    doubt = _doubt(label, text, found)
    if doubt:
        return None, f"label unreadable: OCR read {text!r} {doubt}"
    size, _fixed = pixel_size_from_label(label, found.bar_px or 1.0)
    if size > MAX_SEM_PIXEL_M:  # e.g. "100µm" read as "100mm"
        return None, f"label unreadable: OCR read {text!r}, an impossible {size:.3g} m per pixel"
    return label, ""


def _reading(found: detect.Found, texts: tuple[str, str] | None) -> ScaleBarReading:
    """Both renderings of the label crop (grey and binarised) are read; a reading is accepted when
    the ones that parse agree, so that one misread digit does not become a wrong pixel size."""
    if found.label_crop is None or texts is None:
        return ScaleBarReading(bar_px=found.bar_px, style=found.style, reason=found.reason)
    assert found.bar_px is not None
    crops = (found.label_crop, _binary(found.label_crop))
    parsed = [(_interpret(t, c, found), t) for t, c in zip(texts, crops, strict=True)]
    good = [(lab, t) for (lab, _why), t in parsed if lab is not None]
    if not good:
        return ScaleBarReading(
            label_text=texts[0], bar_px=found.bar_px, style=found.style, reason=parsed[0][0][1]
        )
    normalised = {pixel_size_from_label(lab, found.bar_px)[1].unit + f"{lab.value:g}" for lab, _t in good}
    if len(normalised) > 1:
        return ScaleBarReading(
            label_text=texts[0],
            bar_px=found.bar_px,
            style=found.style,
            reason=f"label unreadable: OCR readings disagree ({texts[0]!r} vs {texts[1]!r})",
        )
    label, text = good[0]
    if found.bar_px < MIN_BAR_PX:
        return ScaleBarReading(
            label_text=text,
            value=label.value,
            unit=label.unit,
            bar_px=found.bar_px,
            style=found.style,
            reason=f"scale bar too short to measure within 3 %: {found.bar_px:.0f} px (< {MIN_BAR_PX} px)",
        )
    size, label = pixel_size_from_label(label, found.bar_px)
    return ScaleBarReading(
        label_text=text,
        value=label.value,
        unit=label.unit,
        bar_px=found.bar_px,
        pixel_size_m=size,
        style=found.style,
    )


def _binary(crop: np.ndarray) -> np.ndarray:
    return np.where(crop < 160, 0, 255).astype(np.uint8)


def read_scale_bars(items: Sequence[ScaleBarInput]) -> list[ScaleBarReading]:
    """One reading per input, in order. Never raises for a bad image; the label crops of all
    inputs are read in one batched OCR pass (plus the per-process cache)."""
    founds = []
    for item in items:
        try:
            founds.append(_detect(item))
        except Exception as exc:  # noqa: BLE001 - one odd image must not fail the batch
            founds.append(
                detect.Found(None, None, None, f"scale bar detection failed: {type(exc).__name__}: {exc}")
            )
    wanted = [i for i, f in enumerate(founds) if f.label_crop is not None]
    texts: dict[int, tuple[str, str]] = {}
    if wanted:
        crops = []
        for i in wanted:
            crops += [founds[i].label_crop, _binary(founds[i].label_crop)]
        try:
            read = ocr.read_labels(crops)
            for k, i in enumerate(wanted):
                texts[i] = (read[2 * k], read[2 * k + 1])
        except (ocr.TesseractError, OSError, TimeoutError) as exc:
            for i in wanted:
                founds[i] = detect.Found(founds[i].style, founds[i].bar_px, None, f"OCR failed: {exc}")
    return [_reading(f, texts.get(i)) for i, f in enumerate(founds)]
