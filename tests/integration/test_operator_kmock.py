"""The real kopf operator (semingest_operator.handlers) against kmock's KubernetesEmulator.

The emulator keeps objects in memory and serves list/watch/get/create/patch/delete over HTTP,
so kopf and the operator's own client talk HTTP to it as to an API server. It does not assign
uid/resourceVersion/generation (the tests set them), runs no controllers (the tests play the
spark-operator and the kubelet by patching status), and does no garbage collection (deletion
is checked through the operator's own DELETE requests and the objects' ownerReferences).
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

import jsonschema
import kmock
import kopf
import pytest

from semingest_api.spec import API_VERSION, KIND, openapi_schema
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


async def patch_status(emulator: kmock.KubernetesEmulator, path: str, status: dict[str, Any]) -> None:
    resp = await emulator.patch(
        f"{path}/status", json={"status": status}, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert resp.status == 200, await resp.text()


def sem_status(emulator: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return emulator.objects[SEMINGESTS, NS, name].raw.get("status") or {}


def assert_status_fits_the_crd(status: dict[str, Any]) -> None:
    """The emulator does not prune: check what the operator wrote against the CRD's status schema
    (with additionalProperties closed, as a structural schema would prune unknown fields)."""

    def closed(schema: Any) -> Any:
        if isinstance(schema, dict):
            out = {k: closed(v) for k, v in schema.items()}
            if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
                out["additionalProperties"] = False
            return out
        if isinstance(schema, list):
            return [closed(v) for v in schema]
        return schema

    jsonschema.validate(
        status, closed(openapi_schema()["properties"]["status"]), cls=jsonschema.Draft7Validator
    )


def sparkapp_path(name: str) -> str:
    return f"/apis/sparkoperator.k8s.io/v1beta2/namespaces/{NS}/sparkapplications/{name}"


def pod_path(name: str) -> str:
    return f"/api/v1/namespaces/{NS}/pods/{name}"


def sem_path(name: str) -> str:
    return f"/apis/semingest.io/v1alpha1/namespaces/{NS}/semingests/{name}"


def phase_is(emulator: kmock.KubernetesEmulator, name: str, phase: str) -> Callable[[], Any]:
    return lambda: sem_status(emulator, name).get("phase") == phase and sem_status(emulator, name)


def condition(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == ctype)


async def test_create_makes_exactly_one_spark_application_with_the_sizing_and_follows_its_state(
    emulator, config
):
    obj = semingest("ing1")
    async with Operator(emulator, config) as op:
        await create(emulator, obj)
        status = await eventually(phase_is(emulator, "ing1", "Submitted"), what="phase Submitted")
        apps = live(emulator, SPARKAPPS)
        assert list(apps) == [(NS, "ing1-g1")]
        app = apps[NS, "ing1-g1"]
        # fat: 2 nodes x 8 cores x 1Gi per core -> 2 executors of 8 cores, 8Gi per pod (heap + overhead)
        ex = app["spec"]["executor"]
        assert (ex["instances"], ex["cores"], ex["coreLimit"]) == (2, 8, "8")
        assert (ex["memory"], ex["memoryOverhead"]) == ("4915m", "3277m")
        assert app["spec"]["image"] == IMAGE
        assert app["spec"]["driver"]["serviceAccount"] == "sem-driver"
        owner = app["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == (KIND, "ing1", obj["metadata"]["uid"])
        assert app["metadata"]["labels"]["semingest.io/run"] == "ing1-g1"
        assert status["runId"] == "ing1-g1" and status["sparkApplication"] == "ing1-g1"
        assert status["sizing"]["executors"] == 2 and status["sizing"]["strategy"] == "fat"
        assert condition(status, "Submitted")["status"] == "True"

        # the spark-operator reports RUNNING, then COMPLETED
        await patch_status(emulator, sparkapp_path("ing1-g1"), {"applicationState": {"state": "RUNNING"}})
        status = await eventually(phase_is(emulator, "ing1", "Running"), what="phase Running")
        assert condition(status, "Running")["status"] == "True"
        await patch_status(emulator, sparkapp_path("ing1-g1"), {"applicationState": {"state": "COMPLETED"}})
        status = await eventually(phase_is(emulator, "ing1", "Succeeded"), what="phase Succeeded")
        assert condition(status, "Succeeded")["status"] == "True"
        assert condition(status, "Running")["status"] == "False"
        assert condition(status, "Failed")["status"] == "False"
        assert status["completionTime"] and status["observedGeneration"] == 1
        await asyncio.sleep(0.6)  # a few more timer ticks: nothing new happens
        assert op.metrics.runs.labels("Succeeded")._value.get() == 1
    assert_status_fits_the_crd(sem_status(emulator, "ing1"))
    assert len(requests_of(emulator, "POST", SPARKAPPS)) == 1
    assert len(live(emulator, SPARKAPPS)) == 1
    assert not live(emulator, PODS), "the sparkOperator backend creates no pods itself"


@pytest.mark.parametrize("state", ["FAILED", "SUBMISSION_FAILED"])
async def test_spark_failure_ends_failed_with_the_error_message(emulator, config, state):
    async with Operator(emulator, config):
        await create(emulator, semingest("ing2"))
        await eventually(lambda: live(emulator, SPARKAPPS), what="a SparkApplication")
        await patch_status(
            emulator,
            sparkapp_path("ing2-g1"),
            {
                "applicationState": {
                    "state": state,
                    "errorMessage": "driver container failed with ExitCode: 1",
                }
            },
        )
        status = await eventually(phase_is(emulator, "ing2", "Failed"), what="phase Failed")
    assert_status_fits_the_crd(status)
    assert "driver container failed with ExitCode: 1" in status["message"]
    failed = condition(status, "Failed")
    assert failed["status"] == "True" and "ExitCode: 1" in failed["message"]
    assert condition(status, "Succeeded")["status"] == "False"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"executors": {"strategy": "huge"}}, "spec.executors.strategy"),
        ({"source": {"pvc": "a", "hostPath": "/b", "path": "/"}}, "spec.source"),
        ({"sparkConf": {"spark.master": "local[2]"}}, "spec.sparkConf.spark.master"),
        ({"executors": {"strategy": "tiny", "memoryPerCore": "256Mi"}}, "spec.executors.memoryPerCore"),
    ],
)
async def test_spec_error_ends_failed_with_a_reason_naming_the_field(emulator, config, spec, field):
    async with Operator(emulator, config) as op:
        await create(emulator, semingest("bad", **spec))
        status = await eventually(phase_is(emulator, "bad", "Failed"), what="phase Failed")
        await asyncio.sleep(0.5)  # timer ticks: it stays failed, creates nothing
    assert_status_fits_the_crd(status)
    assert field in status["message"]
    failed = condition(status, "Failed")
    assert failed["reason"] == "InvalidSpec" and field in failed["message"]
    assert not requests_of(emulator, "POST", SPARKAPPS) and not requests_of(emulator, "POST", PODS)
    assert op.metrics.render_errors.labels(field)._value.get() == 1, "counted once, not on every timer tick"


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


async def test_operator_restart_creates_nothing_new(emulator, config):
    async with Operator(emulator, config):
        await create(emulator, semingest("ing3"))
        await eventually(phase_is(emulator, "ing3", "Submitted"), what="phase Submitted")
    async with Operator(emulator, config) as op:  # a restarted operator: resume handlers, timers
        await asyncio.sleep(1.0)
        assert sem_status(emulator, "ing3")["runId"] == "ing3-g1"
        assert op.metrics.runs.labels("Submitted")._value.get() == 1, "a restart counts existing runs"
    # A crash between creating the run and recording it: the status lost the run, the run exists.
    resp = await emulator.patch(
        f"{sem_path('ing3')}/status",
        json={"status": {"runId": None, "runGeneration": None, "phase": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status == 200
    async with Operator(emulator, config):
        status = await eventually(phase_is(emulator, "ing3", "Submitted"), what="the run re-adopted")
        await asyncio.sleep(0.5)
    assert status["runId"] == "ing3-g1"
    assert list(live(emulator, SPARKAPPS)) == [(NS, "ing3-g1")]
    posts = requests_of(emulator, "POST", SPARKAPPS)
    assert len(posts) == 2  # the second one answered 409 Already Exists and the run was adopted


async def test_two_replicas_start_one_run_and_record_it_once(emulator, config):
    """Two operators on the same SemIngest (a second replica, or an old one still running): the
    status writes are conditional on the resourceVersion read, so one run is recorded, once."""
    async with Operator(emulator, config) as one, Operator(emulator, config) as two:
        await create(emulator, semingest("twin"))
        status = await eventually(phase_is(emulator, "twin", "Submitted"), what="phase Submitted")
        await asyncio.sleep(0.6)  # both replicas' timers tick a few times
        assert list(live(emulator, SPARKAPPS)) == [(NS, "twin-g1")] and status["runId"] == "twin-g1"
        started = sum(op.metrics.runs_started.labels("sparkOperator")._value.get() for op in (one, two))
        assert started == 1, "the run is counted as started by one replica only"
        await patch_status(emulator, sparkapp_path("twin-g1"), {"applicationState": {"state": "COMPLETED"}})
        status = await eventually(phase_is(emulator, "twin", "Succeeded"), what="phase Succeeded")
        await asyncio.sleep(0.6)
    assert sem_status(emulator, "twin")["completionTime"] == status["completionTime"], "completed once"
    assert list(live(emulator, SPARKAPPS)) == [(NS, "twin-g1")]
    assert_status_fits_the_crd(sem_status(emulator, "twin"))


async def test_native_backend_creates_driver_pod_service_and_executor_template(emulator, config):
    obj = semingest("nat", backend="native", executors={"strategy": "tiny", "nodes": 1, "coresPerNode": 4})
    async with Operator(emulator, config):
        await create(emulator, obj)
        await eventually(phase_is(emulator, "nat", "Submitted"), what="phase Submitted")
        pods, services, cms = live(emulator, PODS), live(emulator, SERVICES), live(emulator, CONFIGMAPS)
        assert list(pods) == [(NS, "nat-g1-driver")]
        assert list(services) == [(NS, "nat-g1-driver-svc")]
        assert list(cms) == [(NS, "nat-g1-executor-template")]
        assert not live(emulator, SPARKAPPS)
        for o in [*pods.values(), *services.values(), *cms.values()]:
            assert o["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
            assert o["metadata"]["labels"]["semingest.io/ingest"] == "nat"
        args = pods[NS, "nat-g1-driver"]["spec"]["containers"][0]["args"]
        assert "spark.kubernetes.driver.pod.name=nat-g1-driver" in args
        assert "spark.executor.instances=4" in args and "spark.executor.cores=1" in args

        await patch_status(emulator, pod_path("nat-g1-driver"), {"phase": "Running"})
        await eventually(phase_is(emulator, "nat", "Running"), what="phase Running")
        await patch_status(
            emulator,
            pod_path("nat-g1-driver"),
            {
                "phase": "Failed",
                "containerStatuses": [
                    {
                        "name": "spark-kubernetes-driver",
                        "state": {"terminated": {"exitCode": 3, "reason": "Error", "message": "no database"}},
                    }
                ],
            },
        )
        status = await eventually(phase_is(emulator, "nat", "Failed"), what="phase Failed")
    assert "exited with code 3" in status["message"] and "no database" in status["message"]
    assert len(requests_of(emulator, "POST", PODS)) == 1


async def test_driver_that_does_not_start_fails_with_the_pod_reason(emulator, config):
    async with Operator(emulator, config):
        await create(emulator, semingest("stuck", backend="native"))
        await eventually(phase_is(emulator, "stuck", "Submitted"), what="phase Submitted")
        await patch_status(
            emulator,
            pod_path("stuck-g1-driver"),
            {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "spark-kubernetes-driver",
                        "state": {
                            "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}
                        },
                    }
                ],
            },
        )
        # still within startTimeoutSeconds: Submitted, with the reason shown
        status = await eventually(
            lambda: (
                "ImagePullBackOff" in sem_status(emulator, "stuck").get("message", "")
                and sem_status(emulator, "stuck")
            ),
            what="the waiting reason in the message",
        )
        assert status["phase"] == "Submitted"
        # the clock moves past the timeout (default 600 s): the run started an hour ago
        hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await patch_status(emulator, sem_path("stuck"), {"startTime": hour_ago})
        status = await eventually(phase_is(emulator, "stuck", "Failed"), what="phase Failed")
    assert_status_fits_the_crd(status)
    failed = condition(status, "Failed")
    assert failed["reason"] == "ImagePullBackOff"
    assert "did not start within 600s" in status["message"] and "Back-off pulling image" in status["message"]
    # the given-up run is removed so that it cannot start later behind the operator's back
    deleted = {r.url.path for r in requests_of(emulator, "DELETE", PODS)}
    assert pod_path("stuck-g1-driver") in deleted
    assert not live(emulator, PODS) and not live(emulator, SERVICES) and not live(emulator, CONFIGMAPS)


async def test_auto_sizing_reads_the_nodes(emulator, config):
    for i, (cpu, mem) in enumerate([("16", "64Gi"), ("16", "64Gi"), ("8", "32Gi")]):
        emulator.objects[NODES, None, f"n{i}"] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"n{i}"},
            "status": {
                "allocatable": {"cpu": cpu, "memory": mem},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    emulator.objects[NODES, None, "cordoned"] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "cordoned"},
        "spec": {"unschedulable": True},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi"}},
    }
    async with Operator(emulator, config):
        await create(emulator, semingest("auto", executors={"strategy": "auto", "nodes": 2}))
        status = await eventually(phase_is(emulator, "auto", "Submitted"), what="phase Submitted")
    app = live(emulator, SPARKAPPS)[NS, "auto-g1"]
    # the two 16-core nodes (not the cordoned one): 15 usable cores next to the driver -> 3 x 5
    assert (app["spec"]["executor"]["instances"], app["spec"]["executor"]["cores"]) == (6, 5)
    assert_status_fits_the_crd(status)
    assert status["sizing"]["strategy"] == "auto" and "n0: 3, n1: 3" in status["sizing"]["reason"]


async def test_spec_update_waits_for_the_active_run_then_starts_the_next(emulator, config):
    async with Operator(emulator, config):
        await create(emulator, semingest("upd"))
        await eventually(phase_is(emulator, "upd", "Submitted"), what="phase Submitted")
        # a spec change while the run is active (the API server would bump the generation)
        resp = await emulator.patch(
            sem_path("upd"),
            json={
                "metadata": {"generation": 2},
                "spec": {"executors": {"strategy": "tiny", "nodes": 1, "coresPerNode": 2}},
            },
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert resp.status == 200
        await asyncio.sleep(0.6)
        assert list(live(emulator, SPARKAPPS)) == [(NS, "upd-g1")], "never two runs at once"
        await patch_status(emulator, sparkapp_path("upd-g1"), {"applicationState": {"state": "COMPLETED"}})
        status = await eventually(
            lambda: sem_status(emulator, "upd").get("runId") == "upd-g2" and sem_status(emulator, "upd"),
            what="the generation-2 run",
        )
    assert status["runGeneration"] == 2 and status["observedGeneration"] == 2
    assert live(emulator, SPARKAPPS)[NS, "upd-g2"]["spec"]["executor"]["instances"] == 2


async def test_schedule_starts_a_new_run_on_a_tick_and_suspend_stops_runs(emulator, config):
    config = dataclasses.replace(config, runs_kept=1)  # finished runs beyond the newest are removed
    async with Operator(emulator, config):
        await create(emulator, semingest("cron", schedule="*/5 * * * *"))
        await eventually(phase_is(emulator, "cron", "Submitted"), what="phase Submitted")
        await patch_status(emulator, sparkapp_path("cron-g1"), {"applicationState": {"state": "COMPLETED"}})
        await eventually(phase_is(emulator, "cron", "Succeeded"), what="phase Succeeded")
        # the clock moves on: the first run started 11 minutes ago, so a tick is due
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await patch_status(emulator, sem_path("cron"), {"startTime": past})
        status = await eventually(
            lambda: (
                sem_status(emulator, "cron").get("runId", "").startswith("cron-2")
                and sem_status(emulator, "cron")
            ),
            what="a scheduled run",
        )
        tick_run = status["runId"]
        assert status["lastScheduleTime"] and status["phase"] == "Submitted"
        await asyncio.sleep(0.5)
        assert len(live(emulator, SPARKAPPS)) == 2, "one scheduled run for one tick"
        await patch_status(emulator, sparkapp_path(tick_run), {"applicationState": {"state": "COMPLETED"}})
        await eventually(phase_is(emulator, "cron", "Succeeded"), what="the scheduled run done")
        # suspend: no new runs, even with ticks due
        resp = await emulator.patch(
            sem_path("cron"),
            json={"metadata": {"generation": 2}, "spec": {"suspend": True}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert resp.status == 200
        status = await eventually(phase_is(emulator, "cron", "Suspended"), what="phase Suspended")
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await patch_status(emulator, sem_path("cron"), {"lastScheduleTime": past})
        await asyncio.sleep(0.6)
    assert list(live(emulator, SPARKAPPS)) == [(NS, tick_run)], "the older run was pruned (runs_kept=1)"
    assert sparkapp_path("cron-g1") in {r.url.path for r in requests_of(emulator, "DELETE", SPARKAPPS)}
    assert condition(status, "Succeeded")["status"] == "True", "the last run's result stays visible"


async def test_deleting_the_semingest_deletes_its_runs(emulator, config):
    async with Operator(emulator, config):
        await create(emulator, semingest("gone", backend="native"))
        await eventually(lambda: live(emulator, PODS), what="the driver pod")
        await eventually(
            lambda: (
                "semingest.io/finalizer"
                in emulator.objects[SEMINGESTS, NS, "gone"].raw["metadata"].get("finalizers", [])
            ),
            what="the finalizer",
        )
        resp = await emulator.delete(sem_path("gone"))
        assert resp.status == 200
        await eventually(lambda: emulator.objects[SEMINGESTS, NS, "gone"].deleted, what="the SemIngest gone")
    deleted = {r.url.path for r in list(emulator) if r.method == "DELETE"}
    assert {pod_path("gone-g1-driver"), f"/api/v1/namespaces/{NS}/services/gone-g1-driver-svc"} <= deleted
    assert f"/api/v1/namespaces/{NS}/configmaps/gone-g1-executor-template" in deleted
    assert not live(emulator, PODS) and not live(emulator, SERVICES) and not live(emulator, CONFIGMAPS)


async def test_status_reporter_patches_progress_with_throttling(emulator):
    from semingest_worker.status_reporter import StatusReporter

    await create(emulator, semingest("rep"))
    now = [100.0]
    reporter = StatusReporter(
        str(emulator.url).rstrip("/"), NS, "rep", token="t0ken", min_interval=10, clock=lambda: now[0]
    )
    counts = {"discovered": 10, "processed": 4, "skipped": 1, "failed": 1, "duplicates": 0}
    assert await asyncio.to_thread(reporter.report, counts, {"metadata": 1.5}) is True
    status = sem_status(emulator, "rep")
    assert {k: status["progress"][k] for k in counts} == counts and status["progress"]["updateTime"]
    assert status["stageSeconds"] == {"metadata": 1.5}
    assert "phase" not in status
    now[0] += 3
    assert await asyncio.to_thread(reporter.report, {**counts, "processed": 5}, {}) is False  # throttled
    assert sem_status(emulator, "rep")["progress"]["processed"] == 4
    assert await asyncio.to_thread(
        reporter.report, {**counts, "processed": 9}, {"metadata": 3.0}, "Running", True
    )
    status = sem_status(emulator, "rep")
    assert status["progress"]["processed"] == 9 and status["phase"] == "Running"
    assert_status_fits_the_crd(status)
    patches = [r for r in list(emulator) if r.method == "PATCH" and r.url.path.endswith("/rep/status")]
    assert len(patches) == 2 and patches[0].headers["Authorization"] == "Bearer t0ken"
    assert patches[0].headers["Content-Type"] == "application/merge-patch+json"
    # an unreachable or refusing API server is logged, never raised
    lost = StatusReporter(str(emulator.url).rstrip("/"), NS, "no-such-ingest", token="t")
    assert await asyncio.to_thread(lost.report, counts, {}, None, True) is False and lost.errors == 1
    dead = StatusReporter("http://127.0.0.1:9", NS, "rep", timeout=2)
    assert await asyncio.to_thread(dead.report, counts, {}, None, True) is False and dead.errors == 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_semingest_operator_process_serves_liveness_and_metrics_and_reconciles(emulator, tmp_path):
    """The console script itself: kubeconfig login, --all-namespaces, liveness and metrics ports."""
    import os
    import signal
    import sys
    import urllib.request

    kubeconfig = tmp_path / "kubeconfig"
    server = str(emulator.url).rstrip("/")
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n"
        f"clusters: [{{name: kmock, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: kmock, user: {token: test-token}}]\n"
        "contexts: [{name: kmock, context: {cluster: kmock, user: kmock, namespace: sem}}]\n"
    )
    health, metrics = _free_port(), _free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "SEMINGEST_DEFAULT_IMAGE": IMAGE}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "semingest_operator",
        "--all-namespaces",
        f"--liveness=http://127.0.0.1:{health}/healthz",
        f"--metrics-port={metrics}",
        "--poll-seconds=0.3",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )

    def get(url: str) -> str:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local test server
            return resp.read().decode()

    async def fetch(url: str) -> str | None:
        try:
            return await asyncio.to_thread(get, url)
        except OSError:
            return None

    try:
        obj = semingest("proc")
        del obj["spec"]["backend"]  # the CRD default: native
        await create(emulator, obj)
        await eventually(lambda: live(emulator, PODS), timeout=30, what="the driver pod from the process")
        status = await eventually(phase_is(emulator, "proc", "Submitted"), timeout=10, what="phase Submitted")
        assert status["runId"] == "proc-g1"
        pod = live(emulator, PODS)[NS, "proc-g1-driver"]
        assert pod["spec"]["containers"][0]["image"] == IMAGE  # SEMINGEST_DEFAULT_IMAGE
        assert await fetch(f"http://127.0.0.1:{health}/healthz") is not None
        text = await fetch(f"http://127.0.0.1:{metrics}/metrics")
        assert text is not None and 'semingest_runs_started_total{backend="native"} 1.0' in text
        assert 'semingest_reconciles_total{result="ok",trigger="create"}' in text
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, output.decode()[-3000:]
    auth = {r.headers.get("Authorization") for r in list(emulator) if r.resource == kmock.resource(PODS)}
    assert auth == {"Bearer test-token"}, "the operator's own requests carry the kubeconfig credentials"
