"""SemIngests in the test control plane: the examples, their status, the objects of their runs,
and playing the kubelet / the spark-operator (admin patches of pod and SparkApplication status)."""

from __future__ import annotations

import copy
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .cluster import ControlPlane, ControlPlaneError, tool, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GROUP_VERSION = "semingest.io/v1alpha1"
SPARK_GROUP_VERSION = "sparkoperator.k8s.io/v1beta2"
LABEL_INGEST = "semingest.io/ingest"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MERGE_PATCH = "application/merge-patch+json"
# The run objects of each backend: (API path prefix, plural).
NATIVE_KINDS = (("/api/v1", "pods"), ("/api/v1", "services"), ("/api/v1", "configmaps"))
SPARK_KINDS = ((f"/apis/{SPARK_GROUP_VERSION}", "sparkapplications"),)


def example(filename: str, *, namespace: str, name: str | None = None, **spec: Any) -> dict[str, Any]:
    """A SemIngest of examples/, moved to ``namespace`` (and renamed), ``spec`` keys replaced."""
    (doc,) = [
        d for d in yaml.safe_load_all((EXAMPLES / filename).read_text()) if d and d["kind"] == "SemIngest"
    ]
    doc = copy.deepcopy(doc)
    doc["metadata"]["namespace"] = namespace
    if name:
        doc["metadata"]["name"] = name
    doc["spec"].update(spec)
    return doc


def db_secret(namespace: str) -> dict[str, Any]:
    (doc,) = list(yaml.safe_load_all((EXAMPLES / "db-secret.yaml").read_text()))
    doc["metadata"]["namespace"] = namespace
    return doc


def sem_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP_VERSION}/namespaces/{namespace}/semingests"
    return f"{base}/{name}" if name else base


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def app_path(namespace: str, name: str) -> str:
    return f"/apis/{SPARK_GROUP_VERSION}/namespaces/{namespace}/sparkapplications/{name}"


def semingest(cp: ControlPlane, namespace: str, name: str) -> dict[str, Any] | None:
    return cp.get(sem_path(namespace, name))


def status(cp: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    return (semingest(cp, namespace, name) or {}).get("status") or {}


class PhaseError(Exception):
    """A SemIngest ended in the other final phase than the one waited for."""


def wait_phase(
    cp: ControlPlane, namespace: str, name: str, phase: str, timeout: float = 30.0
) -> dict[str, Any]:
    """The status once it has ``phase``; fails at once when the run failed instead (or succeeded
    when a failure was expected)."""

    def reached() -> dict[str, Any] | None:
        st = status(cp, namespace, name)
        if st.get("phase") == phase:
            return st
        ended = st.get("phase") == "Failed" or (st.get("phase") == "Succeeded" and phase == "Failed")
        if ended:
            raise PhaseError(f"SemIngest {namespace}/{name} ended {st['phase']}, not {phase}: {st}")
        return None

    try:
        return wait_for(reached, timeout, f"SemIngest {namespace}/{name} phase {phase}")
    except ControlPlaneError as exc:
        raise AssertionError(f"{exc}; status now: {status(cp, namespace, name)}") from None


def condition(st: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in st.get("conditions") or [] if c["type"] == ctype)


def run_objects(
    cp: ControlPlane,
    namespace: str,
    name: str,
    kinds: tuple[tuple[str, str], ...] = NATIVE_KINDS + SPARK_KINDS,
) -> list[dict[str, Any]]:
    """Every object labelled as a run of this SemIngest (all runs), of the given kinds."""
    selector = f"{LABEL_INGEST}={name},{LABEL_MANAGED_BY}=semingest-operator"
    out = []
    for prefix, plural in kinds:
        code, body = cp.request("GET", f"{prefix}/namespaces/{namespace}/{plural}?labelSelector={selector}")
        if code == 404:  # the resource is not served (no spark-operator CRD)
            continue
        assert code == 200, f"list {plural}: {code} {body}"
        for item in body["items"]:
            item.setdefault("kind", plural)
            out.append(item)
    return out


def patch_status(cp: ControlPlane, path: str, new_status: dict[str, Any]) -> dict[str, Any]:
    """As admin, what a kubelet or the spark-operator does: merge-patch the status subresource."""
    code, body = cp.request("PATCH", f"{path}/status", {"status": new_status}, content_type=MERGE_PATCH)
    assert code == 200, f"PATCH {path}/status: {code} {body}"
    return body


def container_name(pod: dict[str, Any]) -> str:
    return pod["spec"]["containers"][0]["name"]


def kubelet_running(cp: ControlPlane, namespace: str, pod: str) -> None:
    p = cp.get(pod_path(namespace, pod))
    assert p is not None, f"pod {namespace}/{pod} does not exist"
    patch_status(
        cp,
        pod_path(namespace, pod),
        {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": container_name(p),
                    "image": p["spec"]["containers"][0]["image"],
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    )


def kubelet_succeeded(cp: ControlPlane, namespace: str, pod: str) -> None:
    _kubelet_terminated(
        cp, namespace, pod, phase="Succeeded", terminated={"exitCode": 0, "reason": "Completed"}
    )


def kubelet_failed(cp: ControlPlane, namespace: str, pod: str, *, exit_code: int, message: str) -> None:
    terminated = {"exitCode": exit_code, "reason": "Error", "message": message}
    _kubelet_terminated(cp, namespace, pod, phase="Failed", terminated=terminated)


def _kubelet_terminated(cp: ControlPlane, namespace: str, pod: str, *, phase: str, terminated: dict) -> None:
    """What a kubelet writes when the pod's container has ended: ``phase`` and its terminated state."""
    p = cp.get(pod_path(namespace, pod))
    assert p is not None
    patch_status(
        cp,
        pod_path(namespace, pod),
        {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": container_name(p),
                    "image": p["spec"]["containers"][0]["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            **terminated,
                            "startedAt": "2026-01-01T00:00:00Z",
                            "finishedAt": "2026-01-01T00:01:00Z",
                        }
                    },
                }
            ],
        },
    )


def kubelet_image_pull_backoff(cp: ControlPlane, namespace: str, pod: str) -> None:
    p = cp.get(pod_path(namespace, pod))
    assert p is not None
    image = p["spec"]["containers"][0]["image"]
    patch_status(
        cp,
        pod_path(namespace, pod),
        {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": container_name(p),
                    "image": image,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": f'Back-off pulling image "{image}"',
                        }
                    },
                }
            ],
        },
    )


def spark_operator_state(cp: ControlPlane, namespace: str, app: str, state: str, error: str = "") -> None:
    """What the kubeflow spark-operator records (its CRD requires status.driverInfo)."""
    block: dict[str, Any] = {"state": state}
    if error:
        block["errorMessage"] = error
    patch_status(
        cp,
        app_path(namespace, app),
        {"applicationState": block, "driverInfo": {"podName": f"{app}-driver"}, "submissionAttempts": 1},
    )


@contextmanager
def phase_recorder(cp: ControlPlane, namespace: str, name: str) -> Iterator[list[str]]:
    """Every status.phase a real watch (``kubectl get -w``) delivers while the block runs, with
    consecutive repeats collapsed."""
    proc = subprocess.Popen(  # noqa: S603
        [
            tool("kubectl"),
            f"--kubeconfig={cp.admin_kubeconfig}",
            "get",
            "semingests",
            f"--field-selector=metadata.name={name}",
            "-n",
            namespace,
            "--watch",
            "-o",
            "jsonpath={.status.phase}{'\\n'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    phases: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            phase = line.strip()
            if phase and (not phases or phases[-1] != phase):
                phases.append(phase)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield phases
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(5)
