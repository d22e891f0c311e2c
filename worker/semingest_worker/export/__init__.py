"""Getting the data out: ``semingest export`` (per image or per file) and ``semingest show``.

``export_rows`` streams ``database.imagequery`` rows (filtered) into one of ``Format``; the
output is written to a temporary file beside the target and renamed at the end, so a failed
export never leaves a half-written file behind.
"""

from __future__ import annotations

import enum
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import IO, Any

import sqlalchemy as sa

from ..database import imagequery
from .calibration import write_fiji_csv, write_omero_csv
from .nexus import write_nexus_jsonl
from .tabular import write_csv, write_jsonl, write_parquet
from .values import stream_rows


class Format(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    NEXUS_JSON = "nexus-json"
    FIJI_CSV = "fiji-csv"
    OMERO_CSV = "omero-csv"


PER_IMAGE_ONLY = frozenset({Format.NEXUS_JSON, Format.FIJI_CSV, Format.OMERO_CSV})
BINARY = frozenset({Format.PARQUET})


class ExportError(ValueError):
    """An export that cannot be made as asked (the message says why)."""


@dataclass(frozen=True)
class ExportResult:
    rows: int
    target: str  # the file written, or "-" for stdout


def parse_format(text: str) -> Format:
    try:
        return Format(text)
    except ValueError:
        raise ExportError(
            f"unknown format {text!r}: valid formats are {', '.join(f.value for f in Format)}"
        ) from None


def export_statement(fmt: Format, flt: imagequery.ImageFilter, *, per_file: bool) -> sa.Select:
    if per_file and fmt in PER_IMAGE_ONLY:
        raise ExportError(f"--files is for csv, jsonl and parquet; {fmt.value} is one entry per image")
    vendor_metadata = fmt in (Format.JSONL, Format.PARQUET, Format.NEXUS_JSON)
    if per_file:
        return imagequery.filtered_files(flt, vendor_metadata=vendor_metadata)
    return imagequery.filtered_images(flt, vendor_metadata=vendor_metadata)


def export_rows(
    conn: sa.Connection,
    fmt: Format,
    flt: imagequery.ImageFilter,
    output: str | None,
    *,
    per_file: bool = False,
) -> ExportResult:
    """Write the export; ``output`` None or ``-``: stdout (not for parquet)."""
    stmt = export_statement(fmt, flt, per_file=per_file)
    to_stdout = output in (None, "-")
    if fmt in BINARY and to_stdout:
        raise ExportError(f"{fmt.value} is a binary format: give a file with -o FILE")
    with closing(stream_rows(conn, stmt)) as rows:  # the cursor closes before the connection
        return _write(fmt, stmt, rows, None if to_stdout else output)


def _write(fmt: Format, stmt: sa.Select, rows: Iterator[dict[str, Any]], output: str | None) -> ExportResult:
    columns = [c.name for c in stmt.selected_columns]
    writer: Callable[[IO[Any]], int]
    if fmt is Format.PARQUET:
        assert output is not None  # export() refuses a binary format on stdout
        return ExportResult(_atomic_path(output, lambda path: write_parquet(rows, stmt, path)), output)
    if fmt is Format.CSV:
        writer = lambda out: write_csv(rows, columns, out)  # noqa: E731
    elif fmt is Format.JSONL:
        writer = lambda out: write_jsonl(rows, columns, out)  # noqa: E731
    elif fmt is Format.NEXUS_JSON:
        writer = lambda out: write_nexus_jsonl(rows, out)  # noqa: E731
    elif fmt is Format.FIJI_CSV:
        writer = lambda out: write_fiji_csv(rows, out)  # noqa: E731
    else:
        writer = lambda out: write_omero_csv(rows, out)  # noqa: E731
    if output is None:
        count = writer(sys.stdout)
        sys.stdout.flush()
        return ExportResult(count, "-")
    return ExportResult(_atomic_text(output, writer), output)


def _atomic_path(target: str, write: Callable[[str], int]) -> int:
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".semingest-export-", dir=directory)
    os.close(fd)
    try:
        count = write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; an export is an ordinary file
        os.replace(tmp, target)
        return count
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_text(target: str, write: Callable[[IO[str]], int]) -> int:
    def to_path(path: str) -> int:
        with open(path, "w", encoding="utf-8", newline="") as out:
            return write(out)

    return _atomic_path(target, to_path)
