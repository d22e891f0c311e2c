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

UNIT_M = {"pm": 1e-12, "nm": 1e-9, "µm": 1e-6, "mm": 1e-3}
# The smallest pixel size a scanning electron microscope image can plausibly have.
MIN_SEM_PIXEL_M = 1e-11

_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)")
_UNITS = (
    ("nm", ("nm", "nn", "nrn", "rim", "hm")),
    ("mm", ("mm", "rnrn", "mrn", "rnm")),
    ("µm", ("µm", "μm", "um", "ym", "jm", "jum", "uum", "pum", "yum", "µrn", "urn", "yrn", "wm", "qm")),
    ("pm", ("pm", "prn")),
)


@dataclass(frozen=True)
class Label:
    value: float
    unit: str  # pm, nm, µm, mm
    text: str  # the OCR text it came from

    @property
    def metres(self) -> float:
        return self.value * UNIT_M[self.unit]


def _clean_digits(text: str) -> str:
    # O/o -> 0 and l/I/| -> 1 only where they touch digits
    out = re.sub(r"(?<=\d)[Oo]|[Oo](?=\d)", "0", text)
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
                    return Label(value, unit, text)
    return None


def pixel_size_from_label(label: Label, bar_px: float) -> tuple[float, Label]:
    """Pixel size in metres; a "pm" label that would be impossible for SEM is read as µm."""
    size = label.metres / bar_px
    if label.unit == "pm" and size < MIN_SEM_PIXEL_M:
        label = Label(label.value, "µm", label.text)
        size = label.metres / bar_px
    return size, label


def format_label(label: Label) -> str:
    v = label.value
    return f"{int(v) if v == int(v) else v:g} {label.unit}"
