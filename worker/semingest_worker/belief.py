"""Which pixel size to believe when several independent witnesses give one.

The witnesses: the vendor metadata, the scale bar (its measured length and voted label), and a
field printed in the data bar (field width over the image width, or a printed pixel size). A
pure function of their values: the believed value, its source and the reason, stored in the
``pixel_size`` row, so that a disagreement is a recorded finding, not a silent choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

AGREE_TOLERANCE = 0.03  # two witnesses within 3 % agree
RESIZE_FACTORS = (2, 3, 4, 8)  # an image saved at 1/k (or k x) of the scanned frame


class Source(Enum):
    METADATA = "metadata"
    SCALE_BAR = "scale_bar"
    PRINTED = "printed_field"


@dataclass(frozen=True)
class Belief:
    pixel_size_m: float | None
    source: Source | None
    reason: str


def agree(a: float, b: float) -> bool:
    return abs(a / b - 1) <= AGREE_TOLERANCE


def _resize_factor(ratio: float) -> float | None:
    for k in RESIZE_FACTORS:
        for factor in (k, 1 / k):
            if abs(ratio / factor - 1) <= AGREE_TOLERANCE:
                return factor
    return None


def _names(sources: Sequence[Source]) -> str:
    return " and ".join(s.value.replace("_", " ") for s in sources)


def believe(
    metadata_m: float | None,
    bar_m: float | None,
    bar_reason: str | None = None,
    printed_m: float | None = None,
) -> Belief:
    values = {
        s: v
        for s, v in ((Source.METADATA, metadata_m), (Source.SCALE_BAR, bar_m), (Source.PRINTED, printed_m))
        if v
    }
    if not values:
        why = f" ({bar_reason})" if bar_reason else ""
        return Belief(
            None, None, f"no vendor metadata pixel size, no scale-bar reading{why}, no printed field"
        )
    if len(values) == 1:
        ((source, value),) = values.items()
        why = f"; no scale-bar reading: {bar_reason}" if bar_m is None and bar_reason else ""
        return Belief(value, source, f"{source.value.replace('_', ' ')} only{why}")
    if metadata_m:
        confirm = [s for s, v in values.items() if s is not Source.METADATA and agree(v, metadata_m)]
        if confirm:
            ratios = ", ".join(
                f"{s.value.replace('_', ' ')}/metadata {values[s] / metadata_m:.3f}" for s in confirm
            )
            return Belief(metadata_m, Source.METADATA, f"metadata confirmed by {_names(confirm)} ({ratios})")
        others = [s for s in values if s is not Source.METADATA]
        ocr_agree = len(others) == 2 and agree(values[Source.SCALE_BAR], values[Source.PRINTED])
        witness = Source.SCALE_BAR if Source.SCALE_BAR in values else Source.PRINTED
        ratio = values[witness] / metadata_m
        factor = _resize_factor(ratio)
        if ocr_agree or factor is not None:
            why = (
                f"scale bar and printed field agree and differ from metadata by {ratio:.3f}"
                if ocr_agree
                else f"{witness.value.replace('_', ' ')}/metadata {ratio:.3f}"
            )
            if factor is not None:
                why += f" (~{factor:g}: an image resized after acquisition; the metadata describes the scanned frame)"
            return Belief(values[witness], witness, why)
        return Belief(
            metadata_m,
            Source.METADATA,
            f"metadata and {_names(others)} disagree ({witness.value.replace('_', ' ')}/metadata {ratio:.3f}) "
            "by no resize factor: the instrument's own record is kept and the disagreement recorded",
        )
    assert bar_m and printed_m
    if agree(bar_m, printed_m):
        return Belief(
            bar_m,
            Source.SCALE_BAR,
            f"scale bar and printed field agree (printed/bar {printed_m / bar_m:.3f})",
        )
    return Belief(
        None,
        None,
        f"scale bar and printed field disagree (printed/bar {printed_m / bar_m:.3f}) and there is no metadata: "
        "neither is believed",
    )
