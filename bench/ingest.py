"""One timed ingest run: ``semingest run DIR --db URL --master local[N] --json`` in a fresh database.

Measured from outside the process: wall seconds (everything: Python and JVM start-up, Spark
session, listing, the work, the summary), the CPU seconds and peak RSS of the whole process tree (CLI,
JVM, Spark's Python workers, Tesseract), sampled from /proc by ``bench.proctree.TreeSampler``.
Measured by the run itself (its ``--json``): ``seconds`` and ``stage_seconds``.

Databases: SQLite in a fresh file; MariaDB in a fresh database ``semingest_bench_<id>`` created
before and dropped after each run (its row counts are read before the drop).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.proctree import run_sampled

MARIADB_SERVER_URL = os.environ.get("SEMINGEST_BENCH_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


class IngestFailed(RuntimeError):
    pass


@dataclass
class IngestRun:
    database: str  # "sqlite" or "mariadb"
    master: str  # "local[1]", ...
    repetition: int
    wall_seconds: float
    cpu_seconds: float  # user + system of the whole process tree (sampled from /proc)
    max_rss_mb: float  # peak total RSS of the process tree
    report: dict[str, Any]  # the run's own --json summary
    table_rows: dict[str, int] = field(default_factory=dict)  # rows per table after the run
    accuracy: dict[str, Any] = field(default_factory=dict)  # pixel sizes vs the generator's truth
    load_before: float | None = None  # 1-minute load average when the run started (other work on the box)
    cpu_method: str = "sampled /proc"  # how cpu_seconds was measured (bench.proctree)
    server_cpu_seconds: float | None = None  # the local MariaDB server's CPU during the run (shared!)

    @property
    def images(self) -> int:
        """Files handled by this run (new files: processed ones, failed ones and duplicates)."""
        r = self.report
        return int(r.get("processed", 0)) + int(r.get("failed", 0))

    @property
    def run_seconds(self) -> float | None:
        value = self.report.get("seconds")
        return float(value) if value is not None else None

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "master": self.master,
            "repetition": self.repetition,
            "images": self.images,
            "wall_seconds": self.wall_seconds,
            "run_seconds": self.run_seconds,
            "cpu_seconds": self.cpu_seconds,
            "cpu_method": self.cpu_method,
            "server_cpu_seconds": self.server_cpu_seconds,
            "peak_tree_rss_mb": self.max_rss_mb,
            "load_before": self.load_before,
            "table_rows": self.table_rows,
            "accuracy": self.accuracy,
            "report": self.report,
        }


def semingest_executable() -> str:
    """The ``semingest`` console script of the interpreter running the benchmark."""
    candidate = Path(sys.executable).parent / "semingest"
    if candidate.is_file():
        return str(candidate)
    raise IngestFailed(f"no semingest console script beside {sys.executable} (run `make setup`)")


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """A URL to a new, empty database of ``kind``; removed afterwards."""
    if kind == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"bench-{uuid.uuid4().hex[:10]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if kind != "mariadb":
        raise ValueError(f"unknown database kind {kind!r}")
    import sqlalchemy as sa

    name = f"semingest_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{MARIADB_SERVER_URL}/")
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        yield f"{MARIADB_SERVER_URL}/{name}?charset=utf8mb4"
    finally:
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin: Any, name: str) -> None:
    """Drop ``name``; one retry (a reconnect) when the server dropped the connection."""
    import sqlalchemy as sa

    for attempt in (1, 2):
        try:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            return
        except sa.exc.OperationalError as exc:
            if attempt == 2:
                print(f"[bench] could not drop MariaDB database {name}: {exc}", file=sys.stderr)
                return
            admin.dispose()
            time.sleep(2.0)


def check_mariadb() -> str | None:
    """None when the MariaDB server answers, else the reason it does not."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"{MARIADB_SERVER_URL}/", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is the same verdict
        return f"MariaDB at {MARIADB_SERVER_URL} is unreachable (run `make db-up`): {exc}"
    finally:
        engine.dispose()


def count_rows(url: str) -> dict[str, int]:
    """Rows per table in the database at ``url``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        names = sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            quote = engine.dialect.identifier_preparer.quote
            return {
                n: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {quote(n)}")).scalar_one())  # noqa: S608 - names from the inspector
                for n in names
            }
    finally:
        engine.dispose()


def table_footprint(url: str) -> dict[str, dict[str, int]]:
    """MariaDB/MySQL: rows (estimated), data and index bytes per table (``information_schema``;
    ``ANALYZE TABLE`` first so the figures are current). Empty for SQLite."""
    import sqlalchemy as sa

    if url.startswith("sqlite"):
        return {}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            for name in names:
                conn.exec_driver_sql(f"ANALYZE TABLE `{name}`").all()
            rows = conn.execute(
                sa.text(
                    "SELECT table_name, table_rows, data_length, index_length FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()"
                )
            ).all()
        return {
            str(n): {"rows": int(r or 0), "data_bytes": int(d or 0), "index_bytes": int(i or 0)}
            for n, r, d, i in rows
        }
    finally:
        engine.dispose()


def pixel_size_accuracy(url: str, truth: dict[str, float]) -> dict[str, Any]:
    """How many stored OCR / metadata pixel sizes agree with ``truth`` (absolute path -> metres)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT f.path, p.ocr_pixel_size_m, p.metadata_pixel_size_m "
                    "FROM image_files f JOIN pixel_size p ON p.image_hash = f.image_hash"
                )
            ).all()
    finally:
        engine.dispose()
    checked = ocr_ok = meta_ok = ocr_read = 0
    for path, ocr, meta in rows:
        want = truth.get(path)
        if not want:
            continue
        checked += 1
        ocr_read += ocr is not None
        ocr_ok += ocr is not None and abs(ocr - want) <= 0.03 * want
        meta_ok += meta is not None and abs(meta - want) <= 0.001 * want
    return {
        "checked": checked,
        "ocr_read": ocr_read,
        "ocr_within_3_percent": ocr_ok,
        "metadata_within_0_1_percent": meta_ok,
    }


def pinned_to_master_cores(cmd: list[str], master: str) -> tuple[list[str], str | None]:
    """Run ``cmd`` on as many CPUs as ``master`` has task slots: ``local[N]`` -> ``taskset -c 0-(N-1)``.

    Strong scaling means giving the whole run (JVM, driver, Python workers, Tesseract) N cores;
    without pinning, ``local[1]`` still spreads its JVM and Tesseract over every core of the
    machine and the 1-core figure is flattered. Returns the command and the CPU list (None when
    not pinned: ``local[*]``, no ``taskset``, or N >= the machine's cores).
    """
    found = re.fullmatch(r"local\[(\d+)(?:,\d+)?\]", master)
    cores = os.cpu_count() or 1
    if not found or not shutil.which("taskset") or int(found.group(1)) >= cores:
        return cmd, None
    cpus = f"0-{int(found.group(1)) - 1}"
    return ["taskset", "-c", cpus, *cmd], cpus


def run_ingest(
    images_dir: Path,
    database: str,
    master: str,
    repetition: int,
    workdir: Path,
    *,
    truth: dict[str, float] | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 3600.0,
    schema_first: bool = False,
) -> IngestRun:
    """Ingest ``images_dir`` once into a fresh ``database`` with Spark ``master``; time it.
    ``schema_first``: the database gets its tables before the timed run (``semingest db init``,
    untimed), as on a site where the chart's upgrade Job has run; otherwise the run creates them."""
    with fresh_database(database, workdir) as url:
        if schema_first:
            init = subprocess.run(
                [semingest_executable(), "db", "init", "--db", url],
                capture_output=True,
                text=True,
                check=False,
            )
            if init.returncode != 0:
                raise IngestFailed(f"semingest db init exited {init.returncode}: {init.stderr[-2000:]}")
        log = workdir / f"{database}-{master.replace('[', '').replace(']', '')}-{repetition}.log"
        run = run_ingest_url(images_dir, url, master, log, extra_args=extra_args, timeout=timeout)
        run.database, run.repetition = database, repetition
        run.table_rows = count_rows(url)
        run.accuracy = pixel_size_accuracy(url, truth) if truth else {}
    return run


def run_ingest_url(
    images_dir: Path,
    url: str,
    master: str,
    log: Path,
    *,
    extra_args: tuple[str, ...] = (),
    timeout: float = 3600.0,
) -> IngestRun:
    """``semingest run images_dir --db url --master master --json`` as it is (no fresh database)."""
    cmd = [
        semingest_executable(),
        "run",
        str(images_dir),
        "--db",
        url,
        "--master",
        master,
        "--json",
        *extra_args,
    ]
    cmd, _ = pinned_to_master_cores(cmd, master)
    env = dict(os.environ)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    log.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    server_before = database_server_cpu_seconds() if not url.startswith("sqlite") else None
    try:
        done = run_sampled(cmd, log, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise IngestFailed(f"semingest run timed out after {timeout:.0f} s (stderr in {log})") from None
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise IngestFailed(f"{' '.join(cmd)} exited {done.returncode}:\n{tail}")
    server_after = database_server_cpu_seconds() if server_before is not None else None
    report = _last_json_object(done.stdout)
    if report is None:
        raise IngestFailed(f"semingest run --json printed no JSON object (stderr in {log})")
    return IngestRun(
        database=sa_backend(url),
        master=master,
        repetition=1,
        wall_seconds=done.wall_seconds,
        cpu_seconds=done.usage.cpu_seconds,
        max_rss_mb=done.usage.peak_rss_mb,
        report=report,
        load_before=load,
        cpu_method=done.usage.cpu_method,
        server_cpu_seconds=server_after - server_before
        if server_before is not None and server_after is not None
        else None,
    )


def database_server_cpu_seconds() -> float | None:
    """User + system CPU seconds of the local MariaDB/MySQL server process (None: none found).

    The server is shared with whatever else uses it at the same time: an upper bound of what the
    run cost it."""
    ticks = os.sysconf("SC_CLK_TCK")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        comm = data[data.index(b"(") + 1 : data.rindex(b")")]
        if comm in (b"mariadbd", b"mysqld"):
            rest = data[data.rindex(b")") + 2 :].split()
            return (int(rest[11]) + int(rest[12])) / ticks
    return None


def sa_backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "mariadb"


def _last_json_object(text: str) -> dict[str, Any] | None:
    """The last line of ``text`` that parses as a JSON object (the CLI prints one at the end)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    try:  # a pretty-printed object over several lines
        value = json.loads(text[text.index("{") :])
        return value if isinstance(value, dict) else None
    except (ValueError, json.JSONDecodeError):
        return None
