"""The real ``semingest-operator`` process against the test control plane, authenticated with a
token of a ServiceAccount (normally the chart's operator ServiceAccount, so the chart's RBAC is
what the operator gets), this checkout's code first on PYTHONPATH."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cluster import ControlPlane, ControlPlaneError, Process, free_port, tail, wait_for

REPO = Path(__file__).resolve().parents[2]
SOURCE_DIRS = [REPO / "api", REPO / "worker", REPO / "operator"]


@dataclass
class OperatorProcess:
    """``python -m semingest_operator`` with a token kubeconfig; liveness and metrics on free ports."""

    cp: ControlPlane
    kubeconfig: Path
    namespaces: Sequence[str]
    log: Path
    poll_seconds: float = 0.5
    image: str = "registry.example.org/semingest-worker:test"
    driver_service_account: str = "semingest-driver"
    extra_args: Sequence[str] = ()
    # Environment of the chart's Deployment (Release.operator_env()): allowed host paths, sparkConf.
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    liveness_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: Process | None = None

    def argv(self) -> list[str]:
        scope = [arg for ns in self.namespaces for arg in ("-n", ns)] or ["-A"]
        return [
            sys.executable,
            "-m",
            "semingest_operator",
            *scope,
            f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz",
            f"--metrics-port={self.metrics_port}",
            f"--poll-seconds={self.poll_seconds}",
            "--verbose",
            *self.extra_args,
        ]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        path = [str(d) for d in SOURCE_DIRS if d.is_dir()]
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            PYTHONPATH=os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            SEMINGEST_DEFAULT_IMAGE=self.image,
            SEMINGEST_DRIVER_SERVICE_ACCOUNT=self.driver_service_account,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env_overrides)
        return env

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        """Start it and wait until its liveness endpoint answers (kopf is up and logged in)."""
        self.process = Process("semingest-operator", self.argv(), self.log, env=self.env()).start()
        wait_for(self.healthy, timeout, "the operator's /healthz", interval=0.3, process=self.process)
        return self

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=5) as r:  # noqa: S310
            return r.status == 200

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:  # noqa: S310
            return r.read().decode()

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def check_alive(self) -> None:
        if self.process is None:
            raise ControlPlaneError("the operator was not started")
        self.process.check_alive()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""

    def log_tail(self) -> str:
        return tail(self.log)

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
