"""End to end on a kind cluster: images -> kind -> helm install -> SemIngest -> Succeeded -> rows.

Runs with ``make e2e`` (``pytest -m e2e tests/e2e``) on a machine with a Docker engine and kind:

1. builds both images (images/build.sh, tag ``e2e``) and loads them into the kind cluster;
2. creates the cluster from tests/e2e/kind-config.yaml (sample folder mounted at /data/sem-samples);
3. installs the chart with the bundled MariaDB and waits for the operator and the database;
4. generates sample SEM images with ``semingest generate`` into the mounted folder;
5. applies examples/ingest.yaml adjusted for kind (native backend, hostPath source, small sizing,
   no model) and waits with ``kubectl wait --for=condition=Succeeded``;
6. counts the rows in the bundled database and compares them with the generated files.

Environment: SEMINGEST_E2E_CLUSTER (kind cluster name, default semingest-e2e; an existing cluster of
that name is reused and kept), SEMINGEST_E2E_SAMPLES (host folder of the samples, default
/tmp/semingest-e2e-samples, must be the one the cluster mounts), SEMINGEST_E2E_COUNT (images,
default 24), SEMINGEST_E2E_KEEP=1 (keep a cluster the test created), SEMINGEST_E2E_SKIP_BUILD=1
(use already built semingest-{operator,worker}:e2e images).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools" / "bin"
KIND_CONFIG = Path(__file__).with_name("kind-config.yaml")
CLUSTER = os.environ.get("SEMINGEST_E2E_CLUSTER", "semingest-e2e")
SAMPLES = Path(os.environ.get("SEMINGEST_E2E_SAMPLES", "/tmp/semingest-e2e-samples"))
COUNT = int(os.environ.get("SEMINGEST_E2E_COUNT", "24"))
WAIT_SECONDS = 20 * 60  # from apply to Succeeded, images already loaded
NODE_SAMPLES = "/data/sem-samples"  # containerPath of the extraMount
NAMESPACE = "semingest"
RELEASE = "semingest"
TAG = "e2e"
OPERATOR_IMAGE = f"semingest-operator:{TAG}"
WORKER_IMAGE = f"semingest-worker:{TAG}"


def _run(
    cmd: list[str], *, timeout: float, env: dict[str, str] | None = None, input: str | None = None
) -> str:
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, input=input, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd[:6])} ... failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def _prerequisites_or_skip(config: pytest.Config) -> None:
    if "e2e" not in (config.option.markexpr or ""):
        pytest.skip("the kind end-to-end test runs with `make e2e` (pytest -m e2e tests/e2e)")
    if shutil.which("docker") is None:
        pytest.skip("no `docker` command: the kind end-to-end test needs Docker and kind")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no reason given"])[-1]
        pytest.skip(
            f"`docker info` failed, no Docker engine is reachable ({reason}): the kind test needs one"
        )
    if shutil.which("kind") is None:
        pytest.skip("no `kind` command on PATH (https://kind.sigs.k8s.io): the kind end-to-end test needs it")
    for tool in ("helm", "kubectl"):
        if not (TOOLS / tool).is_file():
            pytest.fail(f"{TOOLS / tool} is missing: run `make setup`")


@dataclass(frozen=True)
class Cluster:
    name: str
    env: dict[str, str]  # KUBECONFIG pointing at this cluster only

    def kubectl(self, *args: str, timeout: float = 120, input: str | None = None) -> str:
        return _run([str(TOOLS / "kubectl"), *args], timeout=timeout, env=self.env, input=input)

    def helm(self, *args: str, timeout: float = 900) -> str:
        return _run([str(TOOLS / "helm"), *args], timeout=timeout, env=self.env)


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory) -> Iterator[Cluster]:
    _prerequisites_or_skip(request.config)
    SAMPLES.mkdir(parents=True, exist_ok=True)
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    existing = _run(["kind", "get", "clusters"], timeout=60).split()
    created = CLUSTER not in existing
    if created:
        config = yaml.safe_load(KIND_CONFIG.read_text())
        config["name"] = CLUSTER
        config["nodes"][0]["extraMounts"][0]["hostPath"] = str(SAMPLES.resolve())
        config_file = kubeconfig.with_name("kind-config.yaml")
        config_file.write_text(yaml.safe_dump(config))
        _run(
            [
                "kind",
                "create",
                "cluster",
                "--config",
                str(config_file),
                "--kubeconfig",
                str(kubeconfig),
                "--wait",
                "5m",
            ],
            timeout=900,
        )
    else:
        kubeconfig.write_text(_run(["kind", "get", "kubeconfig", "--name", CLUSTER], timeout=60))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    try:
        yield Cluster(CLUSTER, env)
    finally:
        if created and os.environ.get("SEMINGEST_E2E_KEEP") != "1":
            subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], capture_output=True, check=False)


@pytest.fixture(scope="module")
def installed(cluster: Cluster) -> Cluster:
    """Images built and loaded, the chart installed with the bundled MariaDB, everything ready."""
    if os.environ.get("SEMINGEST_E2E_SKIP_BUILD") != "1":
        _run([str(REPO / "images" / "build.sh")], timeout=3600, env={**os.environ, "TAG": TAG})
    _run(["kind", "load", "docker-image", OPERATOR_IMAGE, WORKER_IMAGE, "--name", cluster.name], timeout=1800)
    cluster.helm(
        "upgrade", "--install", RELEASE, str(REPO / "charts" / "semingest"),
        "--namespace", NAMESPACE, "--create-namespace",
        "--set", f"operator.image.tag={TAG}",
        "--set", f"worker.image.tag={TAG}",
        "--set", "database.bundled.enabled=true",
        "--set", "database.bundled.storage.size=1Gi",
        "--set", "database.bundled.resources.requests.cpu=100m",
        "--set", f"security.allowedHostPaths={{{NODE_SAMPLES}}}",
        "--wait", "--timeout", "10m",
    )  # fmt: skip
    cluster.kubectl(
        "-n", NAMESPACE, "rollout", "status", f"deployment/{RELEASE}-operator", "--timeout=5m", timeout=330
    )
    cluster.kubectl(
        "-n", NAMESPACE, "rollout", "status", f"statefulset/{RELEASE}-mariadb", "--timeout=5m", timeout=330
    )
    return cluster


@pytest.fixture(scope="module")
def samples() -> dict[str, int]:
    """Fresh sample images in the mounted folder: the number of files and of distinct images."""
    for child in SAMPLES.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    semingest = Path(sys.executable).with_name("semingest")
    _run([str(semingest), "generate", str(SAMPLES), "--count", str(COUNT), "--seed", "11"], timeout=600)
    files = [p for p in SAMPLES.rglob("*") if p.suffix.lower() in (".tif", ".tiff")]
    duplicates = [p for p in files if "duplicates" in p.relative_to(SAMPLES).parts]
    for path in SAMPLES.rglob("*"):  # the worker runs as uid 185: everything must be readable
        path.chmod(0o755 if path.is_dir() else 0o644)
    SAMPLES.chmod(0o755)
    assert len(files) == COUNT
    return {"files": len(files), "distinct": len(files) - len(duplicates), "duplicates": len(duplicates)}


def _ingest_for_kind() -> dict:
    """examples/ingest.yaml's SemIngest, adjusted to this cluster."""
    docs = [d for d in yaml.safe_load_all((REPO / "examples" / "ingest.yaml").read_text()) if d]
    ingest = next(d for d in docs if d.get("kind") == "SemIngest")
    ingest["metadata"] = {"name": "e2e-ingest", "namespace": NAMESPACE}
    spec = ingest["spec"]
    spec.update(
        backend="native",
        image=WORKER_IMAGE,
        imagePullPolicy="IfNotPresent",
        source={"hostPath": NODE_SAMPLES, "path": "/", "include": ["**/*.tif", "**/*.tiff"]},
        executors={"strategy": "tiny", "nodes": 1, "coresPerNode": 2, "memoryPerCore": "1Gi"},
        driver={"cores": 1, "memory": "1Gi", "startTimeoutSeconds": 600},
        database={"secretRef": {"name": "semingest-db", "key": "url"}},
        stages={"metadata": True, "scaleBar": True, "inference": False},  # no model weights here
    )
    for key in ("model", "schedule", "suspend", "partitions"):
        spec.pop(key, None)
    return ingest


def _diagnostics(cluster: Cluster) -> str:
    parts = []
    for args in (
        ["-n", NAMESPACE, "get", "semingest", "e2e-ingest", "-o", "yaml"],
        ["-n", NAMESPACE, "get", "pods", "-o", "wide"],
        ["-n", NAMESPACE, "get", "events", "--sort-by=.lastTimestamp"],
        ["-n", NAMESPACE, "logs", "-l", "semingest.io/ingest=e2e-ingest", "--tail=80", "--all-containers"],
        ["-n", NAMESPACE, "logs", f"deployment/{RELEASE}-operator", "--tail=80"],
    ):
        try:
            parts.append(cluster.kubectl(*args, timeout=60))
        except AssertionError as exc:
            parts.append(str(exc))
    return "\n".join(parts)[-20000:]


def _sql(cluster: Cluster, query: str) -> str:
    shell = f'mariadb -u"$MARIADB_USER" -p"$MARIADB_PASSWORD" "$MARIADB_DATABASE" -N -B -e "{query}"'
    return cluster.kubectl(
        "-n", NAMESPACE, "exec", f"statefulset/{RELEASE}-mariadb", "--", "sh", "-c", shell
    ).strip()


def test_native_ingest_on_kind_succeeds_and_fills_the_database(installed: Cluster, samples: dict[str, int]):
    cluster = installed
    ingest = _ingest_for_kind()
    cluster.kubectl("-n", NAMESPACE, "delete", "semingest", "e2e-ingest", "--ignore-not-found", "--wait=true")
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(ingest))
    started = time.monotonic()
    phase = None
    while time.monotonic() - started < WAIT_SECONDS:  # a Failed run ends the wait at once
        phase = (
            json.loads(cluster.kubectl("-n", NAMESPACE, "get", "semingest", "e2e-ingest", "-o", "json"))
            .get("status", {})
            .get("phase")
        )
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(5)
    if phase != "Succeeded":
        pytest.fail(f"the SemIngest ended {phase or 'without a phase'}\n{_diagnostics(cluster)}")
    # What a user types: the condition follows Kubernetes conventions.
    cluster.kubectl(
        "-n", NAMESPACE, "wait", "--for=condition=Succeeded", "semingest/e2e-ingest", "--timeout=60s"
    )
    seconds = time.monotonic() - started

    status = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "semingest", "e2e-ingest", "-o", "json"))[
        "status"
    ]
    assert status["phase"] == "Succeeded"
    progress = status["progress"]
    assert progress["discovered"] == samples["files"], progress
    assert progress["failed"] == 0, progress
    assert progress["duplicates"] == samples["duplicates"], progress
    printed = cluster.kubectl("-n", NAMESPACE, "get", "semingest", "e2e-ingest")
    assert "Succeeded" in printed

    assert int(_sql(cluster, "SELECT COUNT(*) FROM image_files")) == samples["files"]
    assert int(_sql(cluster, "SELECT COUNT(*) FROM images")) == samples["distinct"]
    assert int(_sql(cluster, "SELECT COUNT(*) FROM images WHERE status = 'ok'")) == samples["distinct"]
    assert (
        int(_sql(cluster, "SELECT COUNT(*) FROM pixel_size WHERE metadata_pixel_size_m IS NOT NULL"))
        == (samples["distinct"])
    )
    assert int(_sql(cluster, "SELECT COUNT(*) FROM ingest_runs")) >= 1
    print(f"e2e: {samples['files']} files ingested on kind in {seconds:.0f} s (apply -> Succeeded)")
