"""The benchmark works end to end at a tiny size (CI's ``BENCH_IMAGES=20``).

Not a timed test: it proves that ``bench/run_bench.py`` generates the corpus, ingests it with
local[1] and local[2] (engine auto, which is inline at this size, and local Spark) into MariaDB,
runs the by-size runs, the archive re-runs, the real-file corpus and fat vs tiny on a standalone
Spark cluster sized by the operator, runs the reference in its own venv, and writes a
``bench.json`` whose figures are present and sane (positive, finite, consistent with each other)
plus the Markdown table. No speed is asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES = 20

pytestmark = [pytest.mark.mariadb, pytest.mark.spark]


def _positive(value) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory, mariadb_server: str) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("bench")
    cmd = [
        sys.executable,
        str(REPO / "bench" / "run_bench.py"),
        "--images",
        str(IMAGES),
        "--out",
        str(out),
        "--cache",
        str(out / "cache"),
        "--repetitions",
        "1",
        "--no-inference",
        "--no-spark-free",
        "--databases",
        "mariadb",
        "--sizes",
        "10,20",
        "--archive-files",
        "60",
        "--real-files",
        "42",
        "--cluster-images",
        "10",
        "--reference-images",
        str(IMAGES),
    ]
    env = dict(os.environ, SEMINGEST_BENCH_MARIADB=mariadb_server)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=1800, check=False)
    assert proc.returncode == 0, f"run_bench.py exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    return report, markdown, out


def test_bench_json_has_the_headline_fields_as_sane_numbers(bench_output):
    r, _, _ = bench_output
    assert r["images"] == IMAGES
    assert r["cores"] == os.cpu_count()
    assert set(r["images_per_second"]) == {"local1", "local2"}
    for key in ("local1", "local2"):
        assert _positive(r["images_per_second"][key])
        # start-up is measured alone and subtracted: faster than end to end, or None when the
        # (tiny) run was shorter than the separately measured start-up
        excluding = r["images_per_second_excluding_startup"][key]
        assert excluding is None or excluding > r["images_per_second"][key]
        assert _positive(r["startup"][key]["median"])
    assert r["images_per_second_per_core"] == r["images_per_second"]["local1"]
    assert _positive(r["scaling_2_over_1"])
    assert r["scaling_2_over_1"] == pytest.approx(
        r["images_per_second"]["local2"] / r["images_per_second"]["local1"]
    )
    assert r["startup_seconds"] == r["startup"]["local1"]["median"]


def test_bench_json_has_per_stage_seconds_and_database_rate(bench_output):
    r, _, _ = bench_output
    stages = r["stage_seconds_per_image"]
    assert set(stages) >= {"metadata", "scalebar", "inference", "database"}
    for stage in ("decode", "metadata", "scalebar", "database"):
        assert _positive(stages[stage]), stage
    assert stages["inference"] is None or stages["inference"] >= 0  # no model: skipped
    assert _positive(r["database_rows_per_second"])
    # every image leaves rows in several tables: more rows than images
    assert r["by_database"]["mariadb"]["local1"]["database_rows"] > IMAGES


def test_bench_ran_every_configuration(bench_output):
    r, _, _ = bench_output
    assert set(r["by_database"]) == {"mariadb"}
    configs = {(run["database"], run["master"]) for run in r["raw"]}
    assert configs == {("mariadb", m) for m in ("local[1]", "local[2]")}
    assert {run["report"]["engine"] for run in r["raw"]} == {"inline"}  # auto at 20 images
    spark = r["other_engines"]["local-spark"]
    assert set(spark["images_per_second"]) == {"local1", "local2"}
    assert all(_positive(v) for v in spark["images_per_second"].values())
    for run in r["raw"]:
        assert run["cpu_method"]
        rep = run["report"]
        assert rep["processed"] + rep["failed"] == IMAGES
        assert rep["duplicates"] >= 1  # the generator plants 5 % duplicates
        assert run["table_rows"]["images"] == IMAGES - rep["duplicates"]
        assert _positive(run["wall_seconds"]) and run["wall_seconds"] >= run["run_seconds"]
        # pixel sizes were checked against the generator's truth for every file
        assert run["accuracy"]["checked"] == IMAGES
    assert r["repetitions"] == 1


def test_bench_ran_the_reference_in_its_own_venv(bench_output):
    r, _, _ = bench_output
    ref = r["reference"]
    assert ref is not None, r["reference_error"]
    assert ref["package"] == "sem-meta==0.1.1"
    assert ref["images"] == IMAGES
    assert "metadata" in ref["stages_run"]
    assert _positive(r["reference_images_per_second"])
    assert r["speedup_vs_reference"] == pytest.approx(
        r["images_per_second_per_core"] / r["reference_images_per_second"]
    )
    assert (REPO / "build" / "ref-venv" / "bin" / "python").is_file()
    # the reference is not in the project's venv
    probe = subprocess.run([sys.executable, "-c", "import sem_meta"], capture_output=True, check=False)
    assert probe.returncode != 0


def test_bench_md_is_a_table_of_the_same_figures(bench_output):
    r, md, _ = bench_output
    assert "| database | master | images/s end to end |" in md
    assert f"{r['images_per_second']['local1']:.1f}" in md
    for goal in (
        "speedup_vs_reference_by_size",
        "scaling_2_over_1_excluding_startup",
        "rerun_nothing_new_seconds",
    ):
        assert goal in md


def test_bench_json_has_the_issue_17_keys(bench_output):
    r, md, _ = bench_output
    assert set(r["speedup_vs_reference_by_size"]) == {"10", "20"}
    assert all(_positive(v) for v in r["speedup_vs_reference_by_size"].values())
    for n in ("10", "20"):
        entry = r["by_size"][n]
        assert entry["images"] == int(n) and entry["engine"] == "inline"
        assert entry["speedup_vs_reference"] == pytest.approx(
            entry["reference_seconds"] / entry["wall_seconds"]
        )
        # the site's first run (creating the tables too) is timed beside the runs into a database
        # whose tables exist
        assert _positive(entry["first_run_wall_seconds"])
        assert entry["first_run_speedup_vs_reference"] == pytest.approx(
            entry["reference_seconds"] / entry["first_run_wall_seconds"]
        )
    assert _positive(r["scaling_2_over_1_excluding_startup"])
    assert _positive(r["database_stage_scaling"])
    assert r["rerun_files"] == 60  # every file of the archive listed, all skipped
    assert _positive(r["rerun_nothing_new_seconds"]) and _positive(r["rerun_100_new_seconds"])
    assert r["archive"]["image_files_rows"] == 60
    assert _positive(r["per_image_cost_growth"])
    assert _positive(r["per_image_cost_growth_into_archive"])
    goals = r["goals"]
    assert goals["cpu_whole_process_tree"]["value"] == r["by_size"]["10"]["cpu_method"].startswith("cgroup")
    assert goals["cpu_over_stage_floors"]["value"] is None  # --no-spark-free: no floors measured
    assert all(g["met"] in (True, False, None) for g in goals.values())
    assert _positive(r["real_data_images_per_second_per_core"])
    real = r["real_data"]
    assert real["images"] == real["files"] == real["originals"] * real["copies_each"]
    for key in ("by_size", "archive", "real_data", "fat_vs_tiny"):
        assert key in r
    assert "By size" in md and "Real files" in md and "fat vs tiny" in md


def test_fat_and_tiny_ran_on_a_standalone_cluster_as_the_operator_sized_them(bench_output):
    r, _, _ = bench_output
    runs = {run["strategy"]: run for run in r["fat_vs_tiny"]["runs"]}
    assert set(runs) == {"fat", "tiny"}
    assert runs["fat"]["executors"] == 1 and runs["fat"]["executor_cores"] == [2]
    assert runs["tiny"]["executors"] == 2 and runs["tiny"]["executor_cores"] == [1, 1]
    for run in runs.values():
        assert run["images"] == 10 and run["failed"] == 0
        assert run["spark_conf"]["spark.executor.memory"]
        assert _positive(run["images_per_second"])
        assert run["executor_gc_seconds"] >= 0
