"""``make bench``: ingest throughput at every size, strong scaling, growth, real files, fat vs tiny.

1. Generates ``--images`` synthetic 1024x768 SEM images (Zeiss and FEI styles, planted
   duplicates) once into ``.bench-cache/<n>-<seed>/`` (reused when present), and one corpus per
   ``--sizes`` entry.
2. Sizes: ``semingest run`` (engine auto, one core) into a fresh MariaDB at each size (10, 100,
   1000; 20,000 with ``BENCH_LARGE=1``), against the reference's time for that many images.
3. Scaling: ``semingest run DIR --db URL --master local[N] --engine E --json`` for each database
   (SQLite, MariaDB), master (local[1], local[2]) and engine (``--scaling-engines``: the engine
   ``auto`` picks at this size, and local Spark), ``--repetitions`` times each, every run into a
   fresh database; repetitions are interleaved so that drift hits every configuration alike.
4. Archive (``bench/archive.py``, MariaDB): ``--archive-files`` files on disk and in the
   database; a re-run with nothing new, one with 100 new files, and the per-image CPU of 1000 new
   images into the full database against an empty one.
5. Real files (``bench/real_corpus.py``): ~1,000 copies of ``$SEMINGEST_SHARED/sem-corpus`` with
   a few pixels changed, one core, per-stage ms/image next to synthetic.
6. fat vs tiny on a Spark standalone cluster sized by the operator (``bench/cluster.py``).
7. The reference (PyPI sem-meta 0.1.1) in its own venv on one core; ``bench/inference_bench.py``
   with ``--inference``.
8. Writes ``<out>/bench.json`` and ``<out>/bench.md``.

CPU is the whole process tree's (``bench/proctree.py``: a cgroup where the machine allows it,
so Tesseract and PySpark's workers are counted).

Not a test: nothing here asserts a speed. See docs/benchmark.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import os  # noqa: E402

from bench import archive, ingest, real_corpus, reference, report  # noqa: E402
from bench import corpus as corpus_mod  # noqa: E402
from bench.proctree import run_sampled  # noqa: E402

INFERENCE_BENCH = REPO / "bench" / "inference_bench.py"


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="semingest benchmark (writes bench.json and bench.md)")
    ap.add_argument("--images", type=int, default=1000, help="synthetic images to ingest (default 1000)")
    ap.add_argument("--out", type=Path, default=REPO / "build", help="output folder (default build/)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache", help="corpus cache folder")
    ap.add_argument("--repetitions", type=int, default=3, help="runs per configuration (default 3)")
    ap.add_argument("--masters", default="local[1],local[2]")
    large = os.environ.get("BENCH_LARGE", "") not in ("", "0")
    ap.add_argument(
        "--sizes",
        default="10,100,1000,20000" if large else "10,100,1000",
        help="image counts of the by-size runs (default 10,100,1000; BENCH_LARGE=1 adds 20000)",
    )
    ap.add_argument(
        "--scaling-engines",
        default="auto,local-spark",
        help="engines of the 1->2 core runs (auto: what `semingest run` picks at --images)",
    )
    ap.add_argument(
        "--archive-files",
        type=int,
        default=150_000 if large else 20_000,
        help="files in the growth archive (default 20000; BENCH_LARGE=1: 150000; 0: skip)",
    )
    ap.add_argument("--real-files", type=int, default=1000, help="real-file corpus size (0: skip)")
    ap.add_argument("--cluster", action=argparse.BooleanOptionalAction, default=True, help="fat vs tiny")
    ap.add_argument("--cluster-images", type=int, default=300, help="images of the fat/tiny runs")
    ap.add_argument("--databases", default="sqlite,mariadb")
    ap.add_argument("--headline-database", default="mariadb", help="database of the headline figures")
    ap.add_argument("--model", type=Path, help="run the ingest with this inference model")
    ap.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument(
        "--reference-images",
        type=int,
        default=200,
        help="images the reference reads (0: all of --images); its time at other sizes is its "
        "import time + size x its seconds per image",
    )
    ap.add_argument("--reference-venv", type=Path, default=REPO / "build" / "ref-venv")
    ap.add_argument("--inference", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument(
        "--spark-free",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the pipeline in one process without Spark (and profile it)",
    )
    ap.add_argument(
        "--profile", type=int, default=25, help="functions listed from the Spark-free profile (0: none)"
    )
    args = ap.parse_args(argv)
    if args.images < 1 or args.repetitions < 1:
        ap.error("--images and --repetitions must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out.resolve()
    work = out / "bench-work"
    work.mkdir(parents=True, exist_ok=True)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    masters = [m.strip() for m in args.masters.split(",") if m.strip()]
    if "mariadb" in databases:
        problem = ingest.check_mariadb()
        for _ in range(90):  # the shared server may be restarting: wait up to 3 minutes
            if problem is None:
                break
            time.sleep(2)
            problem = ingest.check_mariadb()
        if problem:
            _log(problem)
            return 2

    _log(f"corpus: {args.images} images, seed {args.seed}, cache {args.cache}")
    corpus = corpus_mod.ensure_corpus(args.cache.resolve(), args.images, args.seed)
    if corpus.generated_seconds is not None:
        _log(f"generated {corpus.count} images in {corpus.generated_seconds:.1f} s into {corpus.root}")
    else:
        _log(f"reusing {corpus.root}")

    extra: tuple[str, ...] = ("--model", str(args.model.resolve())) if args.model else ()
    truth = {str(corpus.root / rel): size for rel, size in corpus_mod.truth_pixel_sizes(corpus).items()}
    engines = [e.strip() for e in args.scaling_engines.split(",") if e.strip()]
    runs: dict[str, list[ingest.IngestRun]] = {e: [] for e in engines}
    failed: list[dict[str, Any]] = []
    startups: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for rep in range(1, args.repetitions + 1):
        for engine in engines:
            for master in masters:
                startups[engine].append(measure_startup(master, _probe_engine(engine, corpus.count)))
                _log(f"start-up {engine} {master} rep {rep}: {startups[engine][-1]['wall_seconds']:.1f} s")
            for db in databases:
                for master in masters:
                    more = (*extra, "--engine", engine)
                    run = _run_with_one_retry(
                        corpus.root, db, master, rep, work / "ingest", truth, more, failed
                    )
                    if run is None:
                        continue
                    runs[engine].append(run)
                    _log(
                        f"{engine} {db:7s} {master:8s} rep {rep}: {run.images} images "
                        f"({run.report.get('engine')}), wall {run.wall_seconds:.1f} s, run {run.run_seconds} s "
                        f"-> {run.images / run.wall_seconds:.1f} images/s end to end"
                    )

    ref_json, ref_error = None, None
    if args.reference:
        paths = corpus.image_paths
        if args.reference_images:
            paths = paths[: args.reference_images]
        _log(f"reference (sem-meta 0.1.1, one core) over {len(paths)} images")
        try:
            ref = reference.run_reference(paths, args.reference_venv.resolve(), work / "reference")
            ref_json = ref.as_json()
            ref_json.update(_reference_accuracy(corpus, paths, ref.ocr_pixel_sizes_m))
            _log(f"reference: {ref.images_per_second} images/s; not run: {ref.stages_not_run or 'none'}")
        except (reference.ReferenceUnavailable, subprocess.SubprocessError, OSError) as exc:
            ref_error = str(exc)
            _log(f"reference not run: {exc}")
    else:
        ref_error = "disabled (--no-reference)"

    spark_free = None
    if args.spark_free:
        spark_free = measure_spark_free(corpus.root, work / "spark-free", args.profile)
        _log(f"Spark-free pipeline: {spark_free.get('images_per_second')} images/s on one core")

    inf_json, inf_error = None, None
    if args.inference:
        inf_json, inf_error = run_inference_bench(work / "inference")
    else:
        inf_error = "disabled (--no-inference)"

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    by_size = measure_sizes(args, sizes, work, failed)
    growth = None
    if args.archive_files and "mariadb" in databases:
        growth = _with_retries(lambda: measure_archive(args, work, by_size), "archive", failed) or {
            "error": "failed 3 times (see failed_runs)"
        }
    real = None
    if args.real_files:
        real = _with_retries(lambda: measure_real(args, work), "real files", failed) or {
            "error": "failed 3 times (see failed_runs)"
        }
    cluster = measure_cluster(args, work) if args.cluster else None

    def build(engine: str, headline: bool) -> dict[str, Any]:
        return report.build_report(
            runs=runs.get(engine, []),
            corpus={
                "root": str(corpus.root),
                "count": corpus.count,
                "seed": corpus.seed,
                "size": list(corpus_mod.IMAGE_SIZE),
                "styles": list(corpus_mod.STYLES),
                "duplicate_fraction": corpus_mod.DUPLICATE_FRACTION,
                "generated_seconds": corpus.generated_seconds,
            },
            reference=ref_json,
            reference_error=ref_error,
            inference=inf_json if headline else None,
            inference_error=inf_error if headline else None,
            startups=startups.get(engine, []),
            failed_runs=failed,
            spark_free=spark_free if headline else None,
            headline_database=args.headline_database if args.headline_database in databases else databases[0],
            settings={
                "engine": engine,
                "repetitions": args.repetitions,
                "masters": masters,
                "databases": databases,
                "sizes": sizes,
                "model": str(args.model) if args.model else None,
                "reference_images_cap": args.reference_images or None,
            },
        )

    result = build(engines[0], True)
    for engine in engines[1:]:
        result.setdefault("other_engines", {})[engine] = report.engine_digest(build(engine, False))
    report.add_scenarios(
        result, by_size=by_size, growth=growth, real=real, cluster=cluster, reference=ref_json
    )
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    md = report.render_markdown(result)
    (out / "bench.md").write_text(md, encoding="utf-8")
    print(md)
    _log(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


def _reference_accuracy(
    corpus: corpus_mod.Corpus, paths: list[Path], sizes: list[float | None]
) -> dict[str, Any]:
    """How many of the reference's OCR pixel sizes are within 3 % of the generator's truth."""
    truth = corpus_mod.truth_pixel_sizes(corpus)
    if not truth or not sizes:
        return {}
    within = checked = 0
    for path, got in zip(paths, sizes, strict=False):
        want = truth.get(path.relative_to(corpus.root).as_posix())
        if want is None:
            continue
        checked += 1
        if got is not None and abs(got - want) <= 0.03 * want:
            within += 1
    return {"ocr_checked_against_truth": checked, "ocr_within_3_percent": within}


def _run_with_one_retry(
    root: Path,
    db: str,
    master: str,
    rep: int,
    workdir: Path,
    truth: dict[str, float],
    extra: tuple[str, ...],
    failed: list[dict[str, Any]],
) -> ingest.IngestRun | None:
    """One timed run; when it fails (e.g. the shared MariaDB was restarted by someone else), the
    failure is recorded and the run repeated once after the server answers again."""
    import sqlalchemy as sa

    for attempt in (1, 2):
        try:
            return ingest.run_ingest(
                root, db, master, rep, workdir, truth=truth, extra_args=extra, schema_first=True
            )
        except (ingest.IngestFailed, sa.exc.SQLAlchemyError, subprocess.SubprocessError, OSError) as exc:
            text = str(exc)
            failed.append(
                {
                    "database": db,
                    "master": master,
                    "repetition": rep,
                    "attempt": attempt,
                    "error": text[-2000:],
                }
            )
            _log(f"{db} {master} rep {rep} attempt {attempt} failed: {text.strip().splitlines()[-1][:300]}")
            if db == "mariadb":
                for _ in range(60):
                    if ingest.check_mariadb() is None:
                        break
                    time.sleep(2)
    return None


def _run_json(cmd: list[str], log: Path, timeout: float = 1800) -> dict[str, Any]:
    """Run ``cmd`` (prints one JSON object); add its wall and process-tree CPU seconds."""
    try:
        done = run_sampled(cmd, log, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd[1:3])} timed out (see {log})") from None
    parsed = ingest._last_json_object(done.stdout)
    if done.returncode != 0 or parsed is None:
        raise RuntimeError(f"{' '.join(cmd[1:3])} exited {done.returncode} (see {log})")
    parsed["wall_seconds"] = done.wall_seconds
    parsed["cpu_seconds"] = done.usage.cpu_seconds
    return parsed


def _with_retries(fn: Any, what: str, failed: list[dict[str, Any]], attempts: int = 3) -> Any:
    """``fn()``; when it fails (the shared MariaDB is restarted by other work on this machine), the
    failure is recorded, the server awaited, and ``fn`` tried again; None after ``attempts``."""
    import sqlalchemy as sa

    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (ingest.IngestFailed, sa.exc.SQLAlchemyError, subprocess.SubprocessError, OSError) as exc:
            failed.append({"scenario": what, "attempt": attempt, "error": str(exc)[-2000:]})
            _log(f"{what} attempt {attempt} failed: {str(exc).strip().splitlines()[-1][:300]}")
            for _ in range(90):
                if ingest.check_mariadb() is None:
                    break
                time.sleep(2)
    return None


def _probe_engine(engine: str, files: int) -> str:
    """The engine a run of ``files`` new files uses with ``--engine engine``."""
    if engine != "auto":
        return engine
    from semingest_worker import engines as engines_mod

    return engines_mod.choose(
        engines_mod.Engine.AUTO, files, engines_mod.inline_max_files(), "local[1]"
    ).value


def measure_startup(master: str, engine: str = "local-spark") -> dict[str, Any]:
    """Fixed cost of one run. Spark: interpreter, imports, JVM, SparkContext, first Python task,
    stop. Inline: interpreter, imports, and one process of the pool started and joined."""
    log_dir = REPO / "build" / "bench-work"
    log_dir.mkdir(parents=True, exist_ok=True)
    what = "startup-inline" if engine == "inline" else "startup"
    cmd, _ = ingest.pinned_to_master_cores(
        [sys.executable, str(REPO / "bench" / "spark_free.py"), what, master], master
    )
    result = _run_json(cmd, log_dir / "startup.log")
    result["engine"] = engine
    return result


def _one_core_run(
    root: Path, workdir: Path, label: str, url_kind: str = "mariadb", *, schema_first: bool = False
) -> ingest.IngestRun:
    """``semingest run`` (engine auto) on one core into a fresh database (``schema_first``: one
    whose tables exist, see ``ingest.run_ingest``)."""
    return ingest.run_ingest(
        root,
        url_kind,
        "local[1]",
        1,
        workdir / label,
        extra_args=("--engine", "auto"),
        schema_first=schema_first,
    )


def measure_sizes(
    args: argparse.Namespace, sizes: list[int], work: Path, failed: list[dict[str, Any]]
) -> dict[str, Any]:
    """One core, engine auto, at each size (median of --repetitions): into a new MariaDB database
    whose tables exist (a site's runs after the chart's upgrade Job or ``semingest db init``), and
    once into an empty one (the site's very first run, which also creates the tables)."""
    out: dict[str, Any] = {}
    for n in sizes:
        corpus = corpus_mod.ensure_corpus(args.cache.resolve(), n, args.seed)
        walls, cpus, runs = [], [], []
        for rep in range(args.repetitions):
            run = _with_retries(
                lambda root=corpus.root, n=n: _one_core_run(root, work, f"size-{n}", schema_first=True),
                f"size {n}",
                failed,
            )
            if run is None:
                continue
            runs.append(run)
            walls.append(run.wall_seconds)
            cpus.append(run.cpu_seconds)
            _log(f"size {n} rep {rep + 1}: {run.report.get('engine')} wall {run.wall_seconds:.1f} s")
        if not runs:
            continue
        first = _with_retries(
            lambda root=corpus.root, n=n: _one_core_run(root, work, f"size-{n}-first"),
            f"size {n} first",
            failed,
        )
        out[str(n)] = {
            "images": runs[0].images,
            "engine": runs[0].report.get("engine"),
            "wall_seconds": report.median(walls),
            "first_run_wall_seconds": first.wall_seconds if first is not None else None,
            "cpu_seconds": report.median(cpus),
            "cpu_seconds_per_image": report.median(r.cpu_seconds / r.images for r in runs if r.images),
            "cpu_method": runs[0].cpu_method,
            "database_server_cpu_seconds_per_image": report.median(
                r.server_cpu_seconds / r.images for r in runs if r.images and r.server_cpu_seconds is not None
            ),
            "stage_seconds_per_image": {
                k: v / runs[0].images for k, v in (runs[0].report.get("stage_seconds") or {}).items()
            }
            if runs[0].images
            else {},
            "load_before": [r.load_before for r in runs],
            "all_wall_seconds": walls,
        }
    return out


def measure_archive(args: argparse.Namespace, work: Path, by_size: dict[str, Any]) -> dict[str, Any]:
    """Re-runs over an archive of --archive-files files (nothing new; 100 new) and the per-image
    CPU of new images into it (see bench/archive.py)."""
    cache = args.cache.resolve()
    base = corpus_mod.ensure_corpus(cache, args.images, args.seed)
    root, folders, base_files = archive.build_tree(cache, base.root, args.archive_files)
    new100 = corpus_mod.ensure_corpus(cache, 100, args.seed + 2)
    fresh = corpus_mod.ensure_corpus(cache, args.images, args.seed + 1)
    out: dict[str, Any] = {"files_on_disk": folders * len(base_files), "root": str(root)}
    with ingest.fresh_database("mariadb", work / "archive") as url:
        t0 = time.perf_counter()
        first = _semingest(root / "d0000", url, "local[2]", work / "archive-fill.log")
        rows = archive.clone_rows(url, root, folders)
        out["fill_seconds"] = time.perf_counter() - t0
        out["image_files_rows"] = rows
        out["first_folder"] = {
            "processed": first.report.get("processed"),
            "engine": first.report.get("engine"),
        }
        _log(f"archive: {rows} rows in the database, {out['files_on_disk']} files on disk")
        nothing = []
        for rep in range(args.repetitions):
            run = _semingest(root, url, "local[2]", work / f"archive-nothing-{rep}.log")
            nothing.append(run)
            _log(
                f"archive re-run with nothing new: {run.wall_seconds:.2f} s, skipped {run.report.get('skipped')}"
            )
        out["rerun_nothing_new"] = _digest(nothing)
        out["rerun_files"] = nothing[0].report.get("discovered")
        with_new = []
        for rep in range(args.repetitions):
            target = root / f"new-{os.getpid()}-{rep}"
            for p in new100.image_paths:
                dest = target / p.relative_to(new100.root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(p, dest)
            try:
                run = _semingest(root, url, "local[2]", work / f"archive-new-{rep}.log")
            finally:
                import shutil

                shutil.rmtree(target, ignore_errors=True)
            with_new.append(run)
            _log(f"archive re-run with 100 new: {run.wall_seconds:.2f} s ({run.report.get('engine')})")
        out["rerun_100_new"] = _digest(with_new)
        target = root / f"fresh-{os.getpid()}"
        for p in fresh.image_paths:
            dest = target / p.relative_to(fresh.root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, dest)
        try:
            run = _semingest(target, url, "local[1]", work / "archive-growth.log")
        finally:
            import shutil

            shutil.rmtree(target, ignore_errors=True)
        empty = by_size.get(str(args.images), {}).get("cpu_seconds_per_image")
        per_image = run.cpu_seconds / run.images if run.images else None
        out["new_images_into_archive"] = {
            **_digest([run]),
            "images": run.images,
            "cpu_seconds_per_image": per_image,
            "cpu_seconds_per_image_into_empty": empty,
            "growth": report.ratio(per_image, empty),
            "stage_seconds": run.report.get("stage_seconds"),
        }
        out["table_rows"] = ingest.count_rows(url)
        footprint = ingest.table_footprint(url)
        files = out["table_rows"].get("image_files") or 0
        out["footprint"] = {
            "tables": footprint,
            "bytes_per_file": (
                sum(t["data_bytes"] + t["index_bytes"] for t in footprint.values()) / files if files else None
            ),
        }
    return out


def _semingest(root: Path, url: str, master: str, log: Path) -> ingest.IngestRun:
    return ingest.run_ingest_url(root, url, master, log, extra_args=("--engine", "auto"))


def _digest(runs: list[ingest.IngestRun]) -> dict[str, Any]:
    return {
        "wall_seconds": report.median(r.wall_seconds for r in runs),
        "cpu_seconds": report.median(r.cpu_seconds for r in runs),
        "run_seconds": report.median(r.run_seconds for r in runs),
        "engine": runs[0].report.get("engine") if runs else None,
        "all_wall_seconds": [r.wall_seconds for r in runs],
        "load_before": [r.load_before for r in runs],
    }


def measure_real(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    shared = Path(os.environ.get("SEMINGEST_SHARED", REPO.parent / "shared"))
    try:
        real = real_corpus.ensure_real_corpus(args.cache.resolve(), shared, args.real_files)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return {"error": str(exc)}
    runs = []
    for _rep in range(args.repetitions):
        runs.append(_one_core_run(real.root, work, "real"))
        _log(f"real files: {runs[-1].images} images, wall {runs[-1].wall_seconds:.1f} s")
    best = runs[0]
    return {
        "files": real.count,
        "originals": real.originals,
        "copies_each": real.copies,
        "engine": best.report.get("engine"),
        "images": best.images,
        "failed": best.report.get("failed"),
        "wall_seconds": report.median(r.wall_seconds for r in runs),
        "cpu_seconds_per_image": report.median(r.cpu_seconds / r.images for r in runs if r.images),
        "images_per_second": report.median(r.images / r.wall_seconds for r in runs if r.wall_seconds),
        "stage_seconds_per_image": {
            k: report.median(
                (r.report.get("stage_seconds") or {}).get(k, 0) / r.images for r in runs if r.images
            )
            for k in (best.report.get("stage_seconds") or {})
        },
        "per_vendor": best.report.get("per_vendor"),
        "failures": best.report.get("failures"),
        "load_before": [r.load_before for r in runs],
    }


def measure_cluster(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    corpus = corpus_mod.ensure_corpus(args.cache.resolve(), args.cluster_images, args.seed)
    cmd = [
        sys.executable,
        str(REPO / "bench" / "cluster.py"),
        str(corpus.root),
        "--workdir",
        str(work / "cluster"),
    ]
    _log("fat vs tiny on a standalone Spark cluster: " + " ".join(cmd[1:]))
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    with open(work / "cluster.log", "wb") as err:
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=err, cwd=REPO, env=env, timeout=3600, check=False
        )
    parsed = ingest._last_json_object(proc.stdout.decode("utf-8", errors="replace"))
    if proc.returncode != 0 or parsed is None:
        return {"error": f"bench/cluster.py exited {proc.returncode} (see {work / 'cluster.log'})"}
    return parsed


def measure_spark_free(root: Path, workdir: Path, profile: int) -> dict[str, Any]:
    """The pipeline in one process without Spark (SQLite): as configured; with the OCR label cache
    off (every label read by Tesseract, as if all labels differed); and under cProfile."""
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for label, n in (("plain", 0), ("label_cache_off", 0), ("profiled", profile)):
        if label == "profiled" and not profile:
            continue
        with ingest.fresh_database("sqlite", workdir) as url:
            cmd = [sys.executable, str(REPO / "bench" / "spark_free.py"), "pipeline", str(root), url]
            if n:
                cmd += ["--profile", str(n)]
            if label == "label_cache_off":
                cmd += ["--label-cache-size", "0"]
            try:
                result = _run_json(cmd, workdir / f"spark-free-{label}.log")
            except (RuntimeError, subprocess.SubprocessError) as exc:
                return {"error": str(exc)}
        if label == "plain":
            out.update(result)
        elif label == "label_cache_off":
            out["label_cache_off"] = {
                k: result.get(k) for k in ("images_per_second", "seconds", "stage_seconds", "label_cache")
            }
        else:
            out["profile"] = {
                "note": "cProfile adds overhead; use for proportions only",
                "seconds": result.get("seconds"),
                "top_cumulative": result.get("top_cumulative"),
                "top_self": result.get("top_self"),
            }
    return out


def run_inference_bench(workdir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """images/s at batch 1 and 32 from the inference engineer's bench/inference_bench.py."""
    if not INFERENCE_BENCH.is_file():
        return None, f"{INFERENCE_BENCH.relative_to(REPO)} does not exist yet"
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "inference.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(INFERENCE_BENCH), "--out", str(out)]
    _log("inference: " + " ".join(cmd[1:]))
    with open(workdir / "inference.log", "wb") as log:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, cwd=REPO, check=False, timeout=3600)
    if proc.returncode != 0:
        return None, f"inference_bench.py exited {proc.returncode} (see {workdir / 'inference.log'})"
    if out.is_file():
        return json.loads(out.read_text(encoding="utf-8")), None
    parsed = ingest._last_json_object(proc.stdout.decode("utf-8", errors="replace"))
    if parsed is None:
        return None, "inference_bench.py wrote no JSON"
    return parsed, None


if __name__ == "__main__":
    sys.exit(main())
