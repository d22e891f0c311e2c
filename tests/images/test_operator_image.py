"""The operator image, run with podman as the chart's Deployment runs it.

The container gets the chart's own arguments, environment and security settings (rendered by
helm: uid 65532, read-only root file system, every capability dropped, no privilege escalation,
seccomp RuntimeDefault, the 64Mi emptyDir on /tmp) and talks to kmock's Kubernetes emulator on
the host network through a kubeconfig: it answers /healthz and /metrics, and reconciles a
SemIngest into the driver pod of the native backend.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import pytest
import yaml
from integration.test_operator_kmock import NS, PODS, ApiServerEmulator, _register, live
from podman_pod import free_port, podman_run_args

from semingest_api.spec import API_VERSION, KIND


def _chart_operator(helm: Path, health: int, metrics: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod spec, operator container) of the chart's Deployment, watching namespace NS."""
    chart = Path(__file__).resolve().parents[2] / "charts" / "semingest"
    result = subprocess.run(
        [
            str(helm),
            "template",
            "sem",
            str(chart),
            "--namespace",
            NS,
            "--set",
            f"operator.healthPort={health}",
            "--set",
            f"operator.metricsPort={metrics}",
            "--set",
            "security.allowedHostPaths={/srv/sem}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for doc in yaml.safe_load_all(result.stdout):
        if doc and doc.get("kind") == "Deployment" and doc["metadata"]["name"].endswith("-operator"):
            pod = doc["spec"]["template"]["spec"]
            return pod, next(c for c in pod["containers"] if c["name"] == "operator")
    raise AssertionError("the chart renders no operator Deployment")


def test_help_lists_every_flag_the_chart_passes(podman, operator_image, helm):
    pod, container = _chart_operator(helm, 8080, 9090)
    flags = {str(a).split("=", 1)[0] for a in container["args"] if str(a).startswith("--")}
    assert {"--namespace", "--liveness", "--metrics-port", "--poll-seconds"} <= flags
    args = podman_run_args(
        pod, {**container, "args": ["--help"]}, image=operator_image, fields={"metadata.namespace": NS}
    )
    out = podman.run("run", *args, timeout=120).stdout
    missing = [f for f in sorted(flags) if f not in out]
    assert not missing, f"semingest-operator --help does not list {missing}:\n{out}"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read().decode()
    except OSError as exc:
        return 0, str(exc)


async def _until(what: str, check, timeout: float, proc: asyncio.subprocess.Process) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (container exit status {proc.returncode})")


class NamespacedApiServer(ApiServerEmulator):
    """The emulator as the chart's namespaced RBAC shows the API to the operator: listing
    namespaces is forbidden (kopf then takes the --namespace list as given). kmock cannot parse
    that URL itself, so the answer is given before it tries."""

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.path.rstrip("/") == "/api/v1/namespaces":
            await raw_request.read()
            status = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "Forbidden"}
            return aiohttp.web.json_response({**status, "code": 403, "message": "forbidden"}, status=403)
        return await super().__call__(raw_request)


@pytest.fixture
async def emulator():
    port = free_port()
    async with NamespacedApiServer() as handler, kmock.Server(handler, host="127.0.0.1", port=port):
        _register(handler)
        yield handler


async def test_operator_runs_with_the_charts_security_settings(
    podman, operator_image, helm, emulator, tmp_path
):
    health, metrics = free_port(), free_port()
    pod, container = _chart_operator(helm, health, metrics)
    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": str(emulator.url).rstrip("/")}}],
                "users": [{"name": "test", "user": {"token": "kmock"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}],
                "current-context": "kmock",
            }
        )
    )
    kubeconfig.parent.chmod(0o755)
    kubeconfig.chmod(0o644)
    name = f"semingest-op-test-{health}"
    args = podman_run_args(
        pod,
        container,
        image=operator_image,
        fields={"metadata.namespace": NS},
        extra=[
            "--name",
            name,
            "--network",
            "host",
            "--volume",
            f"{kubeconfig.parent}:/etc/kube:ro",
            "--env",
            "KUBECONFIG=/etc/kube/config",
        ],
    )
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *podman.command("run", *args), stdout=out, stderr=subprocess.STDOUT, env=dict(podman.env)
        )
    try:
        await _until(
            "/healthz answers 200",
            lambda: _get(f"http://127.0.0.1:{health}/healthz")[0] == 200,
            120,
            proc,
        )
        status, text = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics}/metrics")
        assert status == 200 and "semingest_runs" in text, text[:2000]

        # The operator in the image reconciles: a SemIngest becomes the native backend's driver pod.
        body = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "img", "namespace": NS, "uid": "u-img", "generation": 1},
            "spec": {
                "backend": "native",
                "source": {"hostPath": "/srv/sem", "path": "/"},
                "executors": {"strategy": "fat", "nodes": 1, "coresPerNode": 2, "memoryPerCore": "1Gi"},
                "database": {"secretRef": {"name": "sem-db", "key": "url"}},
            },
        }
        resp = await emulator.post(f"/apis/semingest.io/v1alpha1/namespaces/{NS}/semingests", json=body)
        assert resp.status < 300, await resp.text()
        pods = await _until("the driver pod is created", lambda: live(emulator, PODS), 120, proc)
        (driver,) = pods.values()
        default_image = dict(_env_pairs(container))["SEMINGEST_DEFAULT_IMAGE"]
        assert driver["spec"]["containers"][0]["image"] == default_image
        assert proc.returncode is None, "the operator exited"
    finally:
        podman.run("stop", "--time", "10", name, check=False, timeout=60)
        await asyncio.wait_for(proc.wait(), 60)
        print(log.read_text(errors="replace")[-3000:])


def _env_pairs(container: dict[str, Any]):
    for item in container.get("env") or []:
        if "value" in item:
            yield item["name"], item["value"]
