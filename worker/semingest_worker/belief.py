"""Which pixel size to believe when the vendor metadata and the scale bar are both witnesses.

Pure function of the two readings (and nothing else): the believed value, its source and the
reason, stored in the ``pixel_size`` row so that a disagreement is a recorded finding, not a
silent choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

AGREE_TOLERANCE = 0.03  # two witnesses within 3 % agree
RESIZE_FACTORS = (2, 3, 4, 8)  # an image saved at 1/k (or k x) of the scanned frame


class Source(Enum):
    METADATA = "metadata"
    SCALE_BAR = "scale_bar"


@dataclass(frozen=True)
class Belief:
    pixel_size_m: float | None
    source: Source | None
    reason: str


def believe(metadata_m: float | None, bar_m: float | None, bar_reason: str | None = None) -> Belief:
    if metadata_m is None and bar_m is None:
        why = f" ({bar_reason})" if bar_reason else ""
        return Belief(None, None, f"no vendor metadata pixel size and no scale-bar reading{why}")
    if bar_m is None:
        assert metadata_m is not None
        why = f": {bar_reason}" if bar_reason else ""
        return Belief(metadata_m, Source.METADATA, f"vendor metadata only (no scale-bar reading{why})")
    if metadata_m is None:
        return Belief(bar_m, Source.SCALE_BAR, "scale bar only (no vendor metadata pixel size)")
    ratio = bar_m / metadata_m
    if abs(ratio - 1) <= AGREE_TOLERANCE:
        return Belief(
            metadata_m,
            Source.METADATA,
            f"metadata and scale bar agree (bar/metadata {ratio:.3f}); metadata is more precise",
        )
    for k in RESIZE_FACTORS:
        for factor in (k, 1 / k):
            if abs(ratio / factor - 1) <= AGREE_TOLERANCE:
                return Belief(
                    bar_m,
                    Source.SCALE_BAR,
                    f"metadata and scale bar disagree by a factor {ratio:.3f} (~{factor:g}): an image resized "
                    "after acquisition; the bar is drawn on the saved pixels, the metadata describes the "
                    "scanned frame",
                )
    return Belief(
        metadata_m,
        Source.METADATA,
        f"metadata and scale bar disagree (bar/metadata {ratio:.3f}) by no resize factor: the "
        "instrument's own record is kept and the disagreement recorded",
    )
