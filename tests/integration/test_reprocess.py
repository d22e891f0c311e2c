"""Provenance and ``semingest run --reprocess``: rows record who wrote them; only images whose rows
came from an older reader are re-extracted, the others are left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_worker.database import create_engine, schema
from semingest_worker.provenance import reader_version, reader_versions, semingest_version

REPO = Path(__file__).resolve().parents[2]
SEMINGEST = [sys.executable, "-m", "semingest_worker.cli"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)


def _ingest(images: Path, db: str, *extra: str) -> dict:
    out = _run([*SEMINGEST, "run", str(images), "--db", db, "--master", "local[2]", "--json", *extra])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.spark
@pytest.mark.mariadb
@pytest.mark.slow
def test_reprocess_re_extracts_only_rows_from_an_older_reader(tmp_path: Path, mariadb_url: str) -> None:
    """Through Spark on MariaDB (tests/unit/test_provenance.py covers the selection on both backends)."""
    db = mariadb_url
    images = tmp_path / "images"
    gen = _run([*SEMINGEST, "generate", str(images), "--count", "4", "--seed", "5", "--size", "400x300",
                "--duplicate-fraction", "0"])  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    first = _ingest(images, db)
    assert first["processed"] == 4

    engine = create_engine(db)
    im, ps, ins, runs = schema.images, schema.pixel_size, schema.instrument_meta, schema.ingest_runs
    with engine.connect() as conn:
        # Provenance: every row says which release and which reader wrote it; the run its parameters.
        assert set(conn.execute(sa.select(im.c.semingest_version)).scalars()) == {semingest_version()}
        assert set(conn.execute(sa.select(ins.c.reader_version)).scalars()) == {reader_version("metadata")}
        assert set(conn.execute(sa.select(ps.c.reader_version)).scalars()) == {reader_version("scalebar")}
        run = conn.execute(sa.select(runs).where(runs.c.id == first["run_id"])).mappings().one()
        assert json.loads(run["reader_versions"]) == reader_versions()
        params = json.loads(run["parameters"])
        assert (
            params["source"] == str(images)
            and params["scale_bar"] is True
            and "password" not in run["parameters"]
        )
        hashes = sorted(conn.execute(sa.select(im.c.image_hash)).scalars())
    # One image's scale-bar rows came from an "older reader"; another's metadata rows did.
    stale_bar, stale_meta = hashes[0], hashes[1]
    with engine.begin() as conn:
        conn.execute(sa.update(ps).where(ps.c.image_hash == stale_bar).values(reader_version="scalebar/0"))
        conn.execute(sa.update(ins).where(ins.c.image_hash == stale_meta).values(reader_version=None))

    bar_only = _ingest(images, db, "--reprocess", "--stage", "scalebar")
    assert (bar_only["processed"], bar_only["skipped"]) == (1, 3)
    with engine.connect() as conn:
        rows = {r.image_hash: r for r in conn.execute(sa.select(im.c.image_hash, im.c.run_id))}
        assert rows[stale_bar].run_id == bar_only["run_id"]  # re-extracted by the new run
        assert {rows[h].run_id for h in hashes if h != stale_bar} == {first["run_id"]}  # untouched
        bar = conn.execute(sa.select(ps.c.reader_version).where(ps.c.image_hash == stale_bar)).scalar_one()
        assert bar == reader_version("scalebar")

    with engine.connect() as conn:  # the stale metadata rows wait for a --stage metadata run
        meta = conn.execute(
            sa.select(ins.c.reader_version).where(ins.c.image_hash == stale_meta)
        ).scalar_one()
        assert meta is None
    engine.dispose()


def test_stage_needs_reprocess() -> None:
    out = _run([*SEMINGEST, "run", "/nonexistent", "--stage", "scalebar"])
    assert out.returncode == 2 and "--stage goes with --reprocess" in out.stderr
    bad = _run([*SEMINGEST, "run", "/nonexistent", "--reprocess", "--stage", "ocr"])
    assert bad.returncode == 2 and "invalid choice: 'ocr'" in bad.stderr
    # A stage this run does not run cannot be redone (its stale rows would stay stale forever).
    off = _run([*SEMINGEST, "run", "/nonexistent", "--reprocess", "--stage", "inference"])
    assert (
        off.returncode == 2
        and "--stage inference: this run does not run that stage (give --model)" in off.stderr
    )
    off = _run([*SEMINGEST, "run", "/nonexistent", "--reprocess", "--stage", "scalebar", "--no-scale-bar"])
    assert off.returncode == 2 and "(drop --no-scale-bar)" in off.stderr
