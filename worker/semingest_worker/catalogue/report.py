"""The report: one self-contained HTML file (inline SVG pictures, no external resources).

``build_report(conn)`` collects the numbers and draws the pictures; ``render_report`` makes the
HTML document (also served at ``/report`` by the catalogue); ``write_report`` is
``semingest report``. The numbers are embedded as JSON (``<script id="report-data">``) next to
the tables, so what the pictures show can be checked against the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from . import figures, reportdata
from .templating import environment


@dataclass(frozen=True)
class Report:
    data: reportdata.ReportData
    figures: list[figures.Figure]
    generated_at: datetime
    database: str


def build_report(conn: sa.Connection, database: str) -> Report:
    data = reportdata.collect(conn)
    return Report(
        data=data,
        figures=figures.draw_all(data),
        generated_at=datetime.now(UTC).replace(microsecond=0),
        database=database,
    )


def render_report(report: Report, *, standalone: bool = True) -> str:
    data_json = json.dumps(report.data.as_json(), default=str, sort_keys=True).replace("</", "<\\/")
    template = environment().get_template("report.html")
    return template.render(report=report, data=report.data, data_json=data_json, standalone=standalone)


def write_report(engine: sa.Engine, database: str, out: Path) -> Report:
    with engine.connect() as conn:
        report = build_report(conn, database)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(report), encoding="utf-8")
    return report
