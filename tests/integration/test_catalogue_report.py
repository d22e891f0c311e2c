"""`semingest report` on both databases: every figure present and drawn, and the numbers in the
report equal to what plain SQL counts in the database."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from catalogue_data import MODEL_ID, classify, copy_database, ingest_sample
from mariadb_databases import mariadb_database

from semingest_worker.catalogue.figures import FIGURES
from semingest_worker.catalogue.vocab import reason_class
from semingest_worker.cli import main
from semingest_worker.database import create_engine

pytestmark = pytest.mark.mariadb

FIGURE_IDS = (
    "pixel-agreement",
    "agreement-by-vendor",
    "inventory",
    "acquisitions",
    "completeness",
    "failures",
    "categories",
    "runs",
)


@pytest.fixture(scope="module")
def sample_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{root / 'report.db'}"
    ingest_sample(root, url, count=12, seed=9)
    classify(url)
    return url


@pytest.fixture(scope="module")
def sample_mariadb(sample_sqlite: str, mariadb_server: str) -> Iterator[str]:
    with mariadb_database(mariadb_server, "semingest_rep") as url:
        copy_database(sample_sqlite, url)
        yield url


@pytest.fixture(params=["sqlite", "mariadb"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"sample_{request.param}")


@pytest.fixture
def report(url: str, tmp_path: Path) -> tuple[str, dict]:
    out = tmp_path / "out" / "report.html"
    assert main(["report", "--db", url, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    data = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)[1]
    )
    return html, data


def _sql(url: str, stmt: str, **params: object) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(stmt), params)]
    engine.dispose()
    return rows


def _figure(html: str, fig_id: str) -> str:
    match = re.search(rf'<figure id="fig-{fig_id}" class="report-figure">(.*?)</figure>', html, re.S)
    assert match, f"figure {fig_id} missing"
    return match[1]


def test_every_figure_is_present_and_drawn(report: tuple[str, dict]) -> None:
    html, _data = report
    assert len(FIGURES) == len(FIGURE_IDS)
    for fig_id in FIGURE_IDS:
        body = _figure(html, fig_id)
        svg = body[body.index("<svg") : body.index("</svg>")]
        assert "in the database" not in svg, f"{fig_id} drew no data"
        shapes = len(re.findall(r"<(?:path|rect|use)\b", svg))
        assert shapes >= 10, f"{fig_id}: only {shapes} shapes"
        assert re.search(r"<figcaption>\S.+</figcaption>", body)


def test_the_report_is_self_contained(report: tuple[str, dict]) -> None:
    html, _data = report
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "no external resources"
    assert "<script src" not in html


def test_totals_equal_the_database(report: tuple[str, dict], url: str) -> None:
    html, data = report
    totals = data["totals"]
    assert totals["images"] == _sql(url, "SELECT COUNT(*) FROM images")[0][0]
    assert totals["files"] == _sql(url, "SELECT COUNT(*) FROM image_files")[0][0]
    assert (
        totals["files_failed"] == _sql(url, "SELECT COUNT(*) FROM image_files WHERE status = 'failed'")[0][0]
    )
    assert (
        totals["files_undecodable"]
        == _sql(url, "SELECT COUNT(*) FROM image_files WHERE image_hash IS NULL")[0][0]
    )
    assert (
        totals["duplicates"]
        == _sql(
            url,
            "SELECT COUNT(*) FROM image_files f JOIN images i ON i.image_hash = f.image_hash AND f.path <> i.path",
        )[0][0]
    )
    for key, value in totals.items():
        assert f'data-key="{key}">{value:,}<' in html


def test_figure_numbers_equal_the_database(report: tuple[str, dict], url: str) -> None:
    _html, data = report
    both = _sql(
        url, "SELECT COUNT(*) FROM pixel_size WHERE metadata_pixel_size_m > 0 AND ocr_pixel_size_m > 0"
    )
    assert len(data["pixel_pairs"]) == both[0][0] > 0
    inventory = Counter(
        {
            (v or "unknown", m or "unknown"): n
            for v, m, n in _sql(
                url,
                "SELECT i.vendor, m.model, COUNT(*) FROM images i LEFT JOIN instrument_meta m "
                "ON m.image_hash = i.image_hash GROUP BY i.vendor, m.model",
            )
        }
    )
    assert Counter({(v, m): n for v, m, n in data["inventory"]}) == inventory
    agreement_total = sum(sum(c.values()) for c in data["agreement_by_vendor"].values())
    assert agreement_total == data["totals"]["images"]
    dated = _sql(
        url,
        "SELECT COUNT(*) FROM instrument_meta m JOIN images i ON i.image_hash = m.image_hash WHERE m.acquired_at IS NOT NULL",
    )
    assert sum(sum(c.values()) for c in data["acquisitions"].values()) == dated[0][0]
    for vendor, row in data["completeness"].items():
        expected = _sql(
            url,
            "SELECT COUNT(*), COUNT(m.pixel_size_m), COUNT(m.detector), COUNT(p.ocr_pixel_size_m) FROM images i "
            "LEFT JOIN instrument_meta m ON m.image_hash = i.image_hash "
            "LEFT JOIN pixel_size p ON p.image_hash = i.image_hash "
            "WHERE COALESCE(i.vendor, 'unknown') = :vendor",
            vendor=vendor,
        )[0]
        assert (row["images"], row["pixel size"], row["detector"], row["scale-bar pixel size"]) == expected
    failures = Counter()
    for (error,) in _sql(url, "SELECT error FROM image_files WHERE status = 'failed'"):
        failures[reason_class(error)] += 1
    assert dict(data["failures_by_reason"]) == dict(failures) and failures
    assert data["model"] == MODEL_ID
    categories = {
        (c or "(not classified)"): n
        for c, n in _sql(
            url,
            "SELECT top1_label, COUNT(*) FROM inference WHERE model_id = :model GROUP BY top1_label",
            model=MODEL_ID,
        )
    }
    assert dict(data["categories"]) == categories
    scored = [
        s
        for (s,) in _sql(
            url,
            "SELECT top1_score FROM inference WHERE model_id = :model AND top1_score IS NOT NULL",
            model=MODEL_ID,
        )
    ]
    assert sum(data["score_histogram"]) == len(scored) > 0
    assert data["score_histogram"][-1] == sum(1 for s in scored if s >= 0.95)
    (run,) = data["runs"]
    processed, seconds = _sql(url, "SELECT processed, seconds FROM ingest_runs")[0]
    assert run["processed"] == processed and run["images_per_second"] == pytest.approx(processed / seconds)


def test_report_tables_show_the_numbers(report: tuple[str, dict]) -> None:
    html, data = report
    table = re.search(r'<table id="table-inventory">(.*?)</table>', html, re.S)[1]
    for vendor, model, n in data["inventory"]:
        assert f'<td>{vendor}</td><td>{model}</td><td class="num">{n}</td>' in table


def test_report_refuses_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "--db", "postgresql://x/y", "-o", str(tmp_path / "r.html")]) == 1
    assert "unsupported database" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
