"""``make bench``: ingest throughput and strong scaling, side by side with the reference.

1. Generates ``--images`` synthetic 1024x768 SEM images (Zeiss and FEI styles, planted
   duplicates) once into ``.bench-cache/<n>-<seed>/`` (reused when present).
2. Runs ``semingest run DIR --db URL --master local[N] --json`` for each database (SQLite,
   MariaDB) and master (local[1], local[2]), ``--repetitions`` times each, every run into a fresh
   database; repetitions are interleaved so that drift hits every configuration alike.
3. Runs the reference (PyPI sem-meta 0.1.1) in its own venv on one core over the same images.
4. Runs ``bench/inference_bench.py`` (MobileNetV2-sized model, batch 1 and 32) with ``--inference``.
5. Writes ``<out>/bench.json`` and ``<out>/bench.md``.

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

from bench import corpus as corpus_mod  # noqa: E402
from bench import ingest, reference, report  # noqa: E402
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
    ap.add_argument("--databases", default="sqlite,mariadb")
    ap.add_argument("--headline-database", default="mariadb", help="database of the headline figures")
    ap.add_argument("--model", type=Path, help="run the ingest with this inference model")
    ap.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--reference-images", type=int, default=0, help="cap on the reference's images (0: all)")
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
    runs: list[ingest.IngestRun] = []
    failed: list[dict[str, Any]] = []
    startups: list[dict[str, Any]] = []
    for rep in range(1, args.repetitions + 1):
        for master in masters:
            startups.append(measure_startup(master))
            _log(f"start-up {master} rep {rep}: {startups[-1]['wall_seconds']:.1f} s")
        for db in databases:
            for master in masters:
                run = _run_with_one_retry(corpus.root, db, master, rep, work / "ingest", truth, extra, failed)
                if run is None:
                    continue
                runs.append(run)
                _log(
                    f"{db:7s} {master:8s} rep {rep}: {run.images} images, wall {run.wall_seconds:.1f} s, "
                    f"run {run.run_seconds} s -> {run.images / run.wall_seconds:.1f} images/s end to end"
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

    result = report.build_report(
        runs=runs,
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
        inference=inf_json,
        inference_error=inf_error,
        startups=startups,
        failed_runs=failed,
        spark_free=spark_free,
        headline_database=args.headline_database if args.headline_database in databases else databases[0],
        settings={
            "repetitions": args.repetitions,
            "masters": masters,
            "databases": databases,
            "model": str(args.model) if args.model else None,
            "reference_images_cap": args.reference_images or None,
        },
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
            return ingest.run_ingest(root, db, master, rep, workdir, truth=truth, extra_args=extra)
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


def measure_startup(master: str) -> dict[str, Any]:
    """Fixed cost of one run: interpreter, imports, JVM, SparkSession, first Python task, stop."""
    log_dir = REPO / "build" / "bench-work"
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd, _ = ingest.pinned_to_master_cores(
        [sys.executable, str(REPO / "bench" / "spark_free.py"), "startup", master], master
    )
    return _run_json(cmd, log_dir / "startup.log")


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
