"""Streaming rows out of the database and turning values into what each format wants."""

from __future__ import annotations

import json
import math
from collections.abc import Generator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

STREAM_BATCH = 1000  # rows fetched per round trip (server-side cursor on MariaDB)
JSON_COLUMNS = frozenset({"vendor_metadata", "sidecars"})  # JSON text in the database


def stream_rows(conn: sa.Connection, stmt: sa.Select, batch: int = STREAM_BATCH) -> Generator[dict[str, Any]]:
    """The rows of ``stmt`` one by one, never all in memory (server-side cursor, ``yield_per``)."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
    try:
        for row in result.mappings():
            yield dict(row)
    finally:
        result.close()


def parse_json(text: str | None) -> Any:
    """A JSON column's value as an object (None stays None; text that is not JSON stays text)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def plain(value: Any) -> Any:
    """A JSON-safe scalar: ISO 8601 for datetimes, None for non-finite floats."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row for JSON output: JSON columns parsed into nested objects, datetimes as ISO text."""
    return {k: parse_json(v) if k in JSON_COLUMNS else plain(v) for k, v in row.items()}


def csv_value(value: Any) -> str:
    """A CSV cell: empty for NULL, ``true``/``false``, floats in full precision, ISO datetimes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
