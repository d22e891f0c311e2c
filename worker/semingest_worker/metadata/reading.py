"""What a vendor reader returns, and how it becomes a checked ``InstrumentMeta``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..records import InstrumentMeta
from .units import check_range
from .values import clean_text, json_safe

_CHECKED_FIELDS = (
    "pixel_size_m",
    "accelerating_voltage_v",
    "working_distance_m",
    "magnification",
    "databar_height_px",
)


@dataclass
class VendorReading:
    """Values as read (SI units, not yet range-checked) plus where each came from.

    ``keys`` maps a field name to the vendor key it was read from ("AP_PIXEL_SIZE",
    "[Scan] PixelWidth", ...), used in problem messages. ``problems`` holds the reader's own
    findings (unparseable values, undecodable text).
    """

    vendor: str | None
    source: str | None
    raw: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    pixel_size_m: float | None = None
    accelerating_voltage_v: float | None = None
    working_distance_m: float | None = None
    magnification: float | None = None
    detector: str | None = None
    acquired_at: datetime | None = None
    databar_height_px: int | None = None
    keys: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(
        self,
        field_name: str,
        key: str,
        text_value: str,
        parser: Callable[[str], Any],
        expected: str = "a number",
    ) -> None:
        """Set ``field_name`` from the vendor's ``key``: the parsed value, or None and a problem."""
        self.keys[field_name] = key
        parsed = parser(text_value)
        if parsed is None:
            self.problems.append(f"unparseable metadata: {key} = {text_value!r} (expected {expected})")
        setattr(self, field_name, parsed)

    def to_instrument(self) -> tuple[InstrumentMeta, list[str]]:
        """The checked ``InstrumentMeta`` and all problems (the reader's and the range checks')."""
        problems = list(self.problems)
        checked: dict[str, Any] = {}
        for name in _CHECKED_FIELDS:
            value, problem = check_range(name, getattr(self, name), self.keys.get(name, name))
            if problem:
                problems.append(problem)
            checked[name] = value
        height = checked.pop("databar_height_px")
        meta = InstrumentMeta(
            vendor=self.vendor,
            model=_short_text(self.model),
            detector=_short_text(self.detector),
            acquired_at=self.acquired_at,
            source=self.source,
            databar_height_px=int(height) if height is not None else None,
            raw=json_safe(self.raw),
            **checked,
        )
        return meta, problems


def parse_timestamp(stamp: str, formats: Sequence[str]) -> datetime | None:
    """The first of ``formats`` that parses ``stamp`` (instrument local time), else None."""
    stamp = stamp.strip()
    for fmt in formats:
        try:
            return datetime.strptime(stamp, fmt)
        except ValueError:
            continue
    return None


def _short_text(value: str | None, limit: int = 255) -> str | None:
    if value is None:
        return None
    text = clean_text(str(value))[:limit]
    return text or None
