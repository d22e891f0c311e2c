"""A small ingested database for the catalogue's tests (test helper).

``ingest_sample`` writes synthetic SEM images (several vendors, duplicates, the bad inputs) and
ingests them with the real pipeline (``process_partition``, no Spark: decode, metadata, scale
bar, thumbnails, database) as one recorded run. ``classify`` then records top-1 categories for a
model the way the inference stage's rows look (the catalogue only reads them; the classifier
itself is tested elsewhere). ``copy_database`` copies every table to another database, so
SQLite and MariaDB hold exactly the same rows.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import sqlalchemy as sa

from semingest_api.spec import DEFAULT_LABELS
from semingest_worker import synth
from semingest_worker.database import create_engine, create_schema, queries, runs, schema
from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
from semingest_worker.pipeline import PipelineConfig, process_partition

RUN_ID = "run-catalogue-test"
MODEL_ID = "tiny-model@sha256:0123"
STYLES = ("zeiss", "zeiss_black", "fei", "tescan", "jeol", "hitachi")


def ingest_sample(root: Path, url: str, *, count: int = 14, seed: int = 5) -> dict[str, object]:
    images = synth.generate_corpus(
        root / "images", count, seed=seed, size=(640, 480), styles=STYLES, duplicate_fraction=0.2, workers=1
    )
    bad = synth.write_bad_inputs(root / "images")
    engine = create_engine(url)
    create_schema(engine)
    listing = list_images(str(root / "images"), DEFAULT_INCLUDE)
    with engine.begin() as conn:
        runs.start_run(conn, RUN_ID, source=str(root / "images"), model_id=MODEL_ID)
    started = time.perf_counter()
    counters = process_partition(listing.files, PipelineConfig(database_url=url, run_id=RUN_ID))
    with engine.begin() as conn:
        duplicates = queries.count_duplicates(conn, RUN_ID)
        counts = {
            "discovered": len(listing.files),
            "skipped": 0,
            "processed": counters.processed,
            "failed": counters.failed,
            "duplicates": duplicates,
        }
        runs.finish_run(
            conn,
            RUN_ID,
            status="succeeded",
            counts=counts,
            stage_seconds=counters.stage_seconds,
            seconds=time.perf_counter() - started,
            summary={"stage_seconds": counters.stage_seconds},
        )
    engine.dispose()
    return {"images": images, "bad": bad, "counters": counters}


def classify(url: str, model_id: str = MODEL_ID) -> None:
    """Inference rows for every image: a label and score derived from its hash; one in seven unclassified."""
    engine = create_engine(url)
    with engine.begin() as conn:
        hashes = [h for (h,) in conn.execute(sa.select(schema.images.c.image_hash).order_by("image_hash"))]
        rows = []
        for i, h in enumerate(hashes):
            digest = hashlib.sha256(h.encode()).digest()
            if i % 7 == 3:
                rows.append(
                    {"image_hash": h, "model_id": model_id, "top1_label": None, "top1_score": None}
                    | {"scores": None, "error": "image too small for the model"}
                )
                continue
            label = DEFAULT_LABELS[digest[0] % len(DEFAULT_LABELS)]
            score = 0.3 + 0.7 * digest[1] / 255
            other = DEFAULT_LABELS[(digest[0] + 1) % len(DEFAULT_LABELS)]
            rows.append(
                {
                    "image_hash": h,
                    "model_id": model_id,
                    "top1_label": label,
                    "top1_score": score,
                    "scores": json.dumps({label: score, other: 1 - score}),
                    "error": None,
                }
            )
        conn.execute(sa.insert(schema.inference), rows)
    engine.dispose()


def copy_database(src_url: str, dst_url: str) -> None:
    src, dst = create_engine(src_url), create_engine(dst_url)
    create_schema(dst)
    with src.connect() as read, dst.begin() as write:
        for table in schema.ALL_TABLES:
            rows = [dict(r._mapping) for r in read.execute(sa.select(table))]
            if rows:
                write.execute(sa.insert(table), rows)
    src.dispose()
    dst.dispose()
