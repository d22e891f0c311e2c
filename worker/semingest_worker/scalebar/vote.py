"""Read one label crop several ways and vote: a reading is accepted only when they agree.

Votes on the number: the whole label read from the grey crop, from a binarised crop at another
scale, and the number's own glyphs read as digits only. Votes on the unit: the same two whole
readings and the unit's glyphs read against the closed set of units. A vote that cannot be cast
(the text does not parse, the glyphs cannot be split) abstains; at least ``MIN_VOTES`` must be
cast for each part and all cast votes must agree, else the label is refused with the votes as the
reason. The glyphs' geometry settles µ against m: a unit whose first glyph descends below the
baseline is µm however the model named it. So one misread digit ("100 nm" read as "700 nm") becomes a refusal, not a wrong pixel size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from . import ocr
from .labels import (
    Label,
    first_descender,
    glyph_descends,
    parse_digits,
    parse_length,
    parse_unit,
    repair_dropped_micro,
    repair_micro_read_as_digit,
)

MIN_VOTES = 2
SECOND_SCALE = 1.4  # the binarised rendering is read at this scale of the first one
DIGITS_SCALE = 0.7  # the number's second digits-only reading is at this scale
PAD_PX = 12
SPACE_SHARE = 0.25  # a gap between glyphs this share of the text height is a word space


@dataclass(frozen=True)
class Vote:
    label: Label | None  # the agreed label, or None
    text: str  # the first rendering's text (what the row stores as label_text)
    reason: str | None  # why refused (None when accepted)
    parsed: bool  # some rendering parsed as a length (the crop is a label, read or not)


def binarised(crop: np.ndarray) -> np.ndarray:
    _t, binary = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    h, w = binary.shape
    return cv2.resize(
        binary,
        (max(1, round(w * SECOND_SCALE)), max(1, round(h * SECOND_SCALE))),
        interpolation=cv2.INTER_AREA,
    )


def _rescaled(crop: np.ndarray) -> np.ndarray:
    """The grey crop at another scale (the number's second constrained reading): reduced by
    area averaging, which keeps thin strokes that an enlargement would blur into other digits."""
    h, w = crop.shape
    size = (max(1, round(w * DIGITS_SCALE)), max(1, round(h * DIGITS_SCALE)))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)


def _split(crop: np.ndarray, n_number_glyphs: int, spaced: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The crop cut between the number and the unit: at the word space when the label has one
    (the first gap as wide as a space after as many glyphs as the number has), else between the number's
    last glyph and the unit's first (glyphs that touch make this less sure: the vote then
    abstains or disagrees, never agrees by chance)."""
    ink_rows = np.flatnonzero((crop < 128).any(axis=1))
    ink = (crop < 128).any(axis=0)
    xs = np.flatnonzero(ink)
    if xs.size == 0 or ink_rows.size == 0:
        return None
    runs = np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1)  # glyph column runs, left to right
    gaps = [int(b[0]) - int(a[-1]) - 1 for a, b in zip(runs, runs[1:], strict=False)]
    text_h = int(ink_rows[-1] - ink_rows[0] + 1)
    # the word space: the first gap as wide as a space after the number's glyphs, else the widest
    spaces = [k for k, g in enumerate(gaps) if g >= SPACE_SHARE * text_h]
    after = [k for k in spaces if k >= n_number_glyphs - 1]
    if spaced and spaces:
        k = after[0] if after else max(spaces, key=lambda i: gaps[i])
        cut = (int(runs[k][-1]) + int(runs[k + 1][0])) // 2 + 1
    elif len(runs) > n_number_glyphs:
        cut = (int(runs[n_number_glyphs - 1][-1]) + int(runs[n_number_glyphs][0])) // 2 + 1
    else:
        return None

    def pad(part: np.ndarray) -> np.ndarray:
        return cv2.copyMakeBorder(part, 0, 0, PAD_PX, PAD_PX, cv2.BORDER_CONSTANT, value=255)

    return pad(crop[:, :cut]), pad(crop[:, cut:])


def _whole(crop: np.ndarray) -> tuple[str, Label | None]:
    text = ocr.recognize(crop).text
    label = parse_length(text)
    binary = np.where(crop < 128, 0, 255).astype(np.uint8)
    for repair in (repair_dropped_micro, repair_micro_read_as_digit):
        if label is None:
            repaired = repair(text, binary)
            label = parse_length(repaired) if repaired else None
    return text, label


def read_label(crop: np.ndarray) -> Vote:
    text1, first = _whole(crop)
    second_crop = binarised(crop)
    text2, second = _whole(second_crop)
    binary = np.where(second_crop < 128, 0, 255).astype(np.uint8)
    wholes = [lab for lab in (first, second) if lab is not None]
    numbers: list[float | None] = [float(lab.number) for lab in wholes]
    units: list[str | None] = [lab.unit if lab.unit != "pm" else "µm" for lab in wholes]
    if wholes:  # the number has as many glyphs as the reading's number has characters
        glyphs = len(wholes[0].number)
        raw = text1 if first is not None else text2  # as read, before any repair
        spaced = re.match(r"^\W*[\d.,]+\s+\S", raw) is not None
    else:  # no reading parses: the glyphs before a µ (the first descender) may be the number
        descender, spaced = first_descender(binary), False
        if descender is None or descender == 0:
            return Vote(None, text1, f"no length in the label: OCR read {text1!r} / {text2!r}", False)
        glyphs = descender
    micro = glyph_descends(binary, glyphs)
    digits_text = digits_text2 = unit_text = ""
    parts = _split(crop, glyphs, spaced)
    if parts is not None:
        digits_text = ocr.recognize(parts[0], ocr.Kind.DIGITS).text
        digits_text2 = ocr.recognize(_rescaled(parts[0]), ocr.Kind.DIGITS).text
        unit_text = ocr.recognize(parts[1], ocr.Kind.UNIT).text
        for d in (parse_digits(digits_text), parse_digits(digits_text2)):
            numbers.append(float(d) if d is not None else None)
        units.append(parse_unit(unit_text))
    if micro:
        # the unit's first glyph hangs below the baseline: of the closed set (µm, nm, mm) only µ
        # does, however the model named it; the glyph's shape is a vote of its own
        units = ["µm" if u is not None else None for u in units] + ["µm"]
    cast_n = [n for n in numbers if n is not None]
    cast_u = [u for u in units if u is not None]
    votes = f"readings {text1!r}, {text2!r}, digits {digits_text!r}/{digits_text2!r}, unit {unit_text!r}" + (
        ", a µ by its descender" if micro else ""
    )
    if not wholes and (not cast_n or not cast_u):
        return Vote(None, text1, f"no length in the label: OCR read {text1!r} / {text2!r}", False)
    if len(cast_n) < MIN_VOTES or len(cast_u) < MIN_VOTES:
        return Vote(None, text1, f"label uncertain: too few agreeing readings ({votes})", True)
    if len(set(cast_n)) > 1 or len(set(cast_u)) > 1:
        return Vote(None, text1, f"label uncertain: the readings disagree ({votes})", True)
    number = wholes[0].number if wholes else parse_digits(digits_text) or parse_digits(digits_text2) or ""
    agreed = Label(cast_n[0], cast_u[0], text1 if first is not None else text2, number)
    return Vote(agreed, text1 if first is not None else text2, None, True)
