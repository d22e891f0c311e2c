"""How fast the catalogue answers on a large database (default 150,000 images): JSON on stdout.

    python bench/catalogue_bench.py --db sqlite:///build/cat150k.db [--images 150000] [--fill]

``--fill`` writes synthetic rows straight into the tables (images, image_files with 5 %
duplicates, instrument_meta, pixel_size, inference, thumbnails with a small blob; no pixels, no
pipeline), then the script times the catalogue's own queries through its FastAPI app: the first
page in each sort order, a page deep in the keyset (the cursor of row ~100,000), the facets with
and without filters, an image page. Each is the median of ``--repeat`` requests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta

import sqlalchemy as sa

from semingest_worker.database import create_engine, create_schema, schema

VENDORS = ("zeiss", "fei", "tescan", "jeol", "hitachi", None)
MODELS = {
    "zeiss": ("Merlin", "Sigma", "Auriga 60"),
    "fei": ("Quanta FEG", "Helios"),
    "tescan": ("MIRA3", "AMBER"),
    "jeol": ("7001F", "8530F"),
    "hitachi": ("SU3500", "S-4800"),
}
DETECTORS = ("SE2", "InLens", "ETD", "TLD", "BSE", "SEI", "CBS")
LABELS = (
    "fibres",
    "particles",
    "tips",
    "films",
    "powder",
    "porous",
    "nanowires",
    "patterned",
    "biological",
    "mems",
)
MODEL_ID = "bench-model"


def fill(url: str, n: int, seed: int = 1, thumbnail_bytes: int = 10240) -> None:
    rng = random.Random(seed)
    engine = create_engine(url)
    create_schema(engine)
    now = datetime(2026, 1, 1)
    blob = (bytes(range(256)) * (thumbnail_bytes // 256 + 1))[:thumbnail_bytes]  # ~10 KB: a WebP thumbnail
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.ingest_runs),
            [
                {
                    "id": "bench-run",
                    "source": "/bench",
                    "started_at": now,
                    "status": "succeeded",
                    "discovered": n,
                    "processed": n,
                    "model_id": MODEL_ID,
                }
            ],
        )
    chunk = 5000
    for start in range(0, n, chunk):
        rows: dict[str, list[dict]] = {
            t: []
            for t in ("images", "image_files", "instrument_meta", "pixel_size", "inference", "thumbnails")
        }
        for i in range(start, min(n, start + chunk)):
            h = hashlib.sha256(f"img{i}".encode()).hexdigest()
            vendor = VENDORS[i % len(VENDORS)]
            path = f"/data/sem/{vendor or 'other'}/{i // 1000:04d}/image_{i:07d}.tif"
            rows["images"].append(
                {
                    "image_hash": h,
                    "path": path,
                    "width": 1024,
                    "height": 768,
                    "mode": "L",
                    "format": "TIFF",
                    "page_count": 1,
                    "vendor": vendor,
                    "status": "ok" if i % 50 else "failed",
                    "error": None,
                    "run_id": "bench-run",
                    "ingested_at": now + timedelta(seconds=i),
                    "canonical_rank": 0,
                }
            )
            copies = [path] + ([path.replace(".tif", "_copy.tif")] if i % 20 == 0 else [])
            for p in copies:
                rows["image_files"].append(
                    {
                        "path_key": hashlib.sha256(p.encode()).hexdigest(),
                        "path": p,
                        "size": 800_000,
                        "mtime_ns": i,
                        "image_hash": h,
                        "status": "ok",
                        "run_id": "bench-run",
                        "ingested_at": now,
                    }
                )
            meta_px = 10 ** rng.uniform(-9.3, -6) if vendor else None
            rows["instrument_meta"].append(
                {
                    "image_hash": h,
                    "vendor": vendor,
                    "model": rng.choice(MODELS[vendor]) if vendor else None,
                    "pixel_size_m": meta_px,
                    "detector": rng.choice(DETECTORS) if vendor else None,
                    "acquired_at": datetime(2010, 1, 1) + timedelta(minutes=rng.randrange(8_000_000))
                    if vendor
                    else None,
                    "accelerating_voltage_v": 5000.0,
                    "magnification": 10000.0,
                }
            )
            ocr = None if i % 7 == 0 else (meta_px or 1e-8) * rng.choice((1.0, 1.01, 0.995, 1.2))
            rows["pixel_size"].append(
                {
                    "image_hash": h,
                    "metadata_pixel_size_m": meta_px,
                    "ocr_pixel_size_m": ocr,
                    "ratio": (ocr / meta_px) if ocr and meta_px else None,
                    "scale_bar_text": "200 nm",
                }
            )
            rows["inference"].append(
                {
                    "image_hash": h,
                    "model_id": MODEL_ID,
                    "top1_label": LABELS[i % len(LABELS)],
                    "top1_score": rng.random(),
                    "scores": None,
                }
            )
            rows["thumbnails"].append(
                {"image_hash": h, "format": "webp", "width": 256, "height": 192, "data": blob}
            )
        with engine.begin() as conn:
            for table, values in rows.items():
                conn.execute(sa.insert(schema.metadata.tables[table]), values)
    engine.dispose()


def measure(url: str, repeat: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from semingest_worker.catalogue.app import create_app
    from semingest_worker.catalogue.query import encode_cursor

    app = create_app(url)
    with app.state.engine.connect() as conn:
        n_images = conn.execute(sa.select(sa.func.count()).select_from(schema.images)).scalar_one()
    out: dict[str, float] = {}
    with TestClient(app) as client:

        def timed(name: str, route: str, params: dict | None = None) -> dict:
            times, body = [], None
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = client.get(route, params=params)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, (route, params, r.text[:300])
                body = r.json() if r.headers["content-type"].startswith("application/json") else None
            out[name] = round(statistics.median(times) * 1000, 1)
            if "facets" in name:  # the first request misses the facet cache
                out[name.replace("_ms", "_uncached_ms")] = round(times[0] * 1000, 1)
            return body

        for sort in ("ingested", "acquired", "pixel_size", "path", "score", "ratio"):
            timed(f"api_images_first_page_{sort}_ms", "/api/images", {"sort": sort, "limit": "50"})
        # the cursor of row ~100,000 in acquisition order, read once with OFFSET (not timed): what
        # a client holds after paging that far
        deep = min(100_000, n_images - 100)
        acquired = schema.instrument_meta.c.acquired_at
        joined = schema.images.outerjoin(
            schema.instrument_meta, schema.instrument_meta.c.image_hash == schema.images.c.image_hash
        )
        with app.state.engine.connect() as conn:
            last_hash, last_value = conn.execute(
                sa.select(schema.images.c.image_hash, acquired)
                .select_from(joined)
                .order_by(acquired.is_(None), acquired.desc(), schema.images.c.image_hash.desc())
                .offset(deep - 1)
                .limit(1)
            ).one()
        cursor = encode_cursor(last_value, last_hash)
        out["rows_before_the_deep_page"] = deep
        timed(
            "api_images_page_after_row_100000_acquired_ms",
            "/api/images",
            {"sort": "acquired", "limit": "50", "cursor": cursor},
        )
        timed(
            "api_images_filtered_ms",
            "/api/images",
            {"vendor": "zeiss", "agreement": "agree", "score_min": "0.5", "limit": "50"},
        )
        timed("api_images_text_search_ms", "/api/images", {"q": "image_00123", "limit": "50"})
        timed("api_facets_ms", "/api/facets")
        timed("api_facets_filtered_ms", "/api/facets", {"vendor": "fei", "duplicates": "yes"})
        timed("search_page_html_ms", "/", {"limit": "50"})
        h = client.get("/api/images", params={"limit": "1"}).json()["rows"][0]["image_hash"]
        timed("image_page_html_ms", f"/images/{h}")
        timed("thumbnail_ms", f"/thumbnails/{h}")
    app.state.engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True)
    p.add_argument("--images", type=int, default=150_000)
    p.add_argument("--fill", action="store_true")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--thumbnail-bytes", type=int, default=10240, help="size of each synthetic thumbnail")
    args = p.parse_args(argv)
    result: dict[str, object] = {"images": args.images}
    if args.fill:
        t0 = time.perf_counter()
        fill(args.db, args.images, thumbnail_bytes=args.thumbnail_bytes)
        result["fill_seconds"] = round(time.perf_counter() - t0, 1)
    result.update(measure(args.db, args.repeat))
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
