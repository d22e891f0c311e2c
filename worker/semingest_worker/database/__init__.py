"""Stage 4: the database (schema, bulk idempotent writer, retries, run book-keeping, queries)."""

from __future__ import annotations

from .engine import DatabaseURLError, create_engine, parse_url, redact
from .retry import DatabaseUnavailableError, call_with_retry
from .schema import create_schema
from .writer import ImageWriter, WriteOutcome

__all__ = [
    "DatabaseURLError",
    "DatabaseUnavailableError",
    "ImageWriter",
    "WriteOutcome",
    "call_with_retry",
    "create_engine",
    "create_schema",
    "parse_url",
    "redact",
]
