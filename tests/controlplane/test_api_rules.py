"""What the API server itself enforces: the CRD's schema (refusals naming the field, defaults,
pruning) and the chart's RBAC for the Spark driver (its status reporter may patch
semingests/status and is refused everything else)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controlplane.ingest import MERGE_PATCH, example, sem_path, status
from semingest_worker.status_reporter import StatusReporter

pytestmark = pytest.mark.controlplane


def _valid(namespace: str, name: str) -> dict[str, Any]:
    """The smallest SemIngest: a source and a database."""
    return {
        "apiVersion": "semingest.io/v1alpha1",
        "kind": "SemIngest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": {"pvc": "sem-data"}, "database": {"secretRef": {"name": "sem-db"}}},
    }


INVALID = [
    ("backend", {"backend": "yarn"}, ["spec.backend", "Unsupported value", "yarn"]),
    ("both-sources", {"source": {"pvc": "a", "hostPath": "/data"}}, ["spec.source"]),
    ("no-source", {"source": None}, ["spec.source", "Required value"]),
    ("relative-host-path", {"source": {"hostPath": "data"}}, ["spec.source.hostPath"]),
    ("zero-nodes", {"executors": {"nodes": 0}}, ["spec.executors.nodes", "greater than or equal to 1"]),
    ("strategy", {"executors": {"strategy": "huge"}}, ["spec.executors.strategy", "Unsupported value"]),
    ("timeout", {"driver": {"startTimeoutSeconds": 5}}, ["spec.driver.startTimeoutSeconds"]),
    ("no-secret-name", {"database": {"secretRef": {}}}, ["spec.database.secretRef.name", "Required value"]),
    ("unknown-field", {"bogus": 1}, ['unknown field "spec.bogus"']),
]


@pytest.mark.parametrize(("case", "spec", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_semingest_is_refused_by_the_api_server_naming_the_field(
    control_plane, installation, case, spec, expected
):
    cp = control_plane
    doc = _valid(installation.ns("reporter"), f"invalid-{case}")
    for key, value in spec.items():
        if value is None:
            del doc["spec"][key]
        else:
            doc["spec"][key] = value
    # The API server's own answer (kubectl's default --validate=strict is server-side field validation).
    created = cp.kubectl("create", "-f", "-", input=_yaml(doc), check=False)
    assert created.returncode != 0, f"{case} was accepted"
    for text in expected:
        assert text in created.stderr, created.stderr
    assert cp.get(sem_path(doc["metadata"]["namespace"], doc["metadata"]["name"])) is None


def test_crd_defaults_appear_on_the_stored_object_and_unknown_status_is_pruned(control_plane, installation):
    cp = control_plane
    ns = installation.ns("reporter")
    code, stored = cp.request("POST", sem_path(ns), _valid(ns, "defaults"))
    assert code == 201, stored
    spec = stored["spec"]
    assert spec["backend"] == "native"
    assert spec["imagePullPolicy"] == "IfNotPresent"
    assert spec["source"]["path"] == "/"
    assert "**/*.tif" in spec["source"]["include"] and spec["source"]["exclude"] == []
    assert (
        spec["executors"]["strategy"],
        spec["executors"]["nodes"],
        spec["executors"]["memoryPerCore"],
    ) == (
        "fat",
        1,
        "1Gi",
    )
    assert spec["driver"] == {"cores": 1, "memory": "2Gi", "startTimeoutSeconds": 600}
    assert spec["database"]["secretRef"] == {"name": "sem-db", "key": "url"}
    assert spec["stages"] == {"metadata": True, "scaleBar": True, "inference": True, "thumbnails": True}
    assert spec["suspend"] is False
    # The status schema is structural: fields it does not describe are dropped, not stored.
    code, body = cp.request(
        "PATCH",
        sem_path(ns, "defaults") + "/status",
        {"status": {"phase": "Running", "bogus": "x"}},
        content_type=MERGE_PATCH,
    )
    assert code == 200, body
    assert status(cp, ns, "defaults") == {"phase": "Running"}
    bad_phase = cp.request(
        "PATCH", sem_path(ns, "defaults") + "/status", {"status": {"phase": "Done"}}, content_type=MERGE_PATCH
    )
    assert bad_phase[0] == 422 and "status.phase" in bad_phase[1]["message"], bad_phase
    cp.kubectl("delete", "semingest", "defaults", "-n", ns)


# -- 3. the driver's status reporter, as the chart's driver ServiceAccount -----------------------
def test_status_reporter_as_the_driver_account_patches_status_and_nothing_else(control_plane, installation):
    cp = control_plane
    ns, other = installation.ns("reporter"), installation.ns("reporter-other")
    for namespace in (ns, other):
        code, body = cp.request(
            "POST", sem_path(namespace), example("ingest.yaml", namespace=namespace, name="reported")
        )
        assert code == 201, body
    token = installation.driver_token("reporter")
    ctx = cp.ssl_context(client_cert=False)
    reporter = StatusReporter(cp.server, ns, "reported", token=token, ssl_context=ctx, min_interval=0)
    assert reporter.report(
        {"discovered": 12, "processed": 7, "failed": 1}, {"metadata": 2.5}, phase="Running"
    )
    st = status(cp, ns, "reported")
    assert st["phase"] == "Running"
    assert (st["progress"]["discovered"], st["progress"]["processed"], st["progress"]["failed"]) == (12, 7, 1)
    assert st["stageSeconds"] == {"metadata": 2.5}

    # Throttled: at most one report per min_interval unless forced.
    now = [100.0]
    throttled = StatusReporter(
        cp.server, ns, "reported", token=token, ssl_context=ctx, min_interval=10, clock=lambda: now[0]
    )
    assert throttled.report({"processed": 8}, {})
    now[0] += 3
    assert not throttled.report({"processed": 9}, {}) and throttled.errors == 0
    assert status(cp, ns, "reported")["progress"]["processed"] == 8
    assert throttled.report({"processed": 10}, {"metadata": 3.0}, "Running", force=True)
    assert status(cp, ns, "reported")["progress"]["processed"] == 10
    # A missing SemIngest or an unreachable API server is logged, never raised.
    missing = StatusReporter(cp.server, ns, "no-such-ingest", token=token, ssl_context=ctx)
    assert not missing.report({"processed": 1}, {}, force=True) and missing.errors == 1
    dead = StatusReporter("https://127.0.0.1:9", ns, "reported", token=token, ssl_context=ctx, timeout=2)
    assert not dead.report({"processed": 1}, {}, force=True) and dead.errors == 1

    # The same token, for anything but its own SemIngests' status: 403 from the API server.
    other_reporter = StatusReporter(
        cp.server, other, "reported", token=token, ssl_context=ctx, min_interval=0
    )
    assert not other_reporter.report({"processed": 1}, {}) and other_reporter.errors == 1
    assert "progress" not in status(cp, other, "reported")
    refusals = {
        "spec change": ("PATCH", sem_path(ns, "reported"), {"spec": {"suspend": True}}, MERGE_PATCH),
        "SemIngest read": ("GET", sem_path(ns, "reported"), None, None),
        "secret read": ("GET", f"/api/v1/namespaces/{ns}/secrets/sem-db", None, None),
        "secret list": ("GET", f"/api/v1/namespaces/{ns}/secrets", None, None),
        "other namespace status": (
            "PATCH",
            sem_path(other, "reported") + "/status",
            {"status": {"phase": "Failed"}},
            MERGE_PATCH,
        ),
        "other namespace pods": ("GET", f"/api/v1/namespaces/{other}/pods", None, None),
        "new SemIngest": ("POST", sem_path(ns), _valid(ns, "by-driver"), "application/json"),
    }
    for what, (method, path, body, content_type) in refusals.items():
        code, answer = cp.request(
            method, path, copy.deepcopy(body), token=token, content_type=content_type or "x"
        )
        assert code == 403, f"{what}: {code} {answer}"
        assert answer["reason"] == "Forbidden"
    assert cp.get(sem_path(ns, "reported"))["spec"]["suspend"] is False
    # What it is allowed besides: its executor pods in its own namespace.
    code, pods = cp.request("GET", f"/api/v1/namespaces/{ns}/pods", token=token)
    assert code == 200, pods
    for namespace in (ns, other):
        cp.kubectl("delete", "semingest", "reported", "-n", namespace)


def _yaml(doc: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(doc)
