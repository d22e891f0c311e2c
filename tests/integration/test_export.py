"""``semingest export`` in every format and ``semingest show``, on SQLite and MariaDB: each export
is parsed back and compared with the tables; filters, bad input, empty databases."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from mariadb_databases import mariadb_database

from semingest_worker import cli
from semingest_worker.database import ImageWriter, create_engine, create_schema, runs, schema
from semingest_worker.database.imagequery import AGREEMENT_TOLERANCE
from semingest_worker.export import tabular
from semingest_worker.provenance import reader_version, semingest_version
from semingest_worker.records import (
    Classification,
    ImageFile,
    ImageResult,
    InstrumentMeta,
    MetadataResult,
    ScaleBarReading,
)

RUN = "run-export-1"
MODEL = "tiny-model@abc"


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _result(
    path: str,
    pixels: str | None,
    *,
    vendor: str | None = "zeiss",
    model: str = "Sigma 300",
    detector: str = "InLens",
    pixel_size: float | None = 2.5e-9,
    ocr: float | None = 2.5e-9,
    acquired: datetime = datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    label: str | None = "particles",
    status: str = "ok",
    raw: dict | None = None,
    pixel_height: float | None = None,
) -> ImageResult:
    file = ImageFile(path=path, size=1000 + len(path), mtime_ns=1_700_000_000_000_000_000)
    if pixels is None:
        return ImageResult(file=file, run_id=RUN, status="failed", error="not an image: truncated")
    return ImageResult(
        file=file,
        run_id=RUN,
        status=status,
        error="metadata: absurd magnification" if status == "failed" else None,
        image_hash=_hash(pixels),
        width=1024,
        height=768,
        mode="L",
        format="TIFF",
        page_count=1,
        metadata=MetadataResult(
            exif={"image_width": 1024, "software": "SmartSEM"},
            instrument=InstrumentMeta(
                vendor=vendor,
                model=model,
                pixel_size_m=pixel_size,
                pixel_size_y_m=pixel_height,
                accelerating_voltage_v=15000.0,
                working_distance_m=0.0085,
                magnification=25000.0,
                detector=detector,
                acquired_at=acquired,
                source="tiff:34118",
                raw=raw
                or {"AP_PIXEL_SIZE": "2.5 nm", "nested": {"list": [1, "µm"]}, "SV_SERIAL_NUMBER": "M-61"},
            ),
        ),
        scale_bar=ScaleBarReading(
            label_text="200 nm" if ocr else None,
            value=200.0 if ocr else None,
            unit="nm" if ocr else None,
            bar_px=200e-9 / ocr if ocr else None,
            pixel_size_m=ocr,
            style="zeiss_light" if ocr else None,
            reason=None if ocr else "no data bar",
        ),
        classification=Classification(MODEL, label, 0.9, {label: 0.9}) if label else None,
    )


FEI_RAW = {
    "System": {"Dnumber": "9920799", "SystemType": "Quanta FEG"},
    "Stage": {
        "StageX": "0.0196009",
        "StageY": "-0.00224334",
        "StageZ": "0.0208572",
        "StageR": "-0.208437",
        "StageT": "0",
    },
    "Scan": {"Dwelltime": "3e-006"},
}
RESULTS = [
    _result("/data/zeiss/a.tif", "a"),
    _result("/data/copies/a-copy.tif", "a"),  # duplicate of a
    _result("/data/fei/b.tif", "b", vendor="fei", model="Quanta", detector="ETD", pixel_size=1e-8, ocr=2e-8,
            acquired=datetime(2023, 1, 15, 8, 0, tzinfo=UTC), label="fibres", raw=FEI_RAW),
    _result("/data/other/c.tif", "c", vendor=None, pixel_size=None, ocr=4e-9, label="fibres"),
    _result("/data/zeiss/d 'quoted' µ.tif", "d", pixel_size=3e-9, pixel_height=3.5e-9, ocr=None, status="failed"),
    _result("/data/bad/e.tif", None),
]  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One populated database per backend for the whole module (the tests only read it)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'semingest.db'}"
        else:
            url = stack.enter_context(mariadb_database(request.getfixturevalue("mariadb_server")))
        engine = create_engine(url)
        create_schema(engine)
        with engine.begin() as conn:
            runs.start_run(conn, RUN, source="/data", model_id=MODEL, parameters={"source": "/data"})
        engine.dispose()
        with ImageWriter(url, model_id=MODEL) as writer:
            writer.write(RESULTS)
        yield url


def _tables(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {t.name: [dict(r) for r in conn.execute(sa.select(t)).mappings()] for t in schema.ALL_TABLES}
    engine.dispose()
    return out


def _expected_images(url: str) -> dict[str, dict[str, Any]]:
    """What each image row must say, computed here from the raw tables (not through the export's SQL)."""
    t = _tables(url)
    ins = {r["image_hash"]: r for r in t["instrument_meta"]}
    ps = {r["image_hash"]: r for r in t["pixel_size"]}
    inf = {r["image_hash"]: r for r in t["inference"]}
    out = {}
    for im in t["images"]:
        h = im["image_hash"]
        meta = ins[h]["pixel_size_m"]
        ocr = ps[h]["ocr_pixel_size_m"]
        if meta is not None and ocr is not None:
            agreement = "agree" if abs(ocr / meta - 1) <= AGREEMENT_TOLERANCE else "disagree"
        else:
            agreement = "metadata_only" if meta else "scale_bar_only" if ocr else "none"
        files = sum(1 for f in t["image_files"] if f["image_hash"] == h)
        out[im["path"]] = {
            "image_hash": h,
            "vendor": im["vendor"],
            "status": im["status"],
            "instrument": ins[h]["model"],
            "pixel_size_m": meta if meta is not None else ocr,
            "pixel_height_m": (ins[h]["pixel_size_y_m"] or meta) if meta is not None else ocr,
            "metadata_pixel_size_m": meta,
            "ocr_pixel_size_m": ocr,
            "pixel_size_agreement": agreement,
            "accelerating_voltage_kv": ins[h]["accelerating_voltage_v"] / 1000,
            "working_distance_mm": ins[h]["working_distance_m"] * 1000,
            "category": inf[h]["top1_label"] if h in inf else None,
            "files": files,
            "duplicates": files - 1,
            "vendor_metadata": json.loads(ins[h]["raw"]),
            "semingest_version": semingest_version(),
            "metadata_reader": reader_version("metadata"),
        }
    return out


def _export(url: str, tmp_path: Path, fmt: str, *extra: str) -> Path:
    out = tmp_path / f"out.{fmt}"
    assert cli.main(["export", "--db", url, "--format", fmt, "-o", str(out), *extra]) == 0
    return out


def _check_rows(rows: list[dict[str, Any]], expected: dict[str, dict[str, Any]], *, nested: bool) -> None:
    assert sorted(r["path"] for r in rows) == sorted(expected)
    for row in rows:
        want = expected[row["path"]]
        for key, value in want.items():
            if key == "vendor_metadata":
                if nested:
                    assert row[key] == value
                else:
                    assert key not in row
                continue
            got = row[key]
            if isinstance(value, float) and key.endswith(
                ("_kv", "_mm", "_nm")
            ):  # rounded to 1e-6 of the unit
                assert float(got) == pytest.approx(value, abs=1e-6), (row["path"], key)
            elif isinstance(value, float):
                assert float(got) == pytest.approx(value, rel=1e-12), (row["path"], key)
            elif isinstance(value, int) and not isinstance(value, bool):
                assert int(got) == value, (row["path"], key)
            elif value is None:
                assert got in (None, ""), (row["path"], key, got)
            else:
                assert got == value, (row["path"], key)
        if want["pixel_size_m"] is not None:
            assert float(row["pixel_size_nm"]) == pytest.approx(want["pixel_size_m"] * 1e9, abs=1e-6)


def test_csv_jsonl_parquet_hold_what_the_tables_hold(db_url: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    expected = _expected_images(db_url)
    assert len(expected) == 4 and {e["pixel_size_agreement"] for e in expected.values()} == {
        "agree",
        "disagree",
        "scale_bar_only",
        "metadata_only",
    }
    with _export(db_url, tmp_path, "csv").open(encoding="utf-8", newline="") as fh:
        _check_rows(list(csv.DictReader(fh)), expected, nested=False)
    lines = _export(db_url, tmp_path, "jsonl").read_text(encoding="utf-8").splitlines()
    _check_rows([json.loads(line) for line in lines], expected, nested=True)
    table = pq.read_table(_export(db_url, tmp_path, "parquet"))
    assert str(table.schema.field("pixel_size_nm").type) == "double"
    assert str(table.schema.field("files").type) == "int64"
    rows = table.to_pylist()
    for row in rows:
        row["vendor_metadata"] = json.loads(row["vendor_metadata"])
    _check_rows(rows, expected, nested=True)


def test_per_file_export_has_every_file_and_marks_the_canonical_one(db_url: str, tmp_path: Path) -> None:
    with _export(db_url, tmp_path, "csv", "--files").open(encoding="utf-8", newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {r.file.path for r in RESULTS}
    assert rows["/data/copies/a-copy.tif"]["is_canonical"] == "true"  # the smallest path wins
    assert rows["/data/zeiss/a.tif"]["is_canonical"] == "false"
    assert rows["/data/zeiss/a.tif"]["canonical_path"] == "/data/copies/a-copy.tif"
    assert rows["/data/bad/e.tif"]["file_status"] == "failed" and rows["/data/bad/e.tif"]["image_hash"] == ""
    lines = _export(db_url, tmp_path, "jsonl", "--files").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(RESULTS)


def test_parquet_is_written_in_row_groups(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setattr(tabular, "PARQUET_ROW_GROUP", 2)
    out = _export(db_url, tmp_path, "parquet", "--files")
    meta = pq.ParquetFile(out).metadata
    assert (meta.num_rows, meta.num_row_groups) == (6, 3)


def test_nexus_fiji_and_omero(db_url: str, tmp_path: Path) -> None:
    expected = _expected_images(db_url)
    event = "/ENTRY[entry1]/measurement/events/EVENT_DATA_EM[event_data_em1]"
    records = [json.loads(x) for x in _export(db_url, tmp_path, "nexus-json").read_text().splitlines()]
    assert len(records) == len(expected)
    for rec in records:
        want = expected[rec["path"]]
        nx = rec["nexus"]
        assert nx["/ENTRY[entry1]/definition"] == "NXem"
        voltage = f"{event}/instrument/ebeam_column/electron_source/voltage"
        assert (
            nx[voltage] == pytest.approx(want["accelerating_voltage_kv"] * 1000)
            and nx[f"{voltage}/@units"] == "V"
        )
        assert nx[f"{event}/instrument/optics/working_distance"] == pytest.approx(
            want["working_distance_mm"] / 1000
        )
        axis = nx[f"{event}/IMAGE[image1]/image_2d/axis_i"]
        assert axis == {"start": 0.0, "step": pytest.approx(want["pixel_size_m"]), "count": 1024}
        axis = nx[f"{event}/IMAGE[image1]/image_2d/axis_j"]
        assert axis == {"start": 0.0, "step": pytest.approx(want["pixel_height_m"]), "count": 768}
    fei = next(r for r in records if r["path"] == "/data/fei/b.tif")
    assert fei["nexus"]["/ENTRY[entry1]/measurement/instrument/fabrication/vendor"] == "FEI"
    assert fei["nexus"][f"{event}/start_time"] == "2023-01-15T08:00:00+00:00"
    assert fei["nexus"]["/ENTRY[entry1]/measurement/instrument/fabrication/serial_number"] == "9920799"
    assert fei["nexus"][f"{event}/instrument/stage/position"] == [0.0196009, -0.00224334, 0.0208572]
    assert fei["nexus"][f"{event}/instrument/stage/position/@units"] == "m"
    assert fei["nexus"][f"{event}/instrument/stage/rotation"] == pytest.approx(-0.208437)
    assert fei["nexus"][f"{event}/instrument/ebeam_column/scan_controller/dwell_time"] == pytest.approx(3e-6)
    zeiss = next(r for r in records if r["path"] == "/data/copies/a-copy.tif")
    assert zeiss["nexus"]["/ENTRY[entry1]/measurement/instrument/fabrication/serial_number"] == "M-61"
    assert not any("/stage/" in k for k in zeiss["nexus"])

    with _export(db_url, tmp_path, "fiji-csv").open(encoding="utf-8", newline="") as fh:
        fiji = list(csv.DictReader(fh))
    assert [list(r) for r in fiji][0] == ["path", "pixel_width", "pixel_height", "unit"]
    assert sorted(r["path"] for r in fiji) == sorted(p for p, e in expected.items() if e["pixel_size_m"])
    for r in fiji:
        want = expected[r["path"]]
        assert float(r["pixel_width"]) == pytest.approx(want["pixel_size_m"] * 1e9) and r["unit"] == "nm"
        assert float(r["pixel_height"]) == pytest.approx(want["pixel_height_m"] * 1e9)
    non_square = next(r for r in fiji if r["path"] == "/data/zeiss/d 'quoted' µ.tif")
    assert (non_square["pixel_width"], non_square["pixel_height"]) == ("3.0", "3.5")

    with _export(db_url, tmp_path, "omero-csv").open(encoding="utf-8", newline="") as fh:
        omero = list(csv.DictReader(fh))
    assert sorted(r["Image Name"] for r in omero) == sorted(Path(p).name for p in expected)
    for r in omero:
        assert float(r["Accelerating voltage (kV)"]) == pytest.approx(
            expected[r["Path"]]["accelerating_voltage_kv"]
        )


@pytest.mark.parametrize(
    ("args", "paths"),
    [
        (["--vendor", "FEI"], {"/data/fei/b.tif"}),
        (["--instrument", "Quanta"], {"/data/fei/b.tif"}),
        (["--detector", "ETD"], {"/data/fei/b.tif"}),
        (["--status", "failed"], {"/data/zeiss/d 'quoted' µ.tif"}),
        (["--category", "fibres"], {"/data/fei/b.tif", "/data/other/c.tif"}),
        (
            ["--since", "2024-01-01"],
            {"/data/copies/a-copy.tif", "/data/other/c.tif", "/data/zeiss/d 'quoted' µ.tif"},
        ),
        (["--until", "2023-01-15"], {"/data/fei/b.tif"}),
        (["--run", RUN, "--vendor", "zeiss"], {"/data/copies/a-copy.tif", "/data/zeiss/d 'quoted' µ.tif"}),
    ],
)
def test_filters(db_url: str, tmp_path: Path, args: list[str], paths: set[str]) -> None:
    lines = _export(db_url, tmp_path, "jsonl", *args).read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["path"] for line in lines} == paths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], "unknown format 'xlsx': valid formats are csv, jsonl, parquet, nexus-json"),
        (
            ["--format", "csv", "--vendor", "nikon"],
            "no image has vendor 'nikon': valid values are 'fei', 'zeiss'",
        ),
        (
            ["--format", "csv", "--status", "great"],
            "unknown status 'great': valid values are ok, failed, missing",
        ),
        (["--format", "csv", "--category", "cats"], "valid values are 'fibres', 'particles'"),
        (["--format", "csv", "--run", "nope"], f"no image has run_id 'nope': valid values are '{RUN}'"),
        (["--format", "csv", "--since", "yesterday"], "--since wants a date YYYY-MM-DD"),
        (["--format", "csv", "--since", "2024-02-01", "--until", "2024-01-01"], "the date range is empty"),
        (["--format", "parquet"], "binary format: give a file with -o FILE"),
        (["--format", "fiji-csv", "--files"], "--files is for csv, jsonl and parquet"),
    ],
)
def test_bad_input_is_a_clear_error(
    db_url: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", "--db", db_url, *args]) == 2
    assert message in capsys.readouterr().err


def test_empty_database_says_so(sqlite_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    engine = create_engine(sqlite_url)
    create_schema(engine)
    engine.dispose()
    out = tmp_path / "x.csv"
    assert cli.main(["export", "--db", sqlite_url, "--format", "csv", "-o", str(out)]) == 1
    assert "holds no images: nothing to export" in capsys.readouterr().err
    assert not out.exists()


def test_show_text_json_and_unknown(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["show", "/data/zeiss/a.tif", "--db", db_url]) == 0
    text = capsys.readouterr().out
    assert text.startswith("/data/copies/a-copy.tif\n")  # the canonical file heads the record
    assert "2 file(s), 1 duplicate(s)" in text and "/data/zeiss/a.tif" in text
    assert "pixel size 2.5 nm (from metadata; metadata 2.5 nm, scale bar 2.5 nm: agree)" in text
    assert "uncertainty ±1.2% (±1 px)" in text  # a 80 px bar
    assert f"category   particles (0.900)  model {MODEL}" in text

    assert cli.main(["show", _hash("b")[:12], "--db", db_url, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["image"]["path"] == "/data/fei/b.tif"
    assert record["image"]["pixel_size_agreement"] == "disagree"
    assert record["vendor_metadata"] == FEI_RAW
    assert record["scale_bar"]["ocr_relative_uncertainty"] == pytest.approx(1 / 10)
    assert record["runs"][0]["id"] == RUN and record["runs"][0]["semingest_version"] == semingest_version()

    assert cli.main(["show", "/data/bad/e.tif", "--db", db_url]) == 0
    assert "not decodable: status failed: not an image: truncated" in capsys.readouterr().out

    assert cli.main(["show", "/data/never.tif", "--db", db_url]) == 1
    assert "/data/never.tif is not ingested" in capsys.readouterr().err


def test_views_in_human_units_agree_with_the_export(db_url: str) -> None:
    expected = _expected_images(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT path, pixel_size_nm, accelerating_voltage_kv, working_distance_mm, category, duplicates FROM v_images"
            )
        ).all()
        files = conn.execute(sa.text("SELECT COUNT(*) FROM v_files")).scalar()
    engine.dispose()
    assert files == len(RESULTS)
    assert {r.path for r in rows} == set(expected)
    for r in rows:
        want = expected[r.path]
        assert r.accelerating_voltage_kv == pytest.approx(want["accelerating_voltage_kv"])
        assert r.working_distance_mm == pytest.approx(want["working_distance_mm"])
        assert r.category == want["category"] and r.duplicates == want["duplicates"]


def test_stdout_export(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "--db", db_url, "--format", "csv", "--vendor", "fei"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["path"] for r in rows] == ["/data/fei/b.tif"]
