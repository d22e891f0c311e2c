"""Issue 13 item 2 against the real MariaDB: files with megabytes of metadata are ingested with
bounded values (and a note of what was cut) in one go, never retried as an outage; a record that
still exceeds the server's packet is that file's failure, not the run's."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from hostile_inputs import huge_metadata_tiff, many_private_tags_tiff

from semingest_worker import synth
from semingest_worker.database import ImageWriter, create_engine, create_schema
from semingest_worker.database.rows import JSON_LIMIT, TEXT_VALUE_LIMIT
from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
from semingest_worker.pipeline import PipelineConfig, process_partition
from semingest_worker.records import ImageFile, ImageResult

pytestmark = [pytest.mark.mariadb]


def test_megabytes_of_metadata_are_bounded_not_an_outage(tmp_path: Path, mariadb_url: str) -> None:
    src = tmp_path / "src"
    synth.generate_corpus(src, 2, seed=5, duplicate_fraction=0)
    huge_metadata_tiff(src / "huge_value.tif")
    many_private_tags_tiff(src / "many_tags.tif")
    create_schema(create_engine(mariadb_url))
    config = PipelineConfig(database_url=mariadb_url, run_id="r1", retry_deadline_seconds=5)
    counters = process_partition(list_images(str(src), DEFAULT_INCLUDE).files, config)
    assert counters.processed == 4 and counters.database_retries == 0 and counters.rejected_by_database == 0
    engine = create_engine(mariadb_url)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT path, status FROM image_files")).all())
        desc = conn.execute(
            sa.text(
                "SELECT e.image_description FROM exif_meta e JOIN images i USING (image_hash) "
                "WHERE i.path LIKE '%huge_value.tif'"
            )
        ).scalar_one()
        raw = conn.execute(
            sa.text(
                "SELECT m.raw FROM instrument_meta m JOIN images i USING (image_hash) "
                "WHERE i.path LIKE '%many_tags.tif'"
            )
        ).scalar_one()
    engine.dispose()
    assert set(statuses.values()) == {"ok"}, statuses
    assert len(desc) <= TEXT_VALUE_LIMIT + 100 and desc.startswith("x" * 1000)
    assert re.search(r"\[(truncated|cut:) \d+ (more )?char", desc[-60:]), desc[-60:]  # says what was cut
    vendor = json.loads(raw)
    assert len(raw) <= JSON_LIMIT
    assert re.fullmatch(
        r"kept \d+ of 49\d\d entries; the value had 2\d{7} characters", vendor["semingest:truncated"]
    )


def test_a_record_over_the_servers_packet_fails_alone(tmp_path: Path, mariadb_url: str) -> None:
    create_schema(create_engine(mariadb_url))
    good = synth.generate_corpus(tmp_path, 2, seed=6, duplicate_fraction=0)
    results = [
        ImageResult(
            file=ImageFile(path=g.path, size=os.path.getsize(g.path), mtime_ns=1), run_id="r", status="ok"
        )
        for g in good
    ]
    results[1].error = "y" * 450  # within the reason bound; the tiny packet below refuses it
    with ImageWriter(mariadb_url, retry_deadline_seconds=5) as writer:
        writer.write([])  # nothing to write; connect through a real write below
        writer._connection()
        assert writer._max_packet and writer._max_packet >= 1024 * 1024  # read from the server
        writer._max_packet = 600  # as if the server were configured with a tiny packet
        outcome = writer.write(results)
    assert outcome.retries == 0
    [(position, reason)] = outcome.rejected.items()
    assert position == 1  # the second result of the batch
    assert reason.startswith("the record is ") and "max_allowed_packet 600 bytes" in reason
