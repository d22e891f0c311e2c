"""The numbers behind the report's pictures, read from the database in one pass per table.

``collect(conn)`` returns a ``ReportData``: plain, JSON-serialisable numbers. The figures are
drawn from it and it is embedded in the report as JSON, so what the pictures show can be checked
against the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from ..database import queries as db_queries
from ..database import schema
from . import query
from .vocab import AGREEMENT_TOLERANCE, Agreement

im, ins, ps, inf, files = (
    schema.images,
    schema.instrument_meta,
    schema.pixel_size,
    schema.inference,
    schema.image_files,
)

UNKNOWN = "unknown"
# Metadata completeness: field label -> column (NULL = missing).
COMPLETENESS_FIELDS: tuple[tuple[str, sa.ColumnElement], ...] = (
    ("instrument", ins.c.model),
    ("pixel size", ins.c.pixel_size_m),
    ("voltage", ins.c.accelerating_voltage_v),
    ("working distance", ins.c.working_distance_m),
    ("magnification", ins.c.magnification),
    ("detector", ins.c.detector),
    ("acquired at", ins.c.acquired_at),
    ("vendor dictionary", ins.c.raw),
    ("scale-bar pixel size", ps.c.ocr_pixel_size_m),
)
SCORE_BINS = 20


@dataclass
class ReportData:
    totals: dict[str, int]
    pixel_pairs: list[tuple[str, float, float]]  # (vendor, metadata m, scale bar m)
    agreement_by_vendor: dict[str, dict[str, int]]
    inventory: list[tuple[str, str, int]]  # (vendor, instrument, images)
    acquisitions: dict[str, dict[str, int]]  # "YYYY-MM" -> vendor -> images
    completeness: dict[str, dict[str, int]]  # vendor -> field -> images with a value (and "images")
    failures_by_reason: list[tuple[str, int]]
    model: str | None
    categories: list[tuple[str, int]]
    score_histogram: list[int]  # SCORE_BINS counts of top-1 scores over [0, 1]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def collect(conn: sa.Connection, *, last_runs: int = 50) -> ReportData:
    vendor = sa.func.coalesce(im.c.vendor, UNKNOWN)
    summary = db_queries.database_summary(conn, last_runs=0)
    totals = {
        "images": summary["images"]["ok"] + summary["images"]["failed"],
        "images_failed": summary["images"]["failed"],
        "files": summary["files"]["total"],
        "files_failed": summary["files"]["failed"],
        "files_undecodable": summary["files"]["undecodable"],
        "duplicates": summary["duplicates"],
    }
    joined = im.outerjoin(ins, ins.c.image_hash == im.c.image_hash).outerjoin(
        ps, ps.c.image_hash == im.c.image_hash
    )

    pairs = [
        (str(v), float(m), float(o))
        for v, m, o in conn.execute(
            sa.select(vendor, ps.c.metadata_pixel_size_m, ps.c.ocr_pixel_size_m)
            .select_from(joined)
            .where(ps.c.metadata_pixel_size_m > 0, ps.c.ocr_pixel_size_m > 0)
            .order_by(im.c.image_hash)
        )
    ]
    agreement: dict[str, dict[str, int]] = {}
    agree_col = query.agreement_expr().label("agreement")
    for v, a, n in conn.execute(
        sa.select(vendor, agree_col, sa.func.count()).select_from(joined).group_by(vendor, agree_col)
    ):
        agreement.setdefault(str(v), {k.value: 0 for k in Agreement})[str(a)] = int(n)

    instrument = sa.func.coalesce(ins.c.model, UNKNOWN)
    inventory = [
        (str(v), str(m), int(n))
        for v, m, n in conn.execute(
            sa.select(vendor, instrument, sa.func.count())
            .select_from(joined)
            .group_by(vendor, instrument)
            .order_by(sa.func.count().desc(), vendor, instrument)
        )
    ]

    acquisitions: dict[str, Counter] = {}
    for v, when in conn.execute(
        sa.select(vendor, ins.c.acquired_at).select_from(joined).where(ins.c.acquired_at.is_not(None))
    ):
        acquisitions.setdefault(f"{when:%Y-%m}", Counter())[str(v)] += 1

    completeness: dict[str, dict[str, int]] = {}
    counted = [sa.func.count(col).label(f"f{i}") for i, (_name, col) in enumerate(COMPLETENESS_FIELDS)]
    for row in conn.execute(
        sa.select(vendor.label("vendor"), sa.func.count().label("images"), *counted)
        .select_from(joined)
        .group_by(vendor)
    ):
        m = row._mapping
        completeness[str(m["vendor"])] = {"images": int(m["images"])} | {
            name: int(m[f"f{i}"]) for i, (name, _col) in enumerate(COMPLETENESS_FIELDS)
        }

    model = query.default_model(conn)
    categories: list[tuple[str, int]] = []
    histogram = [0] * SCORE_BINS
    if model is not None:
        label = sa.func.coalesce(inf.c.top1_label, "(not classified)")
        categories = [
            (str(lab), int(n))
            for lab, n in conn.execute(
                sa.select(label, sa.func.count())
                .where(inf.c.model_id == model)
                .group_by(label)
                .order_by(sa.func.count().desc(), label)
            )
        ]
        for (score,) in conn.execute(
            sa.select(inf.c.top1_score).where(inf.c.model_id == model, inf.c.top1_score.is_not(None))
        ):
            histogram[score_bin(float(score))] += 1

    runs = [
        {
            "id": r["id"],
            "started_at": r["started_at"].isoformat() if r["started_at"] else None,
            "status": r["status"],
            "processed": int(r["processed"] or 0),
            "failed": int(r["failed"] or 0),
            "seconds": r["seconds"],
            "images_per_second": r["images_per_second"],
            "stage_seconds": r["stage_seconds"],
        }
        for r in reversed(query.run_list(conn, limit=last_runs))
    ]
    return ReportData(
        totals=totals,
        pixel_pairs=pairs,
        agreement_by_vendor=dict(sorted(agreement.items())),
        inventory=inventory,
        acquisitions={k: dict(sorted(v.items())) for k, v in sorted(acquisitions.items())},
        completeness=dict(sorted(completeness.items())),
        failures_by_reason=query.failures_by_reason(conn),
        model=model,
        categories=categories,
        score_histogram=histogram,
        runs=runs,
    )


def score_bin(score: float) -> int:
    """The histogram bin of a score in [0, 1] (1.0 falls in the last bin)."""
    return min(SCORE_BINS - 1, max(0, int(score * SCORE_BINS)))


def agreement_band() -> tuple[float, float]:
    return 1 - AGREEMENT_TOLERANCE, 1 + AGREEMENT_TOLERANCE
