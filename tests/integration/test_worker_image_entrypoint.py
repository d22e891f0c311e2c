"""The worker image's Spark entry point, run the way a driver pod runs it, without the image.

images/worker/entrypoint.sh execs ``spark-submit`` (from the pip-installed PySpark that is
SPARK_HOME in the image) on images/worker/semingest_job.py with the worker arguments the
operator renders for the kind end-to-end SemIngest, the database URL in SEMINGEST_DATABASE_URL
as the pod gets it from the Secret; Spark runs in local mode instead of on Kubernetes, and the
rows land in a real MariaDB database. The entrypoint also starts a real Spark driver (client
mode) and a real Kubernetes executor backend, and passes other commands through.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_api.spec import DATABASE_URL_ENV, WORKER_ENTRYPOINT
from semingest_worker import synth

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "images" / "worker" / "entrypoint.sh"
JOB = REPO / "images" / "worker" / "semingest_job.py"

pytestmark = [pytest.mark.spark]


def _kind_worker_arguments() -> list[str]:
    """The worker arguments of the driver pod the operator renders for the kind test's SemIngest."""
    from semingest_operator.policy import InstallationPolicy
    from semingest_operator.render import render_run

    path = REPO / "tests" / "e2e" / "test_kind_e2e.py"
    module_spec = importlib.util.spec_from_file_location("semingest_kind_e2e", path)
    assert module_spec and module_spec.loader
    e2e = sys.modules.get(module_spec.name)
    if e2e is None:
        e2e = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = e2e
        module_spec.loader.exec_module(e2e)
    # the kind test installs the chart with security.allowedHostPaths={NODE_SAMPLES}
    policy = InstallationPolicy(host_path_prefixes=(e2e.NODE_SAMPLES,))
    run = render_run(e2e._ingest_for_kind(), driver_service_account="semingest-driver", policy=policy)
    (pod,) = [m for m in run.manifests if m["kind"] == "Pod"]
    args = pod["spec"]["containers"][0]["args"]
    worker_args = args[args.index(WORKER_ENTRYPOINT) + 1 :]
    # --semingest names the resource whose status the driver patches: there is no API server here.
    i = worker_args.index("--semingest")
    return worker_args[:i] + worker_args[i + 2 :]


@pytest.mark.mariadb
def test_entry_point_ingests_through_spark_submit_into_mariadb(tmp_path: Path, mariadb_url: str):
    import pyspark

    images = tmp_path / "samples"
    synth.generate_corpus(images, 8, seed=5, duplicate_fraction=0.25)
    files = sorted(p for p in images.rglob("*.tif"))
    duplicates = [p for p in files if "duplicates" in p.parts]
    assert len(files) == 8 and len(duplicates) == 2

    java = shutil.which("java")
    assert java, "java is not on PATH"
    env = {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "JAVA_HOME": str(Path(os.path.realpath(java)).parents[1]),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        DATABASE_URL_ENV: mariadb_url,
    }
    cmd = [
        str(ENTRYPOINT),
        f"{env['SPARK_HOME']}/bin/spark-submit",
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        str(JOB),
        *_kind_worker_arguments(),
        "--source-root", str(images),
        "--json",
    ]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    # Spark's Python side logs to stdout too: the summary is the one JSON line.
    (summary_line,) = [line for line in result.stdout.splitlines() if line.startswith("{")]
    summary = json.loads(summary_line)
    assert summary["status"] == "succeeded"
    assert (summary["discovered"], summary["processed"], summary["failed"]) == (8, 8, 0)
    assert summary["duplicates"] == 2
    assert summary["run_id"] == "e2e-ingest-g1"

    engine = sa.create_engine(mariadb_url)
    try:
        with engine.connect() as conn:
            count = lambda table: conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: E731, S608
            assert count("image_files") == 8
            assert count("images") == 6
            assert count("ingest_runs") == 1
    finally:
        engine.dispose()


# --- the worker's entrypoint with the real PySpark ----------------------------------------------


def _spark_env() -> dict[str, str]:
    import pyspark

    java = shutil.which("java")
    if java is None:
        pytest.fail("java is not on PATH (Java 17 is a prerequisite)")
    return {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "JAVA_HOME": str(Path(os.path.realpath(java)).parents[1]),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def test_entrypoint_driver_runs_spark_submit_in_client_mode(tmp_path: Path):
    job = tmp_path / "job.py"
    job.write_text(
        "from pyspark.sql import SparkSession\n"
        "s = SparkSession.builder.getOrCreate()\n"
        "conf = s.sparkContext.getConf()\n"
        "print('RESULT', s.sparkContext.parallelize(range(100), 4).sum(),"
        " conf.get('spark.submit.deployMode'), conf.get('spark.driver.bindAddress'))\n"
        "s.stop()\n"
    )
    env = {**_spark_env(), "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1"}
    result = subprocess.run(
        [str(ENTRYPOINT), "driver", "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESULT 4950 client 127.0.0.1" in result.stdout


def test_entrypoint_executor_starts_the_kubernetes_executor_backend(tmp_path: Path):
    """With Spark's executor variables the JVM runs KubernetesExecutorBackend from SPARK_HOME/jars
    and dials the driver URL it was given (nothing listens there: the connection is refused)."""
    env = {
        **_spark_env(),
        "SPARK_EXECUTOR_MEMORY": "256m",
        "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@127.0.0.1:1",
        "SPARK_EXECUTOR_ID": "7",
        "SPARK_EXECUTOR_CORES": "1",
        "SPARK_APPLICATION_ID": "spark-e2e",
        "SPARK_EXECUTOR_POD_IP": "127.0.0.1",
        "SPARK_EXECUTOR_POD_NAME": "sem-exec-7",
        "SPARK_JAVA_OPT_0": "-Dsemingest.test=first",
        "SPARK_JAVA_OPT_1": "-Dspark.network.timeout=5s",
    }
    result = subprocess.run(
        [str(ENTRYPOINT), "executor"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "KubernetesExecutorBackend: Started daemon" in log, log[-3000:]
    assert "Failed to connect to /127.0.0.1:1" in log, log[-3000:]


def test_entrypoint_passes_other_commands_through_and_needs_a_command():
    env = _spark_env()
    through = subprocess.run([str(ENTRYPOINT), "echo", "semingest"], env=env, capture_output=True, text=True)
    assert through.returncode == 0 and through.stdout == "semingest\n"
    empty = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True)
    assert empty.returncode == 64 and "usage:" in empty.stderr
