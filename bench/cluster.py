"""The seed's central experiment on a real multi-executor Spark: ``fat`` against ``tiny``.

A Spark standalone cluster is started on this machine from the Spark that pyspark ships (no
download): one master and two workers (``spark-class ...deploy.master.Master`` / ``...Worker``),
each worker in a cgroup of its own so the CPU of everything it starts (executor JVMs, PySpark
daemons, Python workers, Tesseract) is counted exactly. The operator's own code sizes the
executors: ``semingest_operator.sizing.size`` for a spec with ``strategy: fat`` or ``tiny``, and
``render.native.spark_conf`` turns that into the Spark configuration the operator would submit;
the Kubernetes-only keys are dropped (there is no Kubernetes here), ``spark.authenticate`` too (a
standalone cluster would need the secret configured on every daemon), and ``spark.cores.max``
caps the application at the sizing's total cores (standalone's way of saying "this many
executors").

Each strategy ingests the same images (a fresh MariaDB database each) with
``run_job(..., spark=sc)`` on a SparkContext made here, so that after the job the driver's REST
API still answers: executors (count, cores, task time, GC time) and stages (executor CPU time of
the JVM task threads). Printed as one JSON object by ``python bench/cluster.py ...``; called by
``run_bench.py`` in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.proctree import CpuCgroup  # noqa: E402

DROPPED_PREFIXES = ("spark.kubernetes.", "spark.driver.host", "spark.driver.bindAddress", "spark.driver.port")
DROPPED_KEYS = ("spark.driver.blockManager.port", "spark.authenticate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def operator_conf(strategy: str, nodes: int, cores_per_node: int, memory_per_core: str) -> dict[str, Any]:
    """The operator's sizing and Spark configuration for ``strategy`` (its own functions)."""
    from semingest_api.spec import parse_spec
    from semingest_operator import sizing
    from semingest_operator.render import native
    from semingest_operator.render.common import RunContext

    spec = parse_spec(
        {
            "source": {"hostPath": "/data", "path": "/"},
            "image": "semingest-worker:bench",
            "executors": {
                "strategy": strategy,
                "nodes": nodes,
                "coresPerNode": cores_per_node,
                "memoryPerCore": memory_per_core,
            },
            "driver": {"cores": 1, "memory": "2Gi"},
            "database": {"secretRef": {"name": "db", "key": "url"}},
        }
    )
    size = sizing.size(spec)
    ctx = RunContext("bench", "bench", "uid", 1, f"bench-{strategy}", "semingest-worker:bench", "sa")
    full = native.spark_conf(spec, ctx, size)
    conf = {k: v for k, v in full.items() if not k.startswith(DROPPED_PREFIXES) and k not in DROPPED_KEYS}
    conf["spark.cores.max"] = str(size.total_cores)
    return {"sizing": size.as_status(), "conf": conf, "dropped": sorted(set(full) - set(conf))}


class StandaloneCluster:
    """A master and ``workers`` workers of ``cores``/``memory`` each, stopped on exit."""

    def __init__(self, workdir: Path, workers: int = 2, cores: int = 2, memory: str = "3g") -> None:
        self.workdir = workdir
        self.n_workers, self.cores, self.memory = workers, cores, memory
        self.port = _free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.groups: list[CpuCgroup] = []

    def _start(self, args: list[str], log: str, group: CpuCgroup | None) -> subprocess.Popen:
        env = dict(os.environ, SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1")
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        with open(self.workdir / log, "wb") as out:
            return subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=group.enter if group is not None else None,  # noqa: PLW1509
            )

    def __enter__(self) -> StandaloneCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        master_ui = _free_port()
        self.procs.append(
            self._start(
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--webui-port",
                    str(master_ui),
                ],
                "master.log",
                None,
            )
        )
        self.master_ui = f"http://127.0.0.1:{master_ui}"
        for i in range(self.n_workers):
            group = CpuCgroup.create()
            if group is not None:
                self.groups.append(group)
            self.procs.append(
                self._start(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        self.master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(self.cores),
                        "--memory",
                        self.memory,
                        "--webui-port",
                        str(_free_port()),
                        "--work-dir",
                        str(self.workdir / f"worker{i}"),
                    ],
                    f"worker{i}.log",
                    group,
                )
            )
        self._wait_for_workers()
        return self

    def _wait_for_workers(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.master_ui}/json/", timeout=5) as r:
                    state = json.load(r)
                alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
                if len(alive) >= self.n_workers:
                    return
            except OSError:
                pass
            time.sleep(1.0)
        raise RuntimeError(f"the standalone cluster did not come up in {timeout:.0f} s (see {self.workdir})")

    def worker_cpu_seconds(self) -> float | None:
        if len(self.groups) != self.n_workers:
            return None
        return sum(g.cpu_seconds() for g in self.groups)

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        time.sleep(1.0)
        for group in self.groups:
            group.remove()


def _rest(sc: Any, path: str) -> Any:
    base = sc.uiWebUrl
    with urllib.request.urlopen(f"{base}/api/v1/applications/{sc.applicationId}/{path}", timeout=30) as r:
        return json.load(r)


def run_strategy(
    cluster: StandaloneCluster, strategy: str, images: Path, url: str, args: Any
) -> dict[str, Any]:
    from pyspark import SparkConf, SparkContext

    from semingest_worker.job import JobConfig, run_job

    sized = operator_conf(strategy, args.nodes, args.cores_per_node, args.memory_per_core)
    conf = SparkConf().setMaster(cluster.master_url).setAppName(f"semingest-bench-{strategy}")
    for key, value in sized["conf"].items():
        conf.set(key, value)
    pythonpath = os.pathsep.join(str(REPO / p) for p in ("api", "worker", "operator"))
    conf.set("spark.executorEnv.PYTHONPATH", pythonpath)
    conf.set("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
    conf.set("spark.ui.showConsoleProgress", "false").set("spark.python.worker.reuse", "true")
    cpu_before = cluster.worker_cpu_seconds()
    t0 = time.perf_counter()
    sc = SparkContext(conf=conf)
    try:
        deadline = time.monotonic() + 120
        want = int(sized["sizing"]["executors"])
        while time.monotonic() < deadline:  # the executors register before the work starts
            executors = [e for e in _rest(sc, "executors") if e["id"] != "driver"]
            if len(executors) >= want:
                break
            time.sleep(0.5)
        t_ready = time.perf_counter()
        summary = run_job(
            JobConfig(source=str(images), database_url=url, engine="local-spark"), spark=sc, progress=False
        ).to_dict()
        t_done = time.perf_counter()
        executors = [e for e in _rest(sc, "executors") if e["id"] != "driver"]
        stages = _rest(sc, "stages")
    finally:
        sc.stop()
    time.sleep(2.0)  # executors exit; their last CPU lands in the workers' cgroups
    cpu_after = cluster.worker_cpu_seconds()
    images_n = int(summary.get("processed", 0))
    work = t_done - t_ready
    return {
        "strategy": strategy,
        "sizing": sized["sizing"],
        "spark_conf": sized["conf"],
        "dropped_operator_keys": sized["dropped"],
        "executors": len(executors),
        "executor_cores": [e.get("totalCores") for e in executors],
        "executor_max_memory_mb": [round(e.get("maxMemory", 0) / 2**20) for e in executors],
        "images": images_n,
        "failed": summary.get("failed"),
        "executors_up_seconds": t_ready - t0,
        "work_seconds": work,
        "images_per_second": images_n / work if work > 0 else None,
        "executor_task_seconds": sum(e.get("totalDuration", 0) for e in executors) / 1000,
        "executor_gc_seconds": sum(e.get("totalGCTime", 0) for e in executors) / 1000,
        "executor_jvm_cpu_seconds": sum(s.get("executorCpuTime", 0) for s in stages) / 1e9,
        "executor_tree_cpu_seconds": (cpu_after - cpu_before)
        if cpu_before is not None and cpu_after is not None
        else None,
        "stage_seconds": summary.get("stage_seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fat vs tiny on a standalone Spark cluster")
    ap.add_argument("images", type=Path)
    ap.add_argument("--workdir", type=Path, default=REPO / "build" / "bench-work" / "cluster")
    ap.add_argument("--strategies", default="fat,tiny")
    ap.add_argument("--nodes", type=int, default=1, help="spec.executors.nodes (default 1)")
    ap.add_argument("--cores-per-node", type=int, default=2, help="spec.executors.coresPerNode (default 2)")
    ap.add_argument("--memory-per-core", default="1Gi")
    args = ap.parse_args(argv)
    from bench import ingest

    out: dict[str, Any] = {
        "cluster": "Spark standalone from pyspark's jars: 1 master, 2 workers of 2 cores / 3g on this machine",
        "spec": {
            "nodes": args.nodes,
            "coresPerNode": args.cores_per_node,
            "memoryPerCore": args.memory_per_core,
        },
        "load_before": os.getloadavg()[0],
        "runs": [],
    }
    with StandaloneCluster(args.workdir) as cluster:
        out["cpu_method"] = "cgroup per worker" if cluster.worker_cpu_seconds() is not None else None
        for strategy in [s.strip() for s in args.strategies.split(",") if s.strip()]:
            with ingest.fresh_database("mariadb", args.workdir) as url:
                out["runs"].append(run_strategy(cluster, strategy, args.images.resolve(), url, args))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
