"""CSV, JSON Lines and Parquet: the image (or file) rows as they are, column for column.

* CSV: a header, one line per row; the vendor dictionary is left out (CSV is flat; use jsonl or
  parquet for it), the files' sidecar list is JSON text.
* JSON Lines: one object per line; the vendor dictionary and the sidecar list are nested JSON.
* Parquet: typed columns (float64, int64, timestamp, bool, string); the vendor dictionary is a
  JSON-typed column (Arrow's JSON extension type, stored as Parquet's JSON logical type). Written
  in row groups of ``PARQUET_ROW_GROUP`` rows, so memory stays bounded however many images.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

import sqlalchemy as sa

from .values import JSON_COLUMNS, csv_value, json_row, plain

PARQUET_ROW_GROUP = 10_000
CSV_LEFT_OUT = frozenset({"vendor_metadata"})


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    names = [c for c in columns if c not in CSV_LEFT_OUT]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    count = 0
    for row in rows:
        writer.writerow([csv_value(row[c]) for c in names])
        count += 1
    return count


def write_jsonl(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(json_row({c: row[c] for c in columns}), ensure_ascii=False, allow_nan=False))
        out.write("\n")
        count += 1
    return count


def arrow_type(column: sa.ColumnElement) -> Any:
    """The Arrow type of a selected column (from its SQLAlchemy type)."""
    import pyarrow as pa

    if column.name in JSON_COLUMNS:
        return pa.json_(pa.string())
    t = column.type
    if isinstance(t, sa.Boolean):
        return pa.bool_()
    if isinstance(t, sa.Integer):
        return pa.int64()
    if isinstance(t, sa.Float | sa.Numeric):
        return pa.float64()
    if isinstance(t, sa.DateTime):
        return pa.timestamp("s")
    return pa.string()


def write_parquet(rows: Iterable[dict[str, Any]], stmt: sa.Select, path: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(stmt.selected_columns)
    schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in columns])
    names = [c.name for c in columns]
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        batch: dict[str, list[Any]] = {n: [] for n in names}
        for row in rows:
            for n in names:
                batch[n].append(_parquet_value(n, row[n]))
            count += 1
            if count % PARQUET_ROW_GROUP == 0:
                writer.write_table(pa.Table.from_pydict(batch, schema=schema))
                batch = {n: [] for n in names}
        if batch[names[0]] or count == 0:
            writer.write_table(pa.Table.from_pydict(batch, schema=schema))
    return count


def _parquet_value(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS or isinstance(value, str):
        return value
    if isinstance(value, float):
        return plain(value)
    return value
