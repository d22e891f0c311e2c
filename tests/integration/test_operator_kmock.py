"""What the real API server cannot be made to do, against kmock's KubernetesEmulator: an API
server under strain answering 503 (``ApiServerEmulator.outages``), which the operator retries with
back-off. Everything else the operator does is tested against the real kube-apiserver in
tests/controlplane/ (issue #12); this file keeps no second copy of those tests.

The emulator keeps objects in memory and serves list/watch/get/create/patch/delete over HTTP, so
kopf and the operator's own client talk HTTP to it as to an API server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import kmock
import kopf
import pytest

from semingest_api.spec import API_VERSION, KIND
from semingest_operator.controller import OperatorConfig
from semingest_operator.handlers import build_registry
from semingest_operator.metrics import Metrics

NS = "sem"
SEMINGESTS = "semingest.io/v1alpha1/semingests"
SPARKAPPS = "sparkoperator.k8s.io/v1beta2/sparkapplications"
PODS, SERVICES, CONFIGMAPS, EVENTS, NODES = "v1/pods", "v1/services", "v1/configmaps", "v1/events", "v1/nodes"
NAMESPACES, CRDS = "v1/namespaces", "apiextensions.k8s.io/v1/customresourcedefinitions"
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
IMAGE = "registry.example.org/semingest-worker:test"


def _register(emulator: kmock.KubernetesEmulator) -> None:
    res = emulator.resources
    res[SEMINGESTS] = kmock.ResourceInfo(
        kind=KIND,
        singular="semingest",
        namespaced=True,
        verbs=VERBS,
        shortnames={"sem"},
        subresources={"status"},
    )
    res[SPARKAPPS] = kmock.ResourceInfo(
        kind="SparkApplication",
        singular="sparkapplication",
        namespaced=True,
        verbs=VERBS,
        subresources={"status"},
    )
    for key, kind in ((PODS, "Pod"), (SERVICES, "Service"), (CONFIGMAPS, "ConfigMap"), (EVENTS, "Event")):
        res[key] = kmock.ResourceInfo(kind=kind, singular=kind.lower(), namespaced=True, verbs=VERBS)
    res[NODES] = kmock.ResourceInfo(
        kind="Node", singular="node", namespaced=False, verbs={"get", "list", "watch"}
    )
    # kopf's observers need namespaces and CRDs discoverable. kmock cannot parse the URL
    # /api/v1/namespaces (it reads "namespaces" as the namespace prefix), so the tests turn kopf's
    # scanning off: it then takes the --namespace list as given, as with no RBAC to list namespaces.
    res[NAMESPACES] = kmock.ResourceInfo(
        kind="Namespace", singular="namespace", namespaced=False, verbs={"get", "list", "watch"}
    )
    res[CRDS] = kmock.ResourceInfo(
        kind="CustomResourceDefinition",
        singular="customresourcedefinition",
        namespaced=False,
        verbs={"get", "list", "watch"},
    )


def semingest(name: str, generation: int = 1, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "backend": "sparkOperator",
        "source": {"pvc": "sem-data", "path": "/images"},
        "executors": {"strategy": "fat", "nodes": 2, "coresPerNode": 8, "memoryPerCore": "1Gi"},
        "driver": {"cores": 1, "memory": "2Gi"},
        "database": {"secretRef": {"name": "sem-db", "key": "url"}},
    }
    body.update(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "generation": generation,
            "creationTimestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": body,
    }


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until check() returns a truthy value (assertions inside count as not yet)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            value = check()
            if value:
                return value
        except (AssertionError, KeyError, TypeError) as exc:
            last = exc
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def live(emulator: kmock.KubernetesEmulator, resource: str) -> dict[tuple[str | None, str], dict[str, Any]]:
    """The objects of a resource that exist now (not deleted)."""
    out = {}
    for (res, ns, name), obj in emulator.objects.items():
        if res == kmock.resource(resource) and not obj.deleted:
            out[(ns, name)] = obj.raw
    return out


def requests_of(emulator: kmock.KubernetesEmulator, method: str, resource: str) -> list[Any]:
    return [
        r
        for r in list(emulator)
        if r.method == method and r.resource is not None and r.resource == kmock.resource(resource)
    ]


class Operator:
    """One running operator: kopf.operator() with the operator's registry, in its own thread and
    event loop (as in production, where kopf owns its loop; kopf cancels every task spawned in its
    loop when it stops, which must not hit the emulator's server tasks)."""

    def __init__(self, emulator: kmock.KubernetesEmulator, config: OperatorConfig):
        self.emulator = emulator
        self.metrics = Metrics()
        self.registry = build_registry(
            config, self.metrics, connection=kopf.ConnectionInfo(server=str(emulator.url).rstrip("/"))
        )
        self.stop_flag = threading.Event()
        self.ready_flag = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        settings = kopf.OperatorSettings()
        settings.scanning.disabled = True
        settings.queueing.idle_timeout = 0.3  # per-object workers exit soon: a quick, clean stop
        try:
            asyncio.run(
                kopf.operator(
                    registry=self.registry,
                    settings=settings,
                    namespaces=[NS],
                    standalone=True,
                    stop_flag=self.stop_flag,
                    ready_flag=self.ready_flag,
                )
            )
        except BaseException as exc:  # noqa: BLE001 - reported by __aexit__
            self.error = exc

    async def __aenter__(self) -> Operator:
        self.thread = threading.Thread(target=self._run, name="kopf-operator", daemon=True)
        self.thread.start()
        assert await asyncio.to_thread(self.ready_flag.wait, 10), "the operator did not get ready"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop_flag.set()
        assert self.thread is not None
        await asyncio.to_thread(self.thread.join, 20)
        assert not self.thread.is_alive(), "the operator did not stop"
        assert self.error is None, f"the operator failed: {self.error!r}"


class ApiServerEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus the metadata an API server maintains (kmock leaves it to subclasses):
    a new resourceVersion on every write (kopf waits for the version it patched to come back
    through the watch, up to 5 s otherwise), uid/creationTimestamp/generation on create,
    metadata.generateName (kopf posts Events with it), generation + 1 on spec changes, and
    409 Conflict for a write whose metadata.resourceVersion is not the object's current one.
    Objects in the tests still set uid/generation themselves; these fill what is missing.
    ``outages`` makes the next N requests of a kind fail with 503, as an API server under strain."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._versions = itertools.count(100)
        self.outages: dict[tuple[str, str], int] = {}  # (HTTP method, resource) -> requests to fail

    async def _handle(self, request):  # type: ignore[no-untyped-def]
        for (method, resource), left in self.outages.items():
            if left and request.method == method and request.resource == kmock.resource(resource):
                self.outages[method, resource] = left - 1
                raise kmock.KubernetesError(
                    status=503, reason="ServiceUnavailable", message="etcdserver: leader changed"
                )
        data = request.data
        if request.resource is not None and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            if request.action == kmock.action.CREATE:
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:8]}"
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("generation", 1)
                meta.setdefault("creationTimestamp", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                meta["resourceVersion"] = str(next(self._versions))
            elif request.action == kmock.action.UPDATE:
                key = (request.resource, request.namespace, request.name)
                # optimistic concurrency: a write that names a resourceVersion applies to that one only
                expected = meta.get("resourceVersion")
                if expected is not None and key in self.objects and not self.objects[key].deleted:
                    if expected != self.objects[key].raw.get("metadata", {}).get("resourceVersion"):
                        raise kmock.KubernetesError(
                            status=409, reason="Conflict", message="the object has been modified"
                        )
                if request.subresource is None and "spec" in data and key in self.objects:
                    current = self.objects[key]
                    if not current.deleted and "generation" not in meta:
                        meta["generation"] = int(current.raw.get("metadata", {}).get("generation") or 1) + 1
                meta["resourceVersion"] = str(next(self._versions))
        return await super()._handle(request)


@pytest.fixture
async def emulator() -> AsyncIterator[kmock.KubernetesEmulator]:
    async with ApiServerEmulator() as handler, kmock.Server(handler):
        _register(handler)
        yield handler


@pytest.fixture
def config() -> OperatorConfig:
    return OperatorConfig(default_image=IMAGE, driver_service_account="sem-driver", poll_seconds=0.2)


async def create(emulator: kmock.KubernetesEmulator, obj: dict[str, Any]) -> None:
    ns = obj["metadata"]["namespace"]
    resp = await emulator.post(f"/apis/semingest.io/v1alpha1/namespaces/{ns}/semingests", json=obj)
    assert resp.status in (200, 201), await resp.text()


def sem_status(emulator: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return emulator.objects[SEMINGESTS, NS, name].raw.get("status") or {}


def phase_is(emulator: kmock.KubernetesEmulator, name: str, phase: str) -> Callable[[], Any]:
    return lambda: sem_status(emulator, name).get("phase") == phase and sem_status(emulator, name)


@pytest.mark.parametrize("state", ["FAILED", "SUBMISSION_FAILED"])
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"executors": {"strategy": "huge"}}, "spec.executors.strategy"),
        ({"source": {"pvc": "a", "hostPath": "/b", "path": "/"}}, "spec.source"),
        ({"sparkConf": {"spark.master": "local[2]"}}, "spec.sparkConf.spark.master"),
        ({"executors": {"strategy": "tiny", "memoryPerCore": "256Mi"}}, "spec.executors.memoryPerCore"),
    ],
)
def reconciles(op: Operator, result: str) -> float:
    """Reconciliations with this result, over all triggers."""
    return sum(
        sample.value
        for metric in op.metrics.reconciles.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["result"] == result
    )


async def test_temporary_api_errors_are_retried_with_back_off(emulator, config):
    config = dataclasses.replace(config, retry_backoff_seconds=0.05)
    emulator.outages["POST", SPARKAPPS] = 2
    async with Operator(emulator, config) as op:
        await create(emulator, semingest("flaky"))
        status = await eventually(
            phase_is(emulator, "flaky", "Submitted"), what="phase Submitted after retries"
        )
        # the two 503s were retried (by the create handler, or by the timer if it came first)
        assert await eventually(lambda: reconciles(op, "retry") == 2 and reconciles(op, "ok") >= 1)
    assert status["runId"] == "flaky-g1"
    assert len(requests_of(emulator, "POST", SPARKAPPS)) == 3 and list(live(emulator, SPARKAPPS)) == [
        (NS, "flaky-g1")
    ]
