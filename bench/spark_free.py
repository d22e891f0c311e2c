"""Start-up and Spark-free costs, each measured in a fresh process (run by ``run_bench.py``).

``startup MASTER``: the fixed cost every ``semingest run`` pays before its first image: start the
interpreter, import the CLI, start the JVM and a SparkContext with the same settings as the job,
run one trivial Python task (so that a Python worker starts) and stop. ``run_bench`` subtracts
its median from the wall time of the ingest runs ("excluding start-up").

``pipeline DIR DB_URL``: the whole per-image pipeline (``process_partition``: decode, metadata,
scale bar, bulk database writes) over every image of DIR in THIS process, one core, no Spark:
what the work costs without Spark's scheduling, serialisation and worker processes. With
``--profile N`` it also returns the N functions with the largest cumulative time (cProfile).

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

T_PROCESS = time.perf_counter()  # as early as possible: imports below are part of start-up


def _startup(master: str, conf: dict[str, str] | None = None) -> dict:
    t0 = time.perf_counter()
    import semingest_worker.cli  # noqa: F401 - what `semingest run` imports first
    from semingest_worker.job import JobConfig
    from semingest_worker.spark_run import spark_context

    t_import = time.perf_counter()
    config = JobConfig(source=".", database_url="sqlite://", master=master, spark_conf=conf or {})
    sc = spark_context(config)
    t_session = time.perf_counter()
    sc.parallelize([1, 2], 2).map(lambda x: x).collect()
    t_task = time.perf_counter()
    sc.stop()
    t_stop = time.perf_counter()
    return {
        "master": master,
        "conf": conf or {},
        "import_seconds": t_import - t0,
        "session_seconds": t_session - t_import,
        "first_task_seconds": t_task - t_session,
        "stop_seconds": t_stop - t_task,
        "in_process_seconds": t_stop - T_PROCESS,
    }


def _startup_inline(master: str) -> dict:
    """What an inline run pays before its first image: imports and one pool process started."""
    t0 = time.perf_counter()
    import semingest_worker.cli  # noqa: F401
    from semingest_worker import engines, job  # noqa: F401
    from semingest_worker.pipeline import process_partition  # noqa: F401

    t_import = time.perf_counter()
    import concurrent.futures as cf
    import multiprocessing

    workers = engines.workers_for(master)
    if workers > 1:
        with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(abs, range(workers)))
    t_pool = time.perf_counter()
    return {
        "master": master,
        "import_seconds": t_import - t0,
        "pool_seconds": t_pool - t_import,
        "in_process_seconds": t_pool - T_PROCESS,
    }


def _pipeline(root: str, db_url: str, profile: int, label_cache_size: int | None) -> dict:
    t0 = time.perf_counter()
    from semingest_worker.database import create_engine, create_schema
    from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
    from semingest_worker.pipeline import PipelineConfig, process_partition
    from semingest_worker.scalebar import ocr

    if label_cache_size is not None:  # 0: every label goes to Tesseract (all labels distinct)
        ocr.LABEL_CACHE.maxsize = label_cache_size
    t_import = time.perf_counter()
    engine = create_engine(db_url)
    create_schema(engine)
    engine.dispose()
    files = list_images(os.path.abspath(root), DEFAULT_INCLUDE).files
    config = PipelineConfig(database_url=db_url, run_id="bench-spark-free")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t1 = time.perf_counter()
    counters = process_partition(iter(files), config)
    seconds = time.perf_counter() - t1
    out = {
        "images": len(files),
        "import_seconds": t_import - t0,
        "seconds": seconds,
        "images_per_second": len(files) / seconds if seconds > 0 else None,
        "processed": counters.processed,
        "failed": counters.failed,
        "stage_seconds": dict(counters.stage_seconds),
        "profiled": bool(profile),
        "label_cache": {
            "maxsize": ocr.LABEL_CACHE.maxsize,
            "hits": ocr.LABEL_CACHE.hits,
            "misses": ocr.LABEL_CACHE.misses,
        },
    }
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler)
        rows = []
        for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
            rows.append(
                {
                    "function": f"{os.path.basename(filename)}:{line}:{name}",
                    "calls": ncalls,
                    "tottime": tottime,
                    "cumtime": cumtime,
                }
            )
        out["top_cumulative"] = sorted(rows, key=lambda r: -r["cumtime"])[:profile]
        out["top_self"] = sorted(rows, key=lambda r: -r["tottime"])[:profile]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    i = sub.add_parser("startup-inline")
    i.add_argument("master")
    s = sub.add_parser("startup")
    s.add_argument("master")
    s.add_argument("--conf", action="append", default=[], help="KEY=VALUE Spark setting (repeatable)")
    p = sub.add_parser("pipeline")
    p.add_argument("dir")
    p.add_argument("db")
    p.add_argument("--profile", type=int, default=0, help="report the N most expensive functions")
    p.add_argument("--label-cache-size", type=int, default=None, help="OCR label cache size (0: off)")
    args = ap.parse_args(argv)
    if args.what == "startup-inline":
        result = _startup_inline(args.master)
    elif args.what == "startup":
        result = _startup(args.master, dict(item.split("=", 1) for item in args.conf))
    else:
        result = _pipeline(args.dir, args.db, args.profile, args.label_cache_size)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
