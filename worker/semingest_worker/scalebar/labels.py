"""Parse a scale-bar label ("200 µm", "10.0µm", "0.5 mm", "100nm", "1 um*") into value and unit.

OCR confusions handled: the micro sign read as ``u``, ``y``, ``j``, ``p`` or the Greek mu; ``rn``
for ``m``; ``O``/``o`` for 0 and ``l``/``I``/``|`` for 1 inside numbers; a decimal comma; spaces
anywhere; a trailing ``*``. ``pm`` is kept as picometres here; ``pixel_size_from_label`` reads
it as µm when picometres would give an impossible SEM pixel size (Tesseract's English model
reads µ as p).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import median

import cv2
import numpy as np

UNIT_M = {"pm": 1e-12, "nm": 1e-9, "µm": 1e-6, "mm": 1e-3}
# The smallest pixel size a scanning electron microscope image can plausibly have.
MIN_SEM_PIXEL_M = 1e-11

_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)")
_UNITS = (
    ("nm", ("nm", "nn", "nrn", "rim", "hm")),
    ("mm", ("mm", "rnrn", "mrn", "rnm")),
    (
        "µm",
        ("µm", "μm", "um", "ym", "jm", "jum", "uum", "pum", "yum", "yim", "µrn", "urn", "yrn", "wm", "qm"),
    ),
    ("pm", ("pm", "prn")),
)


@dataclass(frozen=True)
class Label:
    value: float
    unit: str  # pm, nm, µm, mm
    text: str  # the OCR text it came from
    number: str = ""  # the number as read, e.g. "10.0"

    @property
    def metres(self) -> float:
        return self.value * UNIT_M[self.unit]


def _clean_digits(text: str) -> str:
    # O/o -> 0 and l/I/| -> 1 only where they touch digits
    out, previous = text, None
    while out != previous:  # "1oo" -> "100"
        previous, out = out, re.sub(r"(?<=\d)[Oo]|[Oo](?=\d)", "0", out)
    out = re.sub(r"(?<=\d)[lI|]|[lI|](?=[\d.])", "1", out)
    # a lone "l" before a unit is a 1 ("lum" = "1 µm")
    out = re.sub(r"(?<![A-Za-z\d])[lI|](?=\s*(?:[µμuyjp]u?m|nm|mm)\b)", "1", out)
    out = re.sub(r"(?<=\d)[,.]+(?=\.)", "", out)  # "1,.00" -> "1.00"
    out = re.sub(r"(?<=\d),(?=\d{1,2}(?!\d))", ".", out)  # decimal comma; "1,000" stays grouped
    out = re.sub(r"(?<=\d),(?=\d{3})", "", out)
    return re.sub(r"(?<=\d) +(?=[.\d])|(?<=\.) +(?=\d)", "", out)


def parse_label(text: str | None) -> Label | None:
    """The first ``number unit`` in the text, or None."""
    if not text:
        return None
    cleaned = _clean_digits(text.replace("\u03bc", "µ").strip())
    for m in _NUMBER.finditer(cleaned):
        rest = cleaned[m.end() :].lstrip().replace(" ", "")
        rest_l = rest.lower()
        for unit, spellings in _UNITS:
            for s in sorted(spellings, key=len, reverse=True):
                if rest_l.startswith(s.lower()) and not (unit == "mm" and rest.startswith("Mm")):
                    value = float(m.group(1))
                    if value <= 0:
                        break
                    return Label(value, unit, text, m.group(1))
    return None


def pixel_size_from_label(label: Label, bar_px: float) -> tuple[float, Label]:
    """Pixel size in metres; a "pm" label that would be impossible for SEM is read as µm."""
    size = label.metres / bar_px
    if label.unit == "pm" and size < MIN_SEM_PIXEL_M:
        label = Label(label.value, "µm", label.text, label.number)
        size = label.metres / bar_px
    return size, label


def format_label(label: Label) -> str:
    v = label.value
    return f"{int(v) if v == int(v) else v:g} {label.unit}"


_DROPPED_MICRO = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*m(?![a-z])")


def _glyphs(crop: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Connected components of a binarised crop sorted left to right, the text height and the
    baseline of its full-height glyphs."""
    n, _lab, stats, _ = cv2.connectedComponentsWithStats((crop < 128).astype(np.uint8), connectivity=8)
    comps = stats[1:]
    comps = comps[np.argsort(comps[:, cv2.CC_STAT_LEFT])]
    if len(comps) == 0:
        return comps, 0.0, 0.0
    # one glyph per column range: a dotted zero's dot or an i's dot joins its glyph
    merged: list[list[int]] = []
    for x, y, cw, ch, area in comps.tolist():
        if merged and x < merged[-1][0] + merged[-1][2]:
            g = merged[-1]
            x1, y1 = max(g[0] + g[2], x + cw), max(g[1] + g[3], y + ch)
            g[0], g[1] = min(g[0], x), min(g[1], y)
            g[2], g[3], g[4] = x1 - g[0], y1 - g[1], g[4] + area
        else:
            merged.append([x, y, cw, ch, area])
    comps = np.asarray(merged, dtype=np.int64)
    tall = comps[comps[:, cv2.CC_STAT_HEIGHT] >= 0.6 * comps[:, cv2.CC_STAT_HEIGHT].max()]
    text_h = float(median(tall[:, cv2.CC_STAT_HEIGHT].tolist()))  # a few glyphs: not np.median
    baseline = float(median((tall[:, cv2.CC_STAT_TOP] + tall[:, cv2.CC_STAT_HEIGHT]).tolist()))
    return comps, text_h, baseline


def _is_descender(c: np.ndarray, text_h: float, baseline: float) -> bool:
    x, y, cw, ch, _a = (int(v) for v in c)
    return y + ch > baseline + 0.15 * text_h and y < baseline - 0.35 * text_h and cw >= 0.3 * text_h


def has_decimal_mark(crop: np.ndarray) -> bool:
    """A dot or comma on the baseline between full-height glyphs."""
    comps, text_h, baseline = _glyphs(crop)
    tall = [c for c in comps if c[cv2.CC_STAT_HEIGHT] >= 0.6 * text_h]
    if len(tall) < 2:
        return False
    left = tall[0][cv2.CC_STAT_LEFT] + tall[0][cv2.CC_STAT_WIDTH]
    right = tall[-1][cv2.CC_STAT_LEFT]
    for x, y, cw, ch, _a in comps:
        if left <= x and x + cw <= right and ch <= 0.45 * text_h and cw <= 0.35 * text_h:
            if abs(y + ch - baseline) <= 0.15 * text_h or (y < baseline < y + ch):
                return True
    return False


def repair_dropped_micro(text: str, crop: np.ndarray) -> str | None:
    """Tesseract sometimes drops a µ it cannot name ("200m"). No SEM label is in metres, so when
    the glyph right after the number's glyphs descends below the baseline like µ (digits, m and
    n never do), the unit is µm. None otherwise (e.g. "1.00µm" read as "100m": the glyph after
    three is a digit)."""
    cleaned = _clean_digits(text)
    m = _DROPPED_MICRO.match(cleaned)
    if m is None:
        return None
    comps, text_h, baseline = _glyphs(crop)
    k = len(m.group(1))
    if len(comps) <= k or not _is_descender(comps[k], text_h, baseline):
        return None
    return f"{m.group(1)} µm"


def significant_digits(number: str) -> int:
    digits = number.replace(".", "").lstrip("0")
    return len(digits)


def is_round_number(number: str) -> bool:
    """Scale-bar lengths are round: one or two significant digits ("1", "20", "2.5", "500",
    "10.0" and "1.00" as Hitachi prints them), never a leading zero before other digits ("08")."""
    if len(number) > 1 and number[0] == "0" and number[1] != ".":
        return False
    return len(number.replace(".", "").strip("0")) <= 2


_LEADING_JUNK = re.compile(r"^[^\w.]*")


def parse_length(text: str | None) -> Label | None:
    """The label grammar of a scale bar: the text STARTS with ``number unit`` (a trailing mark or
    other words may follow). "WD 10mm", "HFW 414 µm", "X2,000", "15.0kV", "SEI" and dates are not
    labels: they start with a keyword or have no length unit."""
    if not text:
        return None
    stripped = _LEADING_JUNK.sub("", text.replace("\u03bc", "µ"))
    cleaned = _clean_digits(stripped)
    m = _NUMBER.match(cleaned)
    if m is None:
        return None
    label = parse_label(cleaned)
    if label is None or cleaned.find(label.number) != 0:
        return None
    return Label(label.value, label.unit, text, label.number)


_UNIT_ONLY = {"um": "µm", "µm": "µm", "μm": "µm", "uum": "µm", "nm": "nm", "mm": "mm"}


def parse_unit(text: str | None) -> str | None:
    """A unit read on its own from the closed set (µ read as u); None when not one of them (a
    lone "m" is a micro sign the model could not name: no vote)."""
    return _UNIT_ONLY.get((text or "").replace(" ", "").lower().replace("μ", "µ"))


def parse_digits(text: str | None) -> str | None:
    """A number read on its own (digits and one decimal point), or None."""
    t = (text or "").replace(" ", "")
    return t if re.fullmatch(r"\d+(?:\.\d+)?", t) else None


def glyph_descends(crop: np.ndarray, index: int) -> bool:
    """Whether the ``index``-th glyph (left to right) of a binarised crop descends below the
    baseline of the full-height glyphs, like µ (and unlike m, n, u and digits)."""
    comps, text_h, baseline = _glyphs(crop)
    if index >= len(comps) or text_h <= 0:
        return False
    return _is_descender(comps[index], text_h, baseline)


def first_descender(crop: np.ndarray) -> int | None:
    """The index of the first glyph that descends below the baseline (a µ), or None."""
    comps, text_h, baseline = _glyphs(crop)
    for i, c in enumerate(comps):
        if text_h > 0 and _is_descender(c, text_h, baseline):
            return i
    return None


_MICRO_AS_DIGIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\d\s*m\s*$")


def repair_micro_read_as_digit(text: str, crop: np.ndarray) -> str | None:
    """The micro sign read as a digit ("104m" for "10µm"): digits never descend below the
    baseline, so when the glyph read as the last digit does, it is µ. None otherwise."""
    m = _MICRO_AS_DIGIT.match(_clean_digits(text))
    if m is None or not glyph_descends(crop, len(m.group(1))):
        return None
    return f"{m.group(1)} µm"
