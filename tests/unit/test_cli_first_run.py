"""Issue 16, first-run experience of ``semingest``: read-only commands create nothing, a missing
source creates no database, a missing model never imports TensorFlow, native logs only with -v."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from semingest_worker.cli import main, quiet_native_logs


def test_summary_of_a_missing_sqlite_file_says_so_and_creates_nothing(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEMINGEST_DATABASE_URL", raising=False)
    assert main(["summary"]) == 1
    assert "there is no database at semingest.db" in capsys.readouterr().err
    assert main(["summary", "--db", f"sqlite:///{tmp_path / 'other.db'}", "--json"]) == 1
    assert list(tmp_path.iterdir()) == [], "no database file (nor -wal/-shm) was created"


def test_a_missing_source_fails_before_a_database_is_created(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "x.db"
    assert main(["run", str(tmp_path / "nope"), "--db", f"sqlite:///{db}"]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"semingest: run failed: source folder {str(tmp_path / 'nope')!r} does not exist or is not a folder\n"
    )
    assert not db.exists() and list(tmp_path.iterdir()) == []


def test_a_missing_model_fails_the_run_without_importing_tensorflow(tmp_path: Path):
    (tmp_path / "img").mkdir()
    code = (
        "import sys\n"
        "from semingest_worker.cli import main\n"
        f"rc = main(['run', {str(tmp_path / 'img')!r}, '--db', 'sqlite:///{tmp_path / 'm.db'}',"
        f" '--model', {str(tmp_path / 'no.keras')!r}])\n"
        "print(rc, 'tensorflow' in sys.modules, 'pyspark' in sys.modules)\n"
    )
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.split() == ["1", "False", "False"], out.stderr
    assert f"cannot load the model: model {tmp_path / 'no.keras'} does not exist" in out.stderr
    assert "cpu_feature_guard" not in out.stderr and "oneDNN" not in out.stderr


@pytest.mark.parametrize(("verbose", "level"), [(False, "2"), (True, None)])
def test_tensorflows_native_logs_need_verbose(monkeypatch, verbose, level):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    ours = logging.getLogger("semingest_worker")
    monkeypatch.setattr(ours, "level", ours.level)  # -v raises it to INFO: restored afterwards
    quiet_native_logs(verbose)
    assert ours.level == (logging.INFO if verbose else logging.NOTSET)
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == level
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet_native_logs(False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0", "a level the user set is kept"


def test_the_log4j2_configuration_is_warn_and_the_worker_image_uses_it():
    from semingest_worker.cli import LOG4J2_CONFIG

    text = LOG4J2_CONFIG.read_text()
    assert "rootLogger.level = warn" in text and "appender.console.target = SYSTEM_ERR" in text
    dockerfile = (Path(__file__).resolve().parents[2] / "images" / "worker" / "Dockerfile").read_text()
    assert "SPARK_CONF_DIR=/opt/semingest/conf" in dockerfile
    assert "semingest_worker.__file__))')/conf\" /opt/semingest/conf" in dockerfile


def test_starting_spark_is_shown_before_the_first_count():
    import io

    from semingest_worker.progress import ProgressDisplay

    ticks = iter([0.0, 20.0, 20.0])
    out = io.StringIO()
    display = ProgressDisplay(40, stream=out, interactive=False, clock=lambda: next(ticks))
    display.note("starting Spark")
    display.update(4, force=True)
    first, second = out.getvalue().splitlines()
    assert first == "semingest: starting Spark (40 files to do)"
    assert second.startswith("semingest: 4/40 files (10%)")
    one = io.StringIO()
    ProgressDisplay(1, stream=one, interactive=False, clock=lambda: 0.0).note("starting Spark")
    assert "(1 file to do)" in one.getvalue()


def test_progress_and_summary_share_the_runs_clock() -> None:
    """The display measures from the run's start (as the summary does), not from its own creation."""
    import io

    from semingest_worker.progress import ProgressDisplay

    now = [100.0]
    display = ProgressDisplay(10, stream=io.StringIO(), interactive=False, clock=lambda: now[0], started=90.0)
    now[0] = 110.0
    line = display.line(10, 0)
    assert "elapsed 20s" in line and "0.5 files/s" in line  # 10 files in the run's 20 s
