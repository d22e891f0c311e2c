"""Turns the timed runs into ``build/bench.json`` and the Markdown table ``build/bench.md``.

Definitions (also in docs/benchmark.md):

* images: files a run handled (processed + failed; duplicates are processed files);
* images/s end to end: images / wall seconds of the whole ``semingest run`` process (Python and
  JVM start-up, Spark session, listing, work, summary); "excluding start-up": images / the run's
  own ``seconds``; both are medians over the repetitions of one configuration;
* stage seconds per image: the run's ``stage_seconds`` (summed over all tasks, Spark-free: the
  time spent inside each stage's code) / images;
* stage scaling (1 -> 2 cores): 2 x (stage seconds per image at local[1]) / (at local[2]); a
  stage that slows down per image when two tasks run at once (a lock, a contended database)
  shows a value under 2;
* database rows/s: rows in all tables except ``ingest_runs`` / the database stage's seconds.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Iterable
from typing import Any

from bench.ingest import IngestRun
from semingest_api.stages import STAGE_NAMES as STAGES

TARGETS = {
    "images_per_second_per_core": 20.0,
    "speedup_vs_reference": 10.0,
    "scaling_2_over_1": 1.7,
    "database_stage_scaling": 1.7,
}


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


median = _median
ratio = _ratio

GOALS = {
    "speedup_vs_reference_by_size": 10.0,  # at every size, one core each
    "scaling_2_over_1_excluding_startup": 1.8,
    "database_stage_scaling": 1.8,
    "per_image_cost_growth": 1.15,  # at most
    "rerun_nothing_new_seconds": 2.0,  # at most
    "rerun_100_new_seconds": 4.0,  # at most
    "per_image_cost_growth_into_archive": 1.15,  # at most
    "cpu_over_stage_floors": 1.5,  # at most
}
AT_MOST = ("per_image", "rerun", "cpu_over")


def reference_seconds(reference: dict[str, Any] | None, images: int) -> float | None:
    """The reference's end-to-end time for ``images`` images: its import time plus ``images`` x its
    measured seconds per image (it was run once, over ``reference['images']`` images)."""
    if not reference or not reference.get("images"):
        return None
    per_image = sum((reference.get("seconds") or {}).values()) / reference["images"]
    return float(reference.get("import_seconds") or 0.0) + images * per_image


def engine_digest(r: dict[str, Any]) -> dict[str, Any]:
    """The scaling figures of one engine (for engines other than the headline one)."""
    keys = (
        "images_per_second",
        "images_per_second_excluding_startup",
        "scaling_2_over_1",
        "scaling_2_over_1_excluding_startup",
        "startup",
        "stage_seconds_per_image",
        "stage_seconds_per_image_local2",
        "stage_scaling_2_over_1",
        "by_database",
    )
    return {k: r.get(k) for k in keys}


def add_scenarios(
    r: dict[str, Any],
    *,
    by_size: dict[str, Any],
    growth: dict[str, Any] | None,
    real: dict[str, Any] | None,
    cluster: dict[str, Any] | None,
    reference: dict[str, Any] | None,
) -> None:
    """The by-size, archive, real-data and fat/tiny results and the issue's top-level keys."""
    for n, entry in by_size.items():
        ref = reference_seconds(reference, int(n))
        entry["reference_seconds"] = ref
        entry["speedup_vs_reference"] = _ratio(ref, entry.get("wall_seconds"))
        entry["first_run_speedup_vs_reference"] = _ratio(ref, entry.get("first_run_wall_seconds"))
    r["by_size"] = by_size
    r["speedup_vs_reference_by_size"] = {n: e.get("speedup_vs_reference") for n, e in by_size.items()}
    r["database_stage_scaling"] = r["stage_scaling_2_over_1"].get("database")
    r["archive"] = growth
    g = growth or {}
    r["rerun_nothing_new_seconds"] = (g.get("rerun_nothing_new") or {}).get("wall_seconds")
    r["rerun_files"] = g.get("rerun_files")
    r["rerun_100_new_seconds"] = (g.get("rerun_100_new") or {}).get("wall_seconds")
    sizes = sorted(int(n) for n in by_size)
    large = [n for n in sizes if n > 1000]
    if large and "1000" in by_size:
        r["per_image_cost_growth"] = _ratio(
            by_size[str(large[-1])].get("cpu_seconds_per_image"), by_size["1000"].get("cpu_seconds_per_image")
        )
        r["per_image_cost_growth_basis"] = (
            f"CPU per image ingesting {large[-1]} images / 1000 images (empty database)"
        )
    else:
        r["per_image_cost_growth"] = (g.get("new_images_into_archive") or {}).get("growth")
        r["per_image_cost_growth_basis"] = (
            f"CPU per image ingesting new images into a database of {g.get('image_files_rows')} files / "
            "the same number into an empty database"
        )
    r["per_image_cost_growth_into_archive"] = (g.get("new_images_into_archive") or {}).get("growth")
    _add_stage_floors(r, by_size)
    r["real_data"] = real
    r["real_data_images_per_second_per_core"] = (real or {}).get("images_per_second")
    r["fat_vs_tiny"] = cluster
    r["goals"] = _goals(r)


def _add_stage_floors(r: dict[str, Any], by_size: dict[str, Any]) -> None:
    """The stage floors (ms per image of each stage, the pipeline alone in one process: the
    Spark-free run) and the 1,000-image run's CPU per image (whole process tree, one core) over
    their sum: what the CLI, the engine and everything around the stages add."""
    spark_free = r.get("spark_free") or {}
    images = spark_free.get("images") or 0
    stages = spark_free.get("stage_seconds") or {}
    floors = {k: v / images for k, v in stages.items() if images and v}
    r["stage_floors_seconds_per_image"] = floors or None
    run = by_size.get("1000") or {}
    total = sum(floors.values())
    r["cpu_over_stage_floors"] = _ratio(run.get("cpu_seconds_per_image"), total) if total else None
    methods = [e.get("cpu_method") or "" for e in by_size.values()]
    r["cpu_whole_process_tree"] = bool(methods) and all(m.startswith("cgroup") for m in methods)


def _goals(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    speedups = [v for v in (r.get("speedup_vs_reference_by_size") or {}).values() if v is not None]
    values = {
        "speedup_vs_reference_by_size": min(speedups) if speedups else None,
        "scaling_2_over_1_excluding_startup": r.get("scaling_2_over_1_excluding_startup"),
        "database_stage_scaling": r.get("database_stage_scaling"),
        "per_image_cost_growth": r.get("per_image_cost_growth"),
        "rerun_nothing_new_seconds": r.get("rerun_nothing_new_seconds"),
        "rerun_100_new_seconds": r.get("rerun_100_new_seconds"),
        "per_image_cost_growth_into_archive": r.get("per_image_cost_growth_into_archive"),
        "cpu_over_stage_floors": r.get("cpu_over_stage_floors"),
    }
    for name, value in values.items():
        goal = GOALS[name]
        at_most = name.startswith(AT_MOST)
        met = None if value is None else (value <= goal if at_most else value >= goal)
        out[name] = {"goal": f"{'<=' if at_most else '>='} {goal}", "value": value, "met": met}
    whole_tree = r.get("cpu_whole_process_tree")
    out["cpu_whole_process_tree"] = {"goal": "cgroup", "value": whole_tree, "met": whole_tree}
    return out


def _cores(master: str) -> int:
    inner = master[master.find("[") + 1 : master.find("]")]
    return (os.cpu_count() or 1) if inner == "*" else int(inner)


def _key(master: str) -> str:
    return "local" + master[master.find("[") + 1 : master.find("]")]


def _stage_seconds(run: IngestRun, stage: str) -> float | None:
    value = (run.report.get("stage_seconds") or {}).get(stage)
    return float(value) if value is not None else None


def _data_rows(run: IngestRun) -> int:
    return sum(n for table, n in run.table_rows.items() if table != "ingest_runs")


def summarise_configuration(
    runs: list[IngestRun], startup: float | None, startup_cpu: float | None = None
) -> dict[str, Any]:
    """Medians for one (database, master) over its repetitions; ``startup``/``startup_cpu``: that
    master's median start-up wall and CPU seconds."""
    images = runs[0].images
    wall = _median(r.wall_seconds for r in runs)
    run_s = _median(r.run_seconds for r in runs)
    work = wall - startup if wall is not None and startup is not None and wall > startup else None
    stage_per_image = {
        s: _median(
            (_stage_seconds(r, s) / r.images) if r.images and _stage_seconds(r, s) is not None else None
            for r in runs
        )
        for s in STAGES
    }
    db_rates = [
        _data_rows(r) / _stage_seconds(r, "database")
        for r in runs
        if (_stage_seconds(r, "database") or 0) > 0
    ]
    return {
        "repetitions": len(runs),
        "images": images,
        "wall_seconds": {"median": wall, "all": [r.wall_seconds for r in runs]},
        "run_seconds": {"median": run_s, "all": [r.run_seconds for r in runs]},
        "startup_seconds": startup,
        "images_per_second": _ratio(images, wall),
        "images_per_second_excluding_startup": _ratio(images, work),
        "load_average_1min": {
            "median": _median(r.load_before for r in runs),
            "all": [r.load_before for r in runs],
        },
        "cpu_seconds_per_image": _median(r.cpu_seconds / r.images for r in runs if r.images),
        "cpu_seconds_per_image_excluding_startup": _median(
            (r.cpu_seconds - startup_cpu) / r.images for r in runs if r.images and startup_cpu is not None
        ),
        "stage_seconds_per_image": stage_per_image,
        "database_server_cpu_seconds_per_image": _median(
            r.server_cpu_seconds / r.images for r in runs if r.images and r.server_cpu_seconds is not None
        ),
        "database_rows": _median(_data_rows(r) for r in runs),
        "database_rows_per_second": _median(db_rates),
        "table_rows": runs[-1].table_rows,
        "accuracy": runs[-1].accuracy,
        "counts": {
            k: runs[-1].report.get(k) for k in ("discovered", "skipped", "processed", "failed", "duplicates")
        },
    }


def build_report(
    *,
    runs: list[IngestRun],
    startups: list[dict[str, Any]],
    failed_runs: list[dict[str, Any]],
    spark_free: dict[str, Any] | None,
    corpus: dict[str, Any],
    reference: dict[str, Any] | None,
    reference_error: str | None,
    inference: dict[str, Any] | None,
    inference_error: str | None,
    headline_database: str,
    settings: dict[str, Any],
) -> dict[str, Any]:
    startup = {
        m: {
            "median": _median(x["wall_seconds"] for x in startups if x["master"] == m),
            "cpu_seconds_median": _median(x.get("cpu_seconds") for x in startups if x["master"] == m),
            "all": [x for x in startups if x["master"] == m],
        }
        for m in sorted({x["master"] for x in startups}, key=_cores)
    }
    by_db: dict[str, dict[str, Any]] = {}
    for db in sorted({r.database for r in runs}):
        for master in sorted({r.master for r in runs if r.database == db}, key=_cores):
            group = [r for r in runs if r.database == db and r.master == master]
            by_db.setdefault(db, {})[_key(master)] = summarise_configuration(
                group,
                (startup.get(master) or {}).get("median"),
                (startup.get(master) or {}).get("cpu_seconds_median"),
            )
    head = by_db.get(headline_database) or next(iter(by_db.values()), {})
    one, two = head.get("local1", {}), head.get("local2", {})
    ips = {k: v.get("images_per_second") for k, v in head.items()}
    ips_ex = {k: v.get("images_per_second_excluding_startup") for k, v in head.items()}
    stage_scaling = {
        s: _ratio(
            2 * (one.get("stage_seconds_per_image", {}).get(s) or 0) or None,
            two.get("stage_seconds_per_image", {}).get(s),
        )
        for s in STAGES
    }
    ref_ips = reference.get("images_per_second") if reference else None
    per_core = ips.get("local1")
    report: dict[str, Any] = {
        "images": one.get("images") or two.get("images"),
        "image_size": list(corpus.get("size", ())),
        "cores": os.cpu_count(),
        "core_pinning": "local[N] runs (and their start-up probes) are pinned to N cores with taskset",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor(),
        },
        "headline_database": headline_database,
        "images_per_second": ips,
        "images_per_second_excluding_startup": ips_ex,
        "images_per_second_per_core": per_core,
        "images_per_second_per_core_excluding_startup": ips_ex.get("local1"),
        "scaling_2_over_1": _ratio(ips.get("local2"), ips.get("local1")),
        "scaling_2_over_1_excluding_startup": _ratio(ips_ex.get("local2"), ips_ex.get("local1")),
        "startup_seconds": one.get("startup_seconds"),
        "startup": {_key(m): v for m, v in startup.items()},
        "accuracy": one.get("accuracy") or two.get("accuracy"),
        "spark_free": spark_free,
        "spark_free_images_per_second": (spark_free or {}).get("images_per_second"),
        "stage_seconds_per_image": one.get("stage_seconds_per_image"),
        "stage_seconds_per_image_local2": two.get("stage_seconds_per_image"),
        "stage_scaling_2_over_1": stage_scaling,
        "database_rows_per_second": (by_db.get("mariadb", {}).get("local1") or {}).get(
            "database_rows_per_second"
        ),
        "database_rows_per_second_local2_per_task": (by_db.get("mariadb", {}).get("local2") or {}).get(
            "database_rows_per_second"
        ),
        "reference_images_per_second": ref_ips,
        "speedup_vs_reference": _ratio(per_core, ref_ips),
        "speedup_vs_reference_excluding_startup": _ratio(ips_ex.get("local1"), ref_ips),
        "reference": reference,
        "reference_error": reference_error,
        "inference": _inference_summary(inference),
        "inference_error": inference_error,
        "by_database": by_db,
        "repetitions": settings.get("repetitions"),
        "medians": "every figure above is the median over the repetitions of its configuration",
        "settings": settings,
        "corpus": corpus,
        "raw": [r.as_json() for r in runs],
        "failed_runs": failed_runs,
    }
    report["targets"] = _targets(report)
    return report


def _inference_summary(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{batch1, batch32}`` images/s (SEM-sized input, the pipeline's conversion included)."""
    if not raw:
        return None
    ips = raw.get("images_per_second") or {}
    return {
        "batch1": ips.get("batch1"),
        "batch32": ips.get("batch32"),
        "model_input_images_per_second": raw.get("model_input_images_per_second"),
        "details": raw,
    }


def _targets(r: dict[str, Any]) -> dict[str, Any]:
    out = {}
    checks = {
        "images_per_second_per_core": r["images_per_second_per_core"],
        "speedup_vs_reference": r["speedup_vs_reference"],
        "scaling_2_over_1": r["scaling_2_over_1"],
        "database_stage_scaling": r["stage_scaling_2_over_1"].get("database"),
    }
    for name, value in checks.items():
        goal = TARGETS[name]
        out[name] = {"target": goal, "value": value, "met": None if value is None else value >= goal}
    return out


# ------------------------------------------------------------------------------------------------
def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f}"


def _cold_note(spark_free: dict[str, Any]) -> str:
    cold = spark_free.get("label_cache_off")
    if not cold or not cold.get("seconds"):
        return ""
    images = spark_free.get("images") or 0
    scalebar = (cold.get("stage_seconds") or {}).get("scalebar")
    hits = (spark_free.get("label_cache") or {}).get("hits")
    return (
        f"; with the OCR label cache off (every label read by Tesseract): {_f(cold.get('images_per_second'))} "
        f"images/s, scale bar {_ms(scalebar / images if scalebar is not None and images else None)} ms/image "
        f"(the cache answered {hits} labels of this corpus)"
    )


def _load_note(r: dict[str, Any]) -> str:
    loads = [
        x for cs in r["by_database"].values() for c in cs.values() for x in c["load_average_1min"]["all"] if x
    ]
    if loads and max(loads) > (r["cores"] or 1):
        return (
            f" The machine was shared while this ran (1-minute load average {min(loads):.1f}..{max(loads):.1f} "
            f"on {r['cores']} cores): wall-time figures and the scaling are pessimistic; CPU ms/image is not."
        )
    return ""


def render_markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# semingest benchmark: {r['images']} synthetic {r['image_size'][0]}x{r['image_size'][1]} SEM images, "
        f"{r['cores']} cores",
        "",
        f"Medians over {r['repetitions']} repetitions. End to end = wall time of `semingest run` including "
        "Python/JVM start-up; excl. start-up = wall minus that master's start-up, measured alone. "
        "A `local[N]` run and its start-up probe are pinned to N cores (`taskset`), JVM and Tesseract included. Inference "
        + (
            "on."
            if any(
                (c.get("stage_seconds_per_image") or {}).get("inference")
                for d in r["by_database"].values()
                for c in d.values()
            )
            else "off (no model)."
        )
        + _load_note(r),
        "",
        "| database | master | images/s end to end | images/s excl. start-up | wall s | start-up s "
        "| CPU ms/image | CPU ms/image excl. start-up | load avg |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for db, configs in r["by_database"].items():
        for key, c in configs.items():
            lines.append(
                f"| {db} | {key} | {_f(c['images_per_second'])} | {_f(c['images_per_second_excluding_startup'])} | "
                f"{_f(c['wall_seconds']['median'])} | {_f(c['startup_seconds'])} | {_ms(c['cpu_seconds_per_image'])} | "
                f"{_ms(c['cpu_seconds_per_image_excluding_startup'])} | "
                f"{_f(c['load_average_1min']['median'])} |"
            )
    lines += [
        "",
        "Start-up (interpreter, imports, JVM, SparkSession, first Python task, stop; measured alone): "
        + ", ".join(f"{k} {_f(v.get('median'))} s" for k, v in r["startup"].items())
        + f". Spark-free pipeline (one process, one core, SQLite): {_f(r.get('spark_free_images_per_second'))} images/s"
        + _cold_note(r.get("spark_free") or {})
        + ".",
        "",
        "Per-stage cost inside the pipeline (ms per image, summed over tasks; scaling = 2 x local1/local2 per image):",
        "",
        "| stage | "
        + " | ".join(f"{db} {k}" for db, cs in r["by_database"].items() for k in cs)
        + " | scaling 1->2 |",
        "| --- | " + " | ".join("---:" for cs in r["by_database"].values() for _ in cs) + " | ---: |",
    ]
    for s in STAGES:
        cells = [
            _ms(c["stage_seconds_per_image"].get(s)) for cs in r["by_database"].values() for c in cs.values()
        ]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {_f(r['stage_scaling_2_over_1'].get(s), 2)} |")
    mdb = r["by_database"].get("mariadb", {})
    if mdb:
        lines += [
            "",
            "MariaDB rows per database-stage second: "
            + ", ".join(f"{k}: {_f(c.get('database_rows_per_second'), 0)}" for k, c in mdb.items())
            + f" ({_f((mdb.get('local1') or {}).get('database_rows'), 0)} rows per run).",
        ]
    acc = r.get("accuracy") or {}
    if acc.get("checked"):
        lines += [
            "",
            f"Pixel sizes against the generator's truth ({acc['checked']} files): OCR read for "
            f"{acc['ocr_read']}, within 3 % for {acc['ocr_within_3_percent']}; metadata within 0.1 % for "
            f"{acc['metadata_within_0_1_percent']}.",
        ]
    ref = r.get("reference")
    lines += ["", "Reference (PyPI sem-meta 0.1.1, own venv, one core):", ""]
    if ref:
        spi = ref.get("seconds_per_image", {})
        lines += [
            f"- {ref['images']} images; metadata {_ms(spi.get('metadata'))} ms/image, OCR {_ms(spi.get('ocr'))} ms/image; "
            f"{_f(ref.get('images_per_second'), 2)} images/s; pixel size read for {ref.get('ocr_pixel_size_read')} images"
            + (
                f", within 3 % of the truth for {ref['ocr_within_3_percent']}"
                if "ocr_within_3_percent" in ref
                else ""
            )
            + ".",
        ]
        lines.append(
            f"- speedup, one core each: {_f(r.get('speedup_vs_reference'))}x end to end (JVM start-up included), "
            f"{_f(r.get('speedup_vs_reference_excluding_startup'))}x excluding start-up"
        )
        for stage, why in (ref.get("stages_not_run") or {}).items():
            lines.append(f"- {stage}: not run here: {why}")
    else:
        lines.append(f"- not run: {r.get('reference_error')}")
    inf = r.get("inference")
    if inf or r.get("inference_error"):
        lines += ["", "Inference (bench/inference_bench.py, MobileNetV2-sized, weights=None):", ""]
        if inf:
            mi = inf.get("model_input_images_per_second") or {}
            lines.append(
                f"- images/s from a 1024x768 grey SEM image (conversion and resize included): batch 1: "
                f"{_f(inf.get('batch1'))}, batch 32: {_f(inf.get('batch32'))}; from 224x224x3 input: "
                f"batch 1: {_f(mi.get('batch1'))}, batch 32: {_f(mi.get('batch32'))}"
            )
        else:
            lines.append(f"- not run: {r.get('inference_error')}")
    if r.get("failed_runs"):
        lines += [
            "",
            f"{len(r['failed_runs'])} run(s) failed and were repeated once (errors in bench.json `failed_runs`).",
        ]
    lines += _scenario_lines(r)
    lines += ["", "Goals of issue 17 (the machine's load inflates every wall-time figure):", ""]
    lines += ["| goal | wanted | measured | met |", "| --- | ---: | ---: | --- |"]
    for name, g in (r.get("goals") or {}).items():
        met = "—" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {name} | {g['goal']} | {_f(g['value'], 2)} | {met} |")
    return "\n".join(lines) + "\n"


def _scenario_lines(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    by_size = r.get("by_size") or {}
    if by_size:
        lines += [
            "",
            "By size (`semingest run`, engine auto, one core, a new MariaDB database whose tables exist, as "
            "after the chart's upgrade Job or `semingest db init`; first run = into an empty database, "
            "creating the tables too; reference = its import time + images x its seconds per image):",
            "",
            "| images | engine | wall s | CPU ms/image | reference s | speedup | first run wall s | "
            "first run speedup | load avg |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for n, e in by_size.items():
            loads = [x for x in e.get("load_before") or [] if x is not None]
            lines.append(
                f"| {n} | {e.get('engine')} | {_f(e.get('wall_seconds'), 2)} | {_ms(e.get('cpu_seconds_per_image'))} | "
                f"{_f(e.get('reference_seconds'), 1)} | {_f(e.get('speedup_vs_reference'), 1)}x | "
                f"{_f(e.get('first_run_wall_seconds'), 2)} | {_f(e.get('first_run_speedup_vs_reference'), 1)}x | "
                f"{_f(_median(loads))} |"
            )
    for engine, d in (r.get("other_engines") or {}).items():
        lines += [
            "",
            f"Engine {engine} at {r.get('images')} images: images/s end to end "
            + ", ".join(f"{k} {_f(v)}" for k, v in (d.get("images_per_second") or {}).items())
            + "; excluding start-up "
            + ", ".join(
                f"{k} {_f(v)}" for k, v in (d.get("images_per_second_excluding_startup") or {}).items()
            )
            + f"; scaling 1->2 {_f(d.get('scaling_2_over_1'), 2)} ({_f(d.get('scaling_2_over_1_excluding_startup'), 2)} "
            f"excluding start-up); database stage scaling {_f((d.get('stage_scaling_2_over_1') or {}).get('database'), 2)}.",
        ]
    g = r.get("archive") or {}
    if g.get("error"):
        lines += ["", f"Archive: not run: {g['error']}"]
    elif g:
        n = g.get("new_images_into_archive") or {}
        lines += [
            "",
            f"Archive ({g.get('image_files_rows')} files in MariaDB, {g.get('files_on_disk')} on disk, engine auto, 2 cores): "
            f"re-run with nothing new {_f(r.get('rerun_nothing_new_seconds'), 2)} s "
            f"({r.get('rerun_files')} files listed), with 100 new files {_f(r.get('rerun_100_new_seconds'), 2)} s "
            f"({(g.get('rerun_100_new') or {}).get('engine')}); {n.get('images')} new images into the full database: "
            f"{_ms(n.get('cpu_seconds_per_image'))} CPU ms/image against {_ms(n.get('cpu_seconds_per_image_into_empty'))} "
            f"into an empty one (x{_f(n.get('growth'), 2)}). Footprint: "
            f"{_f((g.get('footprint') or {}).get('bytes_per_file'), 0)} bytes per file (data + indexes, all tables).",
        ]
    real = r.get("real_data") or {}
    if real.get("error"):
        lines += ["", f"Real files: not run: {real['error']}"]
    elif real:
        synth = (by_size.get("1000") or {}).get("stage_seconds_per_image") or {}
        lines += [
            "",
            f"Real files ({real.get('files')} = {real.get('originals')} files of sem-corpus x {real.get('copies_each')} "
            f"copies with a few pixels changed; one core, {real.get('engine')}): "
            f"{_f(real.get('images_per_second'))} images/s end to end, {_ms(real.get('cpu_seconds_per_image'))} CPU ms/image, "
            f"{real.get('failed')} failed.",
            "",
            "| stage | real ms/image | synthetic ms/image (1000) |",
            "| --- | ---: | ---: |",
        ]
        for stage, v in (real.get("stage_seconds_per_image") or {}).items():
            lines.append(f"| {stage} | {_ms(v)} | {_ms(synth.get(stage))} |")
    c = r.get("fat_vs_tiny") or {}
    if c.get("error"):
        lines += ["", f"fat vs tiny: not run: {c['error']}"]
    elif c:
        lines += [
            "",
            f"fat vs tiny ({c.get('cluster')}; spec {c.get('spec')}; load {_f(c.get('load_before'))}):",
            "",
            "| strategy | executors x cores | heap MiB | images | images/s | executors up s | task s | GC s "
            "| JVM CPU s | tree CPU s |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for run in c.get("runs") or []:
            lines.append(
                f"| {run['strategy']} | {run['executors']} x {run['executor_cores']} | "
                f"{run['sizing'].get('executorMemory')} | {run['images']} | {_f(run['images_per_second'], 2)} | "
                f"{_f(run['executors_up_seconds'])} | {_f(run['executor_task_seconds'])} | "
                f"{_f(run['executor_gc_seconds'], 2)} | {_f(run['executor_jvm_cpu_seconds'], 2)} | "
                f"{_f(run['executor_tree_cpu_seconds'])} |"
            )
    return lines
