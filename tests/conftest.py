"""Shared fixtures: the shared corpus, a real MariaDB database per test, one local Spark session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MARIADB_SERVER_URL = os.environ.get("SEMINGEST_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``$SEMINGEST_SHARED``: skipped when unset (a developer's laptop), a failure when set but absent."""
    value = os.environ.get("SEMINGEST_SHARED")
    if not value:
        pytest.skip("SEMINGEST_SHARED is not set (.ci/run sets it to ../shared)")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"SEMINGEST_SHARED={value} does not exist")
    return path


@pytest.fixture(scope="session")
def sem_corpus(shared_dir: Path) -> Path:
    path = shared_dir / "sem-corpus"
    if not (path / "MANIFEST.md").is_file():
        pytest.fail(f"{path} has no MANIFEST.md")
    return path


@pytest.fixture(scope="session")
def spark_manifests(shared_dir: Path) -> Path:
    path = shared_dir / "spark-operator"
    if not (path / "sparkoperator.k8s.io_sparkapplications.yaml").is_file():
        pytest.fail(f"{path} has no sparkoperator.k8s.io_sparkapplications.yaml")
    return path


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    """The MariaDB server URL (no database). Fails, never skips, when the server is unreachable."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"{MARIADB_SERVER_URL}/test", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the same verdict
        pytest.fail(f"MariaDB at {MARIADB_SERVER_URL} is unreachable (run `make db-up`): {exc}")
    finally:
        engine.dispose()
    return MARIADB_SERVER_URL


@pytest.fixture
def mariadb_url(mariadb_server: str) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    from mariadb_databases import mariadb_database

    with mariadb_database(mariadb_server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'semingest.db'}"


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session for the whole test run (JVM start-up is the expensive part)."""
    from pyspark.sql import SparkSession

    # Python workers must run this interpreter (the venv with semingest installed), not `python3` on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("semingest-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory):
    """A real control plane (etcd, kube-apiserver, kube-controller-manager; tests/controlplane/)
    for the whole run. Failing to build or start it fails the tests that use it, never skips."""
    from controlplane import ControlPlane, ControlPlaneError

    started = ControlPlane.start(tmp_path_factory.mktemp("controlplane"))
    try:
        cp = started.__enter__()
    except ControlPlaneError as exc:
        pytest.fail(f"the test control plane did not start: {exc}", pytrace=False)
    try:
        yield cp
    finally:
        started.__exit__(None, None, None)


@pytest.fixture
def operator_process(control_plane, tmp_path: Path):
    """A factory of semingest-operator processes against ``control_plane``: call it with a
    kubeconfig (see ControlPlane.kubeconfig_for_token) and the namespaces to watch; every process
    it started is stopped after the test."""
    from controlplane import OperatorProcess

    started: list[OperatorProcess] = []

    def start(kubeconfig: Path, namespaces: list[str], **options) -> OperatorProcess:
        op = OperatorProcess(
            control_plane, kubeconfig, namespaces, tmp_path / f"operator-{len(started)}.log", **options
        )
        started.append(op)
        return op.start()

    yield start
    for op in started:
        op.stop()
