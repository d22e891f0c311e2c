"""Fault tolerance (issue 7) against the real MariaDB and Spark local[2]: exactly one row per image
under task retries, a SIGKILLed run finished by the next one, and the database going away.

Every case ends with the final tables compared with an uninterrupted run's (row counts and
content digests of every table). The tests that stop MariaDB always start it again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from mariadb_databases import mariadb_database

from semingest_worker import synth
from semingest_worker.database import create_engine, queries, schema
from semingest_worker.job import JobConfig, run_job

pytestmark = [pytest.mark.spark, pytest.mark.mariadb, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COUNT = 150
RUN = [sys.executable, "-m", "semingest_worker.cli", "run"]
FAULTY = [sys.executable, str(Path(__file__).with_name("faulty_run.py"))]  # `semingest run` + a FaultPlan


def faulty_run(*, kill_after_files: int | None = None, slow_ms_per_file: int = 0) -> list[str]:
    """The command line of a `semingest run` with a FaultPlan; the run's own options follow."""
    plan = ["--slow-ms-per-file", str(slow_ms_per_file)]
    if kill_after_files is not None:
        plan += ["--kill-after-files", str(kill_after_files)]
    return [*FAULTY, *plan, "--", "run"]


COMMON = ["--master", "local[2]", "--no-scale-bar", "--no-progress"]


# -- MariaDB control (the machine's own commands) ----------------------------------------------------
def _ping() -> bool:
    return (
        subprocess.run(
            ["mysqladmin", "--protocol=tcp", "-h127.0.0.1", "-uroot", "status"], capture_output=True
        ).returncode
        == 0
    )


def _server_process_running() -> bool:
    return subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True).returncode == 0


def stop_mariadb() -> None:
    subprocess.run(["mysqladmin", "--protocol=tcp", "-h127.0.0.1", "-uroot", "shutdown"], check=True)
    deadline = time.monotonic() + 60
    while _server_process_running() and time.monotonic() < deadline:
        time.sleep(0.1)  # shutdown returns before the server process has exited


def start_mariadb() -> None:
    """Start it the way `make db-up` does (as the mysql user, waiting until it answers)."""
    script = Path(__file__).resolve().parents[2] / "tools" / "ensure_mariadb.sh"
    started = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=180)
    if started.returncode != 0 or not _ping():
        raise RuntimeError(f"MariaDB did not come back: {started.stderr[-2000:]}")


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("fault-corpus")
    images = synth.generate_corpus(
        root,
        COUNT,
        seed=21,
        size=(384, 288),
        styles=("zeiss", "fei", "jeol", "hitachi"),
        duplicate_fraction=0.05,
    )
    bad = synth.write_bad_inputs(root)
    return root, len(images) + len(bad)


def _digests(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        digests = queries.content_digests(conn)
    engine.dispose()
    return digests


def _file_count(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.image_files)).scalar_one())
    except sa.exc.SQLAlchemyError:
        return 0  # tables not created yet


def _select_count(url: str, run_id: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        files = schema.image_files
        count = conn.execute(sa.select(sa.func.count()).where(files.c.run_id == run_id)).scalar_one()
    engine.dispose()
    return int(count)


def _runs(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.ingest_runs).order_by(schema.ingest_runs.c.started_at)).all()
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def reference(corpus, spark, mariadb_server: str) -> dict[str, tuple[int, str]]:
    """Digests of an uninterrupted run (same options) in its own MariaDB database."""
    with mariadb_database(mariadb_server, "semingest_ref") as url:  # survives the restarts
        root, files = corpus
        summary = run_job(
            JobConfig(source=str(root), database_url=url, scale_bar=False), spark=spark, progress=False
        )
        assert summary.processed == files
        yield _digests(url)


def _env() -> dict[str, str]:
    return {**os.environ, "PYSPARK_PYTHON": sys.executable}


def _start(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    proc = subprocess.Popen(
        args, stdout=out.open("w"), stderr=err.open("w"), env=env, cwd=REPO, start_new_session=True
    )
    return proc, out, err


def _wait_for_rows(url: str, proc: subprocess.Popen, at_least: int, timeout: float = 180) -> int:
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = _file_count(engine)
            if count >= at_least:
                return count
            assert proc.poll() is None, "the run ended before the fault could be injected"
            time.sleep(0.05)
        raise AssertionError(f"no {at_least} rows within {timeout} s")
    finally:
        engine.dispose()


# -- the cases --------------------------------------------------------------------------------------
def test_python_worker_killed_mid_partition_is_retried_with_exactly_one_row_per_image(
    corpus, reference, mariadb_url: str
) -> None:
    root, files = corpus
    args = [str(root), "--db", mariadb_url, *COMMON, "--partitions", "4", "--db-batch-size", "5"]
    out = subprocess.run(
        [*faulty_run(kill_after_files=10), *args, "--max-failures", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    kills = out.stderr.count("fault injection: killing this Python worker")
    assert kills >= 2, out.stderr[-3000:]  # first attempts died with committed and uncommitted work
    assert "Python worker exited unexpectedly" in out.stderr
    summary = json.loads(out.stdout)
    assert (summary["processed"], summary["discovered"]) == (files, files)
    assert _digests(mariadb_url) == reference  # no duplicate, no gap, same content
    (run,) = _runs(mariadb_url)
    assert (run.status, run.processed) == ("succeeded", files)


def test_sigkilled_run_is_finished_by_the_next_run_with_identical_tables(
    corpus, reference, mariadb_url: str, tmp_path: Path
) -> None:
    root, files = corpus
    args = [str(root), "--db", mariadb_url, *COMMON, "--partitions", "8", "--db-batch-size", "2", "--json"]
    proc, _, err = _start([*faulty_run(slow_ms_per_file=40), *args], _env(), tmp_path)
    try:
        _wait_for_rows(mariadb_url, proc, at_least=20)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, its JVM and the Python workers
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    time.sleep(1)
    engine = create_engine(mariadb_url)
    committed = _file_count(engine)
    engine.dispose()
    assert 20 <= committed < files, "the run was not killed mid-way"
    (killed,) = _runs(mariadb_url)
    assert killed.status == "running"  # nobody could record anything yet

    again = subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=600, env=_env(), cwd=REPO)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    # only what the killed run did not commit is processed
    assert (summary["skipped"], summary["processed"]) == (committed, files - committed)
    assert _digests(mariadb_url) == reference
    first, second = _runs(mariadb_url)
    assert first.id == killed.id and first.status == "failed" and "interrupted" in first.error
    assert second.status == "succeeded"


def test_database_restart_during_a_run_is_ridden_out_by_retries(
    corpus, reference, mariadb_url: str, tmp_path: Path
) -> None:
    root, files = corpus
    args = [str(root), "--db", mariadb_url, *COMMON, "--partitions", "8", "--db-batch-size", "2"]
    proc, out, err = _start(
        # slow enough that the writers are still writing when the server goes away (the pipeline
        # itself takes a few ms per file: without it the run could end before the outage)
        [*faulty_run(slow_ms_per_file=200), *args, "--retry-deadline", "120", "--json"],
        _env(),
        tmp_path,
    )
    try:
        _wait_for_rows(mariadb_url, proc, at_least=10)
        try:
            stop_mariadb()
            time.sleep(3)
        finally:
            start_mariadb()
        rc = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert rc == 0, err.read_text()[-3000:]
    summary = json.loads(out.read_text())
    assert summary["database_retries"] > 0  # the writers did see the outage
    assert summary["processed"] == files
    assert _digests(mariadb_url) == reference
    (run,) = _runs(mariadb_url)
    assert (run.status, run.processed, run.error) == ("succeeded", files, None)


def test_database_down_past_the_deadline_fails_the_run_clearly_and_a_rerun_finishes(
    corpus, reference, mariadb_url: str, tmp_path: Path
) -> None:
    root, files = corpus
    args = [str(root), "--db", mariadb_url, *COMMON, "--partitions", "8", "--db-batch-size", "2"]
    proc, out, err = _start(
        [*faulty_run(slow_ms_per_file=40), *args, "--retry-deadline", "4", "--json"], _env(), tmp_path
    )
    try:
        _wait_for_rows(mariadb_url, proc, at_least=10)
        try:
            stop_mariadb()
            time.sleep(10)  # > the 4 s deadline: the writers give up, the job fails
        finally:
            start_mariadb()
        rc = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    stderr = err.read_text()
    assert rc == 1, stderr[-3000:]
    assert "semingest: run failed:" in stderr
    assert "database unreachable" in stderr and "retry deadline 4 s" in stderr
    (run,) = _runs(mariadb_url)
    assert run.status == "failed" and "database unreachable" in run.error and run.finished_at is not None
    # It committed files before the outage, and says how many (issue 13 item 15: it said 0).
    committed = _select_count(mariadb_url, run.id)
    assert committed >= 10 and run.processed == committed

    again = subprocess.run(
        [*RUN, *args, "--json"], capture_output=True, text=True, timeout=600, env=_env(), cwd=REPO
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert _digests(mariadb_url) == reference
    assert [r.status for r in _runs(mariadb_url)] == ["failed", "succeeded"]
