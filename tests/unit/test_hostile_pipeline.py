"""Issue 13 item 1 end to end in one partition: special files, files swapped for a FIFO after
discovery and files that stall are recorded with their reason; the rest of the partition is
ingested (SQLite, no Spark)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from hostile_inputs import fifo

from semingest_worker import imageio, synth
from semingest_worker.budget import BudgetExceeded, time_budget
from semingest_worker.database import create_engine, create_schema
from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
from semingest_worker.pipeline import PipelineConfig, process_partition
from semingest_worker.records import ImageFile


def test_time_budget_interrupts_a_blocking_read() -> None:
    read_end, write_end = os.pipe()  # a writer exists, no data ever comes: read() blocks
    try:
        with pytest.raises(BudgetExceeded, match="time budget of 0.5 s"), time_budget(0.5):
            os.read(read_end, 1)
    finally:
        os.close(read_end)
        os.close(write_end)


def _failed(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT path, error FROM image_files WHERE status = 'failed'")).all()
    engine.dispose()
    return {os.path.basename(p): e for p, e in rows}


def test_partition_records_special_and_stuck_files_and_ingests_the_rest(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "src"
    images = synth.generate_corpus(src, 3, seed=1, duplicate_fraction=0)
    good = sorted(os.path.basename(i.path) for i in images)
    fifo(src / "pipe.tif")
    (src / "dangling.tif").symlink_to(src / "gone.tif")
    swapped = src / "swapped.tif"
    swapped.write_bytes(Path(images[0].path).read_bytes())
    listing = list_images(str(src), DEFAULT_INCLUDE)
    swapped.unlink()
    fifo(swapped)  # replaced by a FIFO after discovery: caught when opened
    stalled = ImageFile(path=str(src / "stalled.tif"), size=1, mtime_ns=1)

    real_decode = imageio.decode_image

    def decode(path, **kw):
        if os.path.basename(path) == "stalled.tif":
            read_end, _write_end = os.pipe()
            os.read(read_end, 1)  # a hung mount: blocks until the budget interrupts it
        return real_decode(path, **kw)

    monkeypatch.setattr(imageio, "decode_image", decode)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    create_schema(create_engine(url))
    config = PipelineConfig(database_url=url, run_id="r1", file_time_budget_seconds=1.0)
    counters = process_partition([*listing.files, stalled], config)

    assert counters.processed == len(listing.files) + 1
    failed = _failed(url)
    assert failed["pipe.tif"] == "not a regular file: a FIFO (named pipe)"
    assert failed["swapped.tif"] == "not a regular file: a FIFO (named pipe)"
    assert failed["dangling.tif"].startswith("a dangling symbolic link")
    assert failed["stalled.tif"].startswith("reading the file took longer than its time budget of 1 s")
    assert not set(good) & set(failed)
    assert counters.failed == 4
