"""One Jinja2 environment for the catalogue's pages and the report (autoescaped HTML)."""

from __future__ import annotations

import functools
import math
from datetime import datetime

import jinja2


def nm(value: float | None, digits: int = 4) -> str:
    """A length in metres as nanometres with ``digits`` significant digits ("–" when unknown)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value * 1e9:.{digits}g} nm"


def percent(value: float | None) -> str:
    """A ratio as a signed deviation in percent: 1.012 -> "+1.2 %"."""
    if value is None or not math.isfinite(value):
        return "–"
    deviation = (value - 1) * 100
    return "0.0 %" if abs(deviation) < 0.05 else f"{deviation:+.1f} %"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "–"


def number(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("semingest_worker.catalogue", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(nm=nm, percent=percent, when=when, number=number)
    return env
