"""Issue 16: a first ``semingest run`` on a terminal shows no JVM or TensorFlow noise (real Spark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.mark.spark
def test_a_first_run_on_a_terminal_shows_no_jvm_or_tensorflow_noise(tmp_path: Path):
    """The JVM's log4j2 start-up lines (default profile, loopback host, native Hadoop) are gone:
    what stderr shows is semingest's own (the JDK's incubator-module notice cannot be silenced)."""
    from semingest_worker import synth

    synth.generate_corpus(tmp_path / "img", 3, seed=2, size=(320, 240), duplicate_fraction=0)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    for name in ("SPARK_SUBMIT_OPTS", "TF_CPP_MIN_LOG_LEVEL", "SPARK_CONF_DIR"):
        env.pop(name, None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "semingest_worker.cli",
            "run",
            str(tmp_path / "img"),
            "--no-progress",
            "--json",
            "--engine",
            "local-spark",  # a small folder would run inline: this is about Spark's own noise
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    noise = [
        line
        for line in out.stderr.splitlines()
        if line.strip() and not line.startswith("WARNING: Using incubator modules")
    ]
    assert noise == [], out.stderr
    summary = json.loads(out.stdout)
    assert summary["status"] == "succeeded"
    # Spark's task measures of the run (status.sparkMeasures in a cluster), in the stored summary too
    spark = summary["spark"]
    assert spark["tasks"] >= 1 and spark["stages"] >= 1 and spark["executorRunSeconds"] > 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'semingest.db'}")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT summary FROM ingest_runs")).scalar_one()
    engine.dispose()
    assert json.loads(stored)["spark"] == spark
