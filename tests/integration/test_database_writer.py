"""The database stage on the real backends (SQLite and MariaDB): schema, bulk idempotent upserts,
duplicates, undecodable files, SQL-looking text, values the database refuses, run book-keeping."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from semingest_worker.database import ImageWriter, create_engine, create_schema, queries, runs, schema
from semingest_worker.identity import path_key
from semingest_worker.metadata.exif import EXIF_COLUMNS
from semingest_worker.records import (
    Classification,
    ImageFile,
    ImageResult,
    InstrumentMeta,
    MetadataResult,
    ScaleBarGeometry,
    ScaleBarReading,
    Thumbnail,
)

RUN = "run-test-1"
SQL_NAME = "x'; DROP TABLE images; --\"`.tif"
SQL_TEXT = "Robert'); DROP TABLE students;-- \\ % _ \U0001f52c µm \t tab"


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "mariadb_url")
    engine = create_engine(url)
    create_schema(engine)
    engine.dispose()
    return url


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def result(
    path: str,
    pixels: str | None = "p",
    *,
    model: str = "Sigma",
    pixel_size: float | None = 2.5e-9,
    status: str = "ok",
    error: str | None = None,
    mtime_ns: int = 1_700_000_000_000_000_000,
    exif: dict | None = None,
    classification: Classification | None = None,
    width: int = 64,
    vendor: str | None = "zeiss",
) -> ImageResult:
    file = ImageFile(path=path, size=1234, mtime_ns=mtime_ns)
    if pixels is None:
        return ImageResult(file=file, run_id=RUN, status="failed", error=error or "not an image: text")
    return ImageResult(
        file=file,
        run_id=RUN,
        status=status,
        error=error,
        image_hash=_hash(pixels),
        width=width,
        height=48,
        mode="L",
        format="TIFF",
        page_count=1,
        metadata=MetadataResult(
            exif=exif if exif is not None else {"image_width": width, "software": "SmartSEM"},
            instrument=InstrumentMeta(
                vendor=vendor,
                model=model,
                pixel_size_m=pixel_size,
                accelerating_voltage_v=5000.0,
                acquired_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
                source="tiff:34118",
                raw={"AP_PIXEL_SIZE": "2.5 nm", "nested": {"nan": float("nan")}},
                pixel_size_y_m=pixel_size,
                provenance={"pixel_size_m": "AP_PIXEL_SIZE: agrees with AP_WIDTH / image width ... µm"},
            ),
        ),
        scale_bar=ScaleBarReading(
            label_text="200 nm",
            value=200.0,
            unit="nm",
            bar_px=80.0,
            pixel_size_m=2.5e-9,
            style="zeiss_light",
            geometry=ScaleBarGeometry(
                databar_rows=(40, 48),
                bar_box=(4, 44, 84, 45),
                bar_ends=(4.5, 84.5),
                label_box=(30, 41, 60, 43),
            ),
        ),
        classification=classification,
        thumbnail=Thumbnail(data=b"RIFF" + pixels.encode() + b"\x00\xff", format="webp", width=64, height=48),
    )


def _write(url: str, results: list[ImageResult], **kw) -> object:
    with ImageWriter(url, retry_deadline_seconds=5, **kw) as writer:
        return writer.write(results)


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = queries.table_counts(conn)
    engine.dispose()
    return counts


def _digests(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        digests = queries.content_digests(conn)
    engine.dispose()
    return digests


def _rows(url: str, stmt) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    engine.dispose()
    return rows


def test_schema_is_created_idempotently_with_one_column_per_exif_tag(db_url: str) -> None:
    engine = create_engine(db_url)
    create_schema(engine)  # a second time: no error, nothing changed
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    assert {t.name for t in schema.ALL_TABLES} <= tables
    exif_columns = {c["name"] for c in inspector.get_columns("exif_meta")}
    provenance = {"semingest_version", "reader_version"}
    assert exif_columns == {"image_hash"} | {c.name for c in EXIF_COLUMNS} | provenance
    assert set(inspector.get_pk_constraint("inference")["constrained_columns"]) == {"image_hash", "model_id"}
    assert inspector.get_pk_constraint("image_files")["constrained_columns"] == ["path_key"]
    engine.dispose()


def test_batch_writes_every_table_and_rewriting_it_adds_nothing(db_url: str) -> None:
    cls = Classification(
        model_id="m1", top1_label="fibres", top1_score=0.9, scores={"fibres": 0.9, "tips": 0.1}
    )
    batch = [result(f"/data/{i:03d}.tif", pixels=f"p{i}", classification=cls) for i in range(40)]
    batch.append(result("/data/bad.tif", pixels=None, error="truncated TIFF: file has 10 bytes"))
    outcome = _write(db_url, batch, model_id="m1")
    assert outcome.files == 41 and not outcome.rejected
    expected = {
        "image_files": 41,
        "images": 40,
        "exif_meta": 40,
        "instrument_meta": 40,
        "pixel_size": 40,
        "inference": 40,
        "thumbnails": 40,
        "ingest_runs": 0,
        "ocr_labels": 0,
    }
    assert _counts(db_url) == expected
    before = _digests(db_url)
    _write(db_url, batch, model_id="m1")  # a retried task or a re-run writes the same keys again
    assert _counts(db_url) == expected
    assert _digests(db_url) == before

    f = schema.image_files
    (bad,) = _rows(
        db_url, sa.select(f.c.image_hash, f.c.status, f.c.error).where(f.c.path == "/data/bad.tif")
    )
    assert bad == (None, "failed", "truncated TIFF: file has 10 bytes")
    ps = schema.pixel_size
    (row,) = _rows(db_url, sa.select(ps).where(ps.c.image_hash == _hash("p3")))
    assert row.metadata_pixel_size_m == pytest.approx(2.5e-9)
    assert row.ocr_pixel_size_m == pytest.approx(2.5e-9)
    assert row.ratio == pytest.approx(1.0)
    assert (row.scale_bar_text, row.scale_bar_px, row.style) == ("200 nm", 80.0, "zeiss_light")
    ex = schema.exif_meta
    (exif,) = _rows(
        db_url, sa.select(ex.c.image_width, ex.c.software, ex.c.make).where(ex.c.image_hash == _hash("p3"))
    )
    assert exif == (64, "SmartSEM", None)  # absent tag: NULL
    ins = schema.instrument_meta
    (meta,) = _rows(
        db_url,
        sa.select(ins.c.acquired_at, ins.c.raw, ins.c.pixel_size_y_m, ins.c.provenance).where(
            ins.c.image_hash == _hash("p3")
        ),
    )
    assert meta.acquired_at == datetime(2024, 5, 1, 12, 30)
    assert '"nan": null' in meta.raw  # non-finite floats stored as JSON null, never NaN
    assert meta.pixel_size_y_m == pytest.approx(2.5e-9)
    assert json.loads(meta.provenance) == {
        "pixel_size_m": "AP_PIXEL_SIZE: agrees with AP_WIDTH / image width ... µm"
    }


def test_duplicates_keep_the_smallest_path_whatever_the_write_order(db_url: str, tmp_path) -> None:
    a = result("/data/a.tif", pixels="same", model="from-a")
    b = result("/data/b.tif", pixels="same", model="from-b")
    _write(db_url, [b])
    _write(db_url, [a])
    first = _digests(db_url)
    im, ins = schema.images, schema.instrument_meta
    assert _rows(db_url, sa.select(im.c.path)) == [("/data/a.tif",)]
    assert _rows(db_url, sa.select(ins.c.model)) == [("from-a",)]
    # The other order (and both in one batch) ends in the same rows.
    _write(db_url, [a, b])
    _write(db_url, [b])
    assert _digests(db_url) == first
    counts = _counts(db_url)
    assert counts["image_files"] == 2 and counts["images"] == 1
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert queries.count_duplicates(conn) == 1
    engine.dispose()


def test_the_best_copy_is_canonical_whatever_the_write_order(db_url: str) -> None:
    original = result("/data/z/original.tif", pixels="same", model="original")  # ok, vendor metadata
    stripped = result("/data/a/copy.tif", pixels="same", model=None, vendor=None, pixel_size=None)
    broken = result(
        "/data/b/broken.tif", pixels="same", model="broken", status="failed", error="absurd voltage"
    )
    engine = create_engine(db_url)
    finals = []
    for order in ([original, stripped, broken], [stripped, broken, original], [broken, original, stripped]):
        with engine.begin() as conn:
            for table in schema.ALL_TABLES:
                conn.execute(sa.delete(table))
        for r in order:
            _write(db_url, [r])
        finals.append(_digests(db_url))
        im, ins = schema.images, schema.instrument_meta
        assert _rows(db_url, sa.select(im.c.path, im.c.status, im.c.canonical_rank)) == [
            ("/data/z/original.tif", "ok", 0)
        ]
        assert _rows(db_url, sa.select(ins.c.model)) == [("original",)]
    engine.dispose()
    assert finals[0] == finals[1] == finals[2]


def test_sql_looking_names_and_metadata_round_trip_verbatim(db_url: str) -> None:
    path = f"/data/{SQL_NAME}"
    r = result(path, pixels="sql", model=SQL_TEXT, exif={"software": SQL_TEXT, "artist": "O'Brien; --"})
    _write(db_url, [r])
    f, ins, ex = schema.image_files, schema.instrument_meta, schema.exif_meta
    assert _rows(db_url, sa.select(f.c.path, f.c.path_key)) == [(path, path_key(path))]
    assert _rows(db_url, sa.select(ins.c.model)) == [(SQL_TEXT,)]
    assert _rows(db_url, sa.select(ex.c.software, ex.c.artist)) == [(SQL_TEXT, "O'Brien; --")]
    assert _counts(db_url)["images"] == 1  # and the images table is still there


def test_undecodable_file_fixed_later_is_reingested_cleanly(db_url: str) -> None:
    _write(db_url, [result("/data/x.tif", pixels=None, error="empty file (0 bytes)", mtime_ns=1)])
    _write(db_url, [result("/data/x.tif", pixels="fixed", mtime_ns=2)])
    f = schema.image_files
    assert _rows(db_url, sa.select(f.c.mtime_ns, f.c.image_hash, f.c.status, f.c.error)) == [
        (2, _hash("fixed"), "ok", None)
    ]
    assert _counts(db_url)["images"] == 1


def test_a_file_with_new_pixels_leaves_no_orphan_after_pruning(db_url: str) -> None:
    _write(db_url, [result("/data/x.tif", pixels="old", mtime_ns=1, status="failed", error="absurd voltage")])
    _write(db_url, [result("/data/x.tif", pixels="new", mtime_ns=2)])
    engine = create_engine(db_url)
    with engine.begin() as conn:
        assert queries.prune_orphans(conn) == 1
    engine.dispose()
    counts = _counts(db_url)
    assert counts["images"] == counts["exif_meta"] == counts["pixel_size"] == counts["instrument_meta"] == 1
    im = schema.images
    assert _rows(db_url, sa.select(im.c.image_hash, im.c.status)) == [(_hash("new"), "ok")]


def test_known_files_skip_by_path_size_mtime_and_per_model(db_url: str) -> None:
    cls = Classification(model_id="m1", top1_label="tips", top1_score=1.0, scores={"tips": 1.0})
    _write(db_url, [result("/src/a.tif", pixels="a", classification=cls)], model_id="m1")
    _write(db_url, [result("/src/b.tif", pixels="b"), result("/src/c.tif", pixels=None)])
    _write(db_url, [result("/elsewhere/d.tif", pixels="d")])
    engine = create_engine(db_url)
    with engine.connect() as conn:
        all_known = queries.known_files(conn, "/src")
        with_m1 = queries.known_files(conn, "/src", model_id="m1")
    engine.dispose()
    assert set(all_known) == {path_key(p) for p in ("/src/a.tif", "/src/b.tif", "/src/c.tif")}
    assert all_known[path_key("/src/a.tif")] == (1234, 1_700_000_000_000_000_000, None)
    # b has no inference row for m1: a run with that model processes it again; c has no pixels.
    assert set(with_m1) == {path_key("/src/a.tif"), path_key("/src/c.tif")}


@pytest.mark.mariadb
def test_a_value_the_database_refuses_fails_only_its_image(mariadb_url: str) -> None:
    engine = create_engine(mariadb_url)
    create_schema(engine)
    engine.dispose()
    batch = [result(f"/data/{i}.tif", pixels=f"p{i}") for i in range(9)]
    batch.insert(4, result("/data/huge.tif", pixels="huge", width=2**40))  # images.width is INT
    outcome = _write(mariadb_url, batch)
    assert list(outcome.rejected) == [4]  # its position in the batch
    assert "database rejected the record" in outcome.rejected[4]
    assert "Out of range" in outcome.rejected[4]
    counts = _counts(mariadb_url)
    assert counts["image_files"] == 10 and counts["images"] == 9
    f = schema.image_files
    (row,) = _rows(
        mariadb_url, sa.select(f.c.status, f.c.image_hash, f.c.error).where(f.c.path == "/data/huge.tif")
    )
    assert row.status == "failed" and row.image_hash is None and "Out of range" in row.error


def test_unreachable_database_fails_after_the_deadline_with_a_clear_error() -> None:
    import time

    from semingest_worker.database import DatabaseUnavailableError

    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as info:
        with ImageWriter("mysql+pymysql://root@127.0.0.1:1/nothing", retry_deadline_seconds=1.5) as writer:
            writer.write([result("/data/a.tif")])
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 10
    message = str(info.value)
    assert "database unreachable" in message and "retry deadline 1.5 s" in message and "2003" in message


def test_run_bookkeeping_and_interrupted_runs(db_url: str) -> None:
    engine = create_engine(db_url)
    # A driver process that is gone: a child that has exited.
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(child.stdout)
    with engine.begin() as conn:
        runs.start_run(conn, "r-dead", source="/src", model_id=None)
        conn.execute(
            sa.update(schema.ingest_runs)
            .values(driver_pid=dead_pid)
            .where(schema.ingest_runs.c.id == "r-dead")
        )
        runs.start_run(conn, "r-live", source="/src", model_id=None)
        conn.execute(
            sa.update(schema.ingest_runs)
            .values(driver_pid=os.getppid())
            .where(schema.ingest_runs.c.id == "r-live")
        )
        runs.start_run(conn, "r1", source="/src", model_id="m")
        runs.heartbeat(conn, "r1", {"discovered": 10, "processed": 4})
        assert runs.mark_interrupted_runs(conn) == ["r-dead"]
        runs.finish_run(
            conn,
            "r1",
            status="failed",
            counts={"discovered": 10, "skipped": 0, "processed": 6, "failed": 1, "duplicates": 2},
            stage_seconds={"metadata": 1.5, "database": 0.25},
            seconds=3.0,
            error="database unreachable",
            summary={"per_vendor": {"zeiss": {"images": 5}}},
        )
        r1 = runs.get_run(conn, "r1")
        dead = runs.get_run(conn, "r-dead")
        live = runs.get_run(conn, "r-live")
    engine.dispose()
    assert dead["status"] == "failed" and f"driver process {dead_pid}" in dead["error"]
    assert live["status"] == "running"
    assert (r1["status"], r1["processed"], r1["failed"], r1["duplicates"]) == ("failed", 6, 1, 2)
    assert (
        r1["metadata_seconds"] == 1.5
        and r1["database_seconds"] == 0.25
        and r1["error"] == "database unreachable"
    )
    assert r1["finished_at"] is not None and '"zeiss"' in r1["summary"]
