"""Issue 13 (items 13, 14) against the real API server: what a SemIngest author and its Spark
driver can NOT do. The chart's driver Role and its ValidatingAdmissionPolicy are enforced by
kube-apiserver itself (refusals, not a reading of the YAML); the operator refuses spec fields the
installation does not allow, naming them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from controlplane.ingest import condition, example, run_objects, sem_path, wait_phase

pytestmark = pytest.mark.controlplane


def _pod(name: str, service_account: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "serviceAccountName": service_account,
            "automountServiceAccountToken": False,
            "containers": [{"name": "c", "image": "semingest-worker:test"}],
            **spec,
        },
    }


def _create(cp, doc: dict[str, Any]) -> None:
    code, body = cp.request("POST", sem_path(doc["metadata"]["namespace"]), doc)
    assert code == 201, body


def _refused(answer: tuple[int, Any], text: str) -> None:
    code, body = answer
    assert code in (403, 422), (code, body)
    assert text in body["message"], body["message"]


def test_the_driver_creates_only_bounded_pods_and_nothing_else(control_plane, installation):
    cp = control_plane
    ns = installation.ns("reporter")
    token = installation.driver_token("reporter")
    pods = f"/api/v1/namespaces/{ns}/pods"

    # Another ServiceAccount of the namespace (the default one, or any other): refused.
    _refused(
        cp.request("POST", pods, _pod("borrowed-sa", "default"), token=token),
        "must run as its own ServiceAccount (semingest-driver)",
    )
    # The node's file system: refused.
    host = _pod("host", "semingest-driver", volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    _refused(cp.request("POST", pods, host, token=token), "host paths only under security.allowedHostPaths")
    # Privileged, added capabilities, host network: refused.
    privileged = _pod("priv", "semingest-driver")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    _refused(cp.request("POST", pods, privileged, token=token), "may not run privileged")
    caps = _pod("caps", "semingest-driver")
    caps["spec"]["containers"][0]["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]}}
    _refused(cp.request("POST", pods, caps, token=token), "may not run privileged or add capabilities")
    _refused(
        cp.request("POST", pods, _pod("hostnet", "semingest-driver", hostNetwork=True), token=token),
        "may not use the host network",
    )
    # What Spark does: an executor as the driver's own account, allowed host path: accepted.
    allowed = _pod("executor-like", "semingest-driver")
    code, body = cp.request("POST", pods, allowed, token=token)
    assert code == 201, body
    assert cp.request("DELETE", f"{pods}/executor-like", token=token)[0] == 200

    # The policy binds the driver only: an admin may still create such a pod.
    code, body = cp.request("POST", pods, _pod("admin-made", "default"))
    assert code == 201, body
    cp.request("DELETE", f"{pods}/admin-made")

    # No Services, volume claims, Secrets or ServiceAccounts for the driver (RBAC, 403).
    for what, (method, path, payload) in {
        "service create": (
            "POST",
            f"/api/v1/namespaces/{ns}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "x"},
                "spec": {"ports": [{"port": 1}]},
            },
        ),
        "pvc delete": ("DELETE", f"/api/v1/namespaces/{ns}/persistentvolumeclaims/sem-data", None),
        "pvc list": ("GET", f"/api/v1/namespaces/{ns}/persistentvolumeclaims", None),
        "secret create": (
            "POST",
            f"/api/v1/namespaces/{ns}/secrets",
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}},
        ),
        "serviceaccount token": (
            "POST",
            f"/api/v1/namespaces/{ns}/serviceaccounts/default/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        ),
    }.items():
        code, body = cp.request(method, path, payload, token=token)
        assert code == 403, f"{what}: {code} {body}"


def test_paths_outside_the_volume_are_refused_by_the_api_server(control_plane, installation):
    ns = installation.ns("reporter")
    doc = example("ingest.yaml", namespace=ns, name="escape")
    doc["spec"]["source"]["path"] = "raw/../../etc"
    code, body = control_plane.request("POST", sem_path(ns), doc)
    assert code == 422, body
    assert "spec.source.path" in body["message"], body["message"]


@pytest.mark.parametrize(
    ("name", "spec", "field"),
    [
        ("conf-hostpath", {"sparkConf": {"spark.kubernetes.executor.volumes.hostPath.r.options.path": "/"}},
         "spec.sparkConf.spark.kubernetes.executor.volumes.hostPath.r.options.path"),
        ("conf-sa", {"sparkConf": {"spark.kubernetes.authenticate.executor.serviceAccountName": "default"}},
         "spec.sparkConf.spark.kubernetes.authenticate.executor.serviceAccountName"),
        ("root-hostpath", {"source": {"hostPath": "/", "path": "/"}}, "spec.source.hostPath"),
    ],
)  # fmt: skip
def test_the_operator_refuses_what_the_installation_does_not_allow(
    installation, shared_operator, name, spec, field
):
    cp, ns = installation.cp, installation.ns("native")
    _create(cp, example("ingest-tiny.yaml", namespace=ns, name=name, **spec))  # the CRD accepts it
    final = wait_phase(cp, ns, name, "Failed")
    time.sleep(2 * shared_operator.poll_seconds)
    failed = condition(final, "Failed")
    assert failed["reason"] == "InvalidSpec" and field in failed["message"], final
    assert "not allowed on this installation" in failed["message"]
    assert run_objects(cp, ns, name) == []  # nothing was created for it
    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")
