"""The second witness in a data bar: printed field widths and pixel sizes.

Many data bars print more than the scale label: the horizontal field width (``HFW 414 µm``, a
table cell under an ``HFW`` header), ``Width = 20.00 µm``, ``View field: 2.56 mm``, or the pixel
size itself (``Pixel Size = 2.233 nm``). ``read_witness`` reads the data bar's text boxes, finds
a keyword of that grammar and its value (after it on the same line, read a second way from a
binarised crop; or in the cell right under it, voted on like a scale label): the witness is kept
only when the readings agree.
A field width over the image width is a pixel size independent of the bar and its label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from . import ocr
from .labels import parse_length
from .vote import binarised, read_label

MAX_FIELD_BOXES = 32  # text boxes read at most per data bar (a full FEI/Zeiss bar has ~20)
PREFIX_HEIGHTS = 4.5  # a box's first this-many crop heights hold any keyword (crops are ~1.6x text)
BELOW_GAP_HEIGHTS = 2.0  # a table value cell starts within this many text heights under its header


class FieldKind(Enum):
    FIELD_WIDTH = "field_width"  # the image's horizontal field of view
    PIXEL_SIZE = "pixel_size"


_KEYWORDS = (
    (FieldKind.PIXEL_SIZE, re.compile(r"^\W*pixel\s*size\b\W*", re.IGNORECASE)),
    (
        FieldKind.FIELD_WIDTH,
        re.compile(r"^\W*(?:HFW|FOV|Width|View\s*field|Field\s*width)\b\W*", re.IGNORECASE),
    ),
)


@dataclass(frozen=True)
class TextBox:
    x: int
    y: int
    w: int
    h: int
    crop: np.ndarray  # normalised crop (black text on white)


@dataclass(frozen=True)
class Witness:
    kind: FieldKind
    text: str  # e.g. "HFW 427 µm"
    value_m: float
    pixel_size_m: float


def _prefix(crop: np.ndarray) -> np.ndarray:
    """The start of a box, as wide as the longest keyword ("Field width", "Pixel Size")."""
    width = round(PREFIX_HEIGHTS * crop.shape[0])
    return crop if crop.shape[1] <= width else crop[:, :width]


def _keyword(text: str) -> tuple[FieldKind, str] | None:
    for kind, pattern in _KEYWORDS:
        m = pattern.match(text)
        if m:
            return kind, text[m.end() :]
    return None


def _agreed_value(box: TextBox, first_text: str, rest: str | None) -> float | None:
    """The length in ``box`` read from its grey crop and again from a binarised crop."""
    one = parse_length(rest if rest is not None else first_text)
    if one is None:
        return None
    again = ocr.recognize(binarised(box.crop)).text
    if rest is not None:
        hit = _keyword(again)
        again = hit[1] if hit else ""
    two = parse_length(again)
    if two is None or (two.value, two.unit) != (one.value, one.unit):
        return None
    return one.metres


def _below(header: TextBox, boxes: Sequence[TextBox]) -> TextBox | None:
    cx = header.x + header.w / 2
    best = None
    for b in boxes:
        if b is header or not (b.x <= cx <= b.x + b.w):
            continue
        gap = b.y - (header.y + header.h)
        if 0 <= gap <= BELOW_GAP_HEIGHTS * header.h and (best is None or b.y < best.y):
            best = b
    return best


def read_witness(boxes: Sequence[TextBox], image_width: int) -> Witness | None:
    """The first printed pixel size or field width (boxes top to bottom, left to right) whose
    value reads the same twice. Boxes are read one by one and the search stops at the first
    witness: a table's header row comes first."""
    boxes = list(boxes)[:MAX_FIELD_BOXES]
    texts: dict[int, str] = {}

    def text_of(b: TextBox) -> str:
        if id(b) not in texts:
            texts[id(b)] = ocr.recognize(b.crop).text
        return texts[id(b)]

    for b in boxes:
        if _keyword(ocr.recognize(_prefix(b.crop)).text + " ") is None:
            continue  # the box does not start with a keyword: the rest of it is not read
        hit = _keyword(text_of(b))
        if hit is None:
            continue
        kind, rest = hit
        value = _agreed_value(b, text_of(b), rest) if parse_length(rest) else None
        shown = text_of(b)
        if value is None and not rest.strip():
            cell = _below(b, boxes)
            if cell is not None:  # a table cell holds just "number unit": voted like a label
                voted = read_label(cell.crop)
                value = voted.label.metres if voted.label is not None else None
                shown = f"{text_of(b)} {text_of(cell)}"
        if value is None:
            continue
        px = value if kind is FieldKind.PIXEL_SIZE else value / image_width
        return Witness(kind, shown, value, px)
    return None
