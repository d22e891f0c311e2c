"""The catalogue's vocabularies, defined once: pixel-size agreement, sort keys, failure reasons."""

from __future__ import annotations

import re
from enum import StrEnum

from ..belief import AGREE_TOLERANCE as AGREEMENT_TOLERANCE  # 3 %: two witnesses that close agree

__all__ = ["AGREEMENT_TOLERANCE", "Agreement", "Order", "SortKey", "reason_class"]


class Agreement(StrEnum):
    AGREE = "agree"  # |ocr / metadata - 1| <= 3 %
    DISAGREE = "disagree"  # both known, further apart
    UNREADABLE = "unreadable"  # no pixel size from the scale bar
    NO_METADATA = "no_metadata"  # a scale-bar pixel size but none in the metadata


class SortKey(StrEnum):
    INGESTED = "ingested"
    ACQUIRED = "acquired"
    PIXEL_SIZE = "pixel_size"
    PATH = "path"
    VENDOR = "vendor"
    SCORE = "score"
    RATIO = "ratio"


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def reason_class(error: str | None) -> str:
    """A failure's reason without its particulars, to count failures by reason.

    The first clause (before ';'), up to its first ':' ("truncated TIFF: file has 10 bytes" ->
    "truncated TIFF"); numbers become N; at most 80 characters.
    """
    if not error:
        return "unknown"
    first = error.split(";", 1)[0].strip()
    head = first.split(":", 1)[0].strip() or first
    return _NUMBER.sub("N", head)[:80]
