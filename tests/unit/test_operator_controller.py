"""The operator's state machine (Controller) against an in-memory API server that enforces
resourceVersion preconditions: one handler per phase, all state in the object, no double starts."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from semingest_api.spec import API_VERSION, KIND
from semingest_api.status import Phase, SemIngestStatus, format_time
from semingest_operator.controller import Controller, OperatorConfig, semingest_path
from semingest_operator.kube import ApiError, object_path
from semingest_operator.metrics import Metrics

NS = "sem"
T0 = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


class MemoryApi:
    """The calls the Controller makes, on objects kept in a dict (path -> object). A status
    patch naming a resourceVersion fails with 409 unless it is the object's current one."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.versions = itertools.count(1)
        self.calls: list[tuple[str, str]] = []
        self.before_patch: list[Any] = []  # callbacks run before the next status patches (races)

    def put(self, path: str, obj: dict[str, Any]) -> None:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self.versions))
        self.objects[path] = obj

    async def get(self, path: str) -> dict[str, Any] | None:
        self.calls.append(("GET", path))
        obj = self.objects.get(path)
        return copy.deepcopy(obj) if obj is not None else None

    async def list(self, path: str, label_selector: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        self.calls.append(("LIST", path))
        return [
            copy.deepcopy(o)
            for p, o in self.objects.items()
            if p.rsplit("/", 1)[0] == path
            and all(o["metadata"].get("labels", {}).get(k) == v for k, v in (label_selector or {}).items())
        ]

    async def create(self, manifest: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        meta = manifest["metadata"]
        path = object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
        self.calls.append(("POST", path))
        if path in self.objects:
            return copy.deepcopy(self.objects[path]), False
        obj = copy.deepcopy(dict(manifest))
        obj["metadata"]["creationTimestamp"] = format_time(T0)
        self.put(path, obj)
        return copy.deepcopy(obj), True

    async def delete(self, path: str) -> bool:
        self.calls.append(("DELETE", path))
        return self.objects.pop(path, None) is not None

    async def patch_status(
        self, path: str, status: Mapping[str, Any], *, resource_version: str | None
    ) -> dict[str, Any]:
        for hook in self.before_patch[:]:
            self.before_patch.remove(hook)
            hook()
        self.calls.append(("PATCH", path))
        current = self.objects[path]
        if resource_version is not None and resource_version != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        self.put(path, merge(current, {"status": dict(status)}))
        return copy.deepcopy(self.objects[path])

    def posts(self) -> list[str]:
        return [p for m, p in self.calls if m == "POST"]


def semingest(name: str = "ing", generation: int = 1, status: dict[str, Any] | None = None, **spec: Any):
    body: dict[str, Any] = {
        "backend": "native",
        "image": "registry.example.org/worker:1",
        "source": {"pvc": "sem-data", "path": "/images"},
        "executors": {"strategy": "tiny", "nodes": 1, "coresPerNode": 2},
        "database": {"secretRef": {"name": "sem-db", "key": "url"}},
    }
    body.update(spec)
    obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"uid-{name}",
            "generation": generation,
            "creationTimestamp": format_time(T0),
        },
        "spec": body,
    }
    if status is not None:
        obj["status"] = status
    return obj


@pytest.fixture
def api() -> MemoryApi:
    return MemoryApi()


def controller(api: MemoryApi, now: dt.datetime = T0) -> Controller:
    """A new controller each time: like a restarted operator, it knows only what the object says."""
    return Controller(api, OperatorConfig(), Metrics(), clock=lambda: now)  # type: ignore[arg-type]


def add(api: MemoryApi, obj: dict[str, Any]) -> str:
    path = semingest_path(NS, obj["metadata"]["name"])
    api.put(path, obj)
    return path


def status_of(api: MemoryApi, path: str) -> SemIngestStatus:
    return SemIngestStatus.from_body(api.objects[path])


def set_pod_phase(api: MemoryApi, name: str, phase: str) -> None:
    api.objects[object_path("v1", "Pod", NS, name)]["status"] = {"phase": phase}


async def test_a_run_goes_pending_submitted_running_succeeded(api):
    path = add(api, semingest())
    outcome = await controller(api).reconcile(api.objects[path])
    assert outcome.before.phase is None and outcome.after.phase is Phase.SUBMITTED
    status = status_of(api, path)
    assert (status.run_id, status.run_generation, status.driver_pod) == ("ing-g1", 1, "ing-g1-driver")
    assert status.start_time == T0 and status.run_active
    set_pod_phase(api, "ing-g1-driver", "Running")
    assert (await controller(api).reconcile(api.objects[path])).after.phase is Phase.RUNNING
    set_pod_phase(api, "ing-g1-driver", "Succeeded")
    later = T0 + dt.timedelta(minutes=5)
    assert (await controller(api, later).reconcile(api.objects[path])).after.phase is Phase.SUCCEEDED
    status = status_of(api, path)
    assert status.completion_time == later and not status.run_active
    assert status.message == "run ing-g1 completed"
    # finished, nothing due: nothing more happens, whoever reconciles
    assert (await controller(api, later).reconcile(api.objects[path])).patch == {}
    assert sorted(api.posts()) == sorted(
        [
            object_path("v1", "Pod", NS, "ing-g1-driver"),
            object_path("v1", "Service", NS, "ing-g1-driver-svc"),
            object_path("v1", "ConfigMap", NS, "ing-g1-executor-template"),
        ]
    )


async def test_a_stale_body_never_starts_a_second_run(api):
    """kopf may hand over a body from before the last status write (a timer racing a handler):
    the controller reads the object afresh instead of trusting it (no in-memory windows)."""
    path = add(api, semingest())
    stale = copy.deepcopy(api.objects[path])
    await controller(api).reconcile(stale)
    posts = len(api.posts())
    outcome = await controller(api).reconcile(stale)
    assert outcome.after.run_id == "ing-g1" and len(api.posts()) == posts


async def test_a_status_written_meanwhile_is_a_conflict_and_the_decision_is_made_again(api):
    """Another replica records the run between this one's read and write: the API server
    rejects the stale write (409) and the fresh decision follows that run instead."""
    path = add(api, semingest(generation=2))

    def other_replica_starts_the_run() -> None:
        obj = merge(
            api.objects[path], {"status": {"phase": "Submitted", "runId": "ing-g2", "runGeneration": 2}}
        )
        obj["status"]["startTime"] = format_time(T0)
        api.put(path, obj)

    api.before_patch.append(other_replica_starts_the_run)
    outcome = await controller(api).reconcile(api.objects[path])
    status = status_of(api, path)
    assert status.run_id == "ing-g2" and outcome.after.run_id == "ing-g2"
    assert [m for m, _ in api.calls].count("PATCH") == 2, "the stale write was refused, then one written"
    assert outcome.after.phase is Phase.SUBMITTED and not outcome.started_run


async def test_a_conflict_with_an_unrelated_change_writes_the_same_status_again(api):
    """kopf writes its own annotations: that conflicts, but the decision stands (no re-creation)."""
    path = add(api, semingest())

    def kopf_annotates() -> None:
        obj = copy.deepcopy(api.objects[path])
        obj["metadata"]["annotations"] = {"semingest.io/last-handled-configuration": "{}"}
        api.put(path, obj)

    api.before_patch.append(kopf_annotates)
    outcome = await controller(api).reconcile(api.objects[path])
    assert outcome.started_run and status_of(api, path).run_id == "ing-g1"
    assert len(api.posts()) == 3, "each object of the run created once"


async def test_a_status_that_keeps_changing_is_a_temporary_error(api):
    path = add(api, semingest())

    def touch() -> None:
        obj = copy.deepcopy(api.objects[path])
        obj["status"] = {"message": f"changed {len(api.calls)}"}
        api.put(path, obj)
        api.before_patch.append(touch)

    api.before_patch.append(touch)
    with pytest.raises(ApiError, match="kept changing") as err:
        await controller(api).reconcile(api.objects[path])
    assert err.value.status == 409 and err.value.temporary, "kopf retries it later"


@pytest.mark.parametrize("phase", [None, *Phase])
async def test_every_phase_has_a_handler_and_an_active_run_is_followed_in_any_phase(api, phase):
    status = {
        "runId": "ing-g1",
        "runGeneration": 1,
        "startTime": format_time(T0),
        "driverPod": "ing-g1-driver",
    }
    if phase is not None:
        status["phase"] = phase.value
    path = add(api, semingest(status=status))
    api.put(object_path("v1", "Pod", NS, "ing-g1-driver"), {"metadata": {"name": "ing-g1-driver"}})
    set_pod_phase(api, "ing-g1-driver", "Succeeded")
    outcome = await controller(api).reconcile(api.objects[path])
    assert outcome.after.phase is Phase.SUCCEEDED and outcome.after.completion_time == T0
    assert api.posts() == [], "never a second run while one is active"


@pytest.mark.parametrize(
    ("phase", "suspend", "expected"),
    [
        (None, True, Phase.SUSPENDED),
        (Phase.PENDING, True, Phase.SUSPENDED),
        (Phase.SUCCEEDED, True, Phase.SUSPENDED),
        (Phase.SUSPENDED, False, Phase.PENDING),  # resumed, no tick due yet: waiting
        (Phase.SUCCEEDED, False, Phase.SUCCEEDED),  # nothing due: stays
    ],
)
async def test_idle_phases(api, phase, suspend, expected):
    status: dict[str, Any] = {
        "runId": "ing-g1",
        "runGeneration": 1,
        "startTime": format_time(T0),
        "completionTime": format_time(T0),
    }
    if phase is not None:
        status["phase"] = phase.value
    path = add(api, semingest(status=status, suspend=suspend, schedule="0 * * * *"))
    outcome = await controller(api, T0 + dt.timedelta(minutes=10)).reconcile(api.objects[path])
    assert outcome.after.phase is expected and api.posts() == []
    again = await controller(api, T0 + dt.timedelta(minutes=11)).reconcile(api.objects[path])
    assert again.patch == {}, "a second reconciliation changes nothing"


async def test_a_scheduled_tick_starts_a_run_from_a_finished_phase(api):
    status = {
        "phase": "Succeeded",
        "runId": "ing-g1",
        "runGeneration": 1,
        "startTime": format_time(T0),
        "completionTime": format_time(T0),
    }
    path = add(api, semingest(status=status, schedule="0 * * * *"))
    outcome = await controller(api, T0 + dt.timedelta(minutes=45)).reconcile(api.objects[path])
    assert outcome.after.phase is Phase.SUBMITTED and outcome.after.run_id == "ing-202603021100"
    assert outcome.after.last_schedule_time == dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)


async def test_an_invalid_spec_fails_once_and_counts_once(api):
    path = add(api, semingest(executors={"strategy": "huge"}))
    ctl = controller(api)
    first = await ctl.reconcile(api.objects[path])
    assert first.after.phase is Phase.FAILED and "spec.executors.strategy" in (first.after.message or "")
    assert (await ctl.reconcile(api.objects[path])).patch == {}
    assert ctl.metrics.render_errors.labels("spec.executors.strategy")._value.get() == 1
    assert api.posts() == []


async def test_a_deleted_object_is_left_alone(api):
    obj = semingest()
    outcome = await controller(api).reconcile(obj)
    assert outcome.patch == {} and api.calls == [("GET", semingest_path(NS, "ing"))]


def test_runs_to_keep_are_the_current_run_and_the_newest_others():
    from semingest_operator.controller import runs_to_keep

    def obj(run: str | None, created: str) -> dict[str, Any]:
        labels = {"semingest.io/run": run} if run else {}
        return {"metadata": {"labels": labels, "creationTimestamp": created}}

    items = [
        obj("a", "2026-03-01T00:00:00Z"),
        obj("b", "2026-03-02T00:00:00Z"),
        obj("c", "2026-03-03T00:00:00Z"),
        obj("c", "2026-02-01T00:00:00Z"),  # an older object of run c: the newest one counts
        obj(None, "2026-03-04T00:00:00Z"),  # not of any run
    ]
    assert runs_to_keep(items, keep="a", runs_kept=2) == {"a", "c"}
    assert runs_to_keep(items, keep="a", runs_kept=1) == {"a"}
    assert runs_to_keep(items, keep="b", runs_kept=3) == {"a", "b", "c"}


# --- metrics, run-now, time zones, history ------------------------------------------------------


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics from the operator's metrics server: (name, labels) -> value."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def ingest_labels(**more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"namespace": NS, "name": "ing", **more}.items()))


async def test_a_runs_metrics_are_served_by_the_operator(api):
    """The metrics of one SemIngest through a whole run, scraped over HTTP from the server the
    operator starts (Metrics.serve), with bounded labels (namespace, name, small vocabularies)."""
    metrics = Metrics()
    server = metrics.serve(0, addr="127.0.0.1")
    try:
        path = add(api, semingest())

        def at(moment: dt.datetime) -> Controller:
            return Controller(api, OperatorConfig(), metrics, clock=lambda: moment)  # type: ignore[arg-type]

        await at(T0).reconcile(api.objects[path])
        set_pod_phase(api, "ing-g1-driver", "Running")
        # the driver reports its progress into the status (semingest_worker.status_reporter)
        api.put(path, merge(api.objects[path], {"status": {"progress": {"discovered": 40, "processed": 12}}}))
        await at(T0 + dt.timedelta(minutes=1)).reconcile(api.objects[path])
        got = scrape(server.server_port)
        assert got[("semingest_run_files", ingest_labels(run="current", outcome="processed"))] == 12
        assert got[("semingest_run_files", ingest_labels(run="current", outcome="discovered"))] == 40
        assert got[("semingest_ingest_phase", ingest_labels(phase="Running"))] == 1
        assert got[("semingest_ingest_phase", ingest_labels(phase="Submitted"))] == 0
        assert got[("semingest_ingests", (("phase", "Running"),))] == 1
        assert got[("semingest_runs_started_total", ingest_labels())] == 1
        assert got[("semingest_run_start_timestamp_seconds", ingest_labels())] == T0.timestamp()

        api.put(
            path,
            merge(
                api.objects[path],
                {"status": {"progress": {"discovered": 40, "processed": 37, "failed": 3, "skipped": 0}}},
            ),
        )
        set_pod_phase(api, "ing-g1-driver", "Succeeded")
        done = T0 + dt.timedelta(minutes=5)
        outcome = await at(done).reconcile(api.objects[path])
        assert outcome.after.last_successful_time == done and outcome.after.duration == "5m"
        got = scrape(server.server_port)
        assert got[("semingest_run_files", ingest_labels(run="last", outcome="failed"))] == 3
        assert got[("semingest_run_files", ingest_labels(run="last", outcome="processed"))] == 37
        assert ("semingest_run_files", ingest_labels(run="current", outcome="processed")) not in got
        assert got[("semingest_last_run_duration_seconds", ingest_labels())] == 300
        assert got[("semingest_last_success_timestamp_seconds", ingest_labels())] == done.timestamp()
        assert got[("semingest_runs_succeeded_total", ingest_labels())] == 1
        assert ("semingest_runs_failed_total", ingest_labels()) not in got
        assert got[("semingest_ingests", (("phase", "Succeeded"),))] == 1
        assert got[("semingest_ingests", (("phase", "Running"),))] == 0
        # a second reconciliation counts nothing twice
        await at(done + dt.timedelta(minutes=1)).reconcile(api.objects[path])
        assert scrape(server.server_port)[("semingest_runs_succeeded_total", ingest_labels())] == 1
        # deleted: its series go
        await at(done).delete_all(NS, "ing", "uid-ing")
        got = scrape(server.server_port)
        assert not [k for k in got if ("name", "ing") in k[1]]
        assert got[("semingest_ingests", (("phase", "Succeeded"),))] == 0
    finally:
        server.shutdown()
        server.server_close()


async def test_a_failed_run_is_counted_and_its_phase_exported(api):
    metrics = Metrics()
    path = add(api, semingest())
    await Controller(api, OperatorConfig(), metrics, clock=lambda: T0).reconcile(api.objects[path])  # type: ignore[arg-type]
    set_pod_phase(api, "ing-g1-driver", "Failed")
    outcome = await Controller(api, OperatorConfig(), metrics, clock=lambda: T0).reconcile(api.objects[path])  # type: ignore[arg-type]
    assert outcome.after.phase is Phase.FAILED and outcome.after.last_successful_time is None
    assert metrics.runs_failed.labels(NS, "ing")._value.get() == 1
    assert metrics.phase.labels(NS, "ing", "Failed")._value.get() == 1


def annotate(api: MemoryApi, path: str, value: str) -> None:
    obj = copy.deepcopy(api.objects[path])
    obj["metadata"].setdefault("annotations", {})["semingest.io/run-now"] = value
    api.put(path, obj)


async def test_run_now_starts_one_run_per_annotation_value(api):
    finished = {
        "phase": "Succeeded",
        "runId": "ing-g1",
        "runGeneration": 1,
        "startTime": format_time(T0),
        "completionTime": format_time(T0),
    }
    path = add(api, semingest(status=finished))
    assert not (await controller(api).reconcile(api.objects[path])).started_run, "nothing due"
    annotate(api, path, "2026-03-02T10:31")
    outcome = await controller(api).reconcile(api.objects[path])
    assert outcome.started_run and outcome.after.run_id.startswith("ing-n")
    assert outcome.after.last_run_now == "2026-03-02T10:31"
    first_run = outcome.after.run_id
    set_pod_phase(api, f"{first_run}-driver", "Succeeded")
    assert (await controller(api).reconcile(api.objects[path])).after.phase is Phase.SUCCEEDED
    posts = len(api.posts())
    assert not (await controller(api).reconcile(api.objects[path])).started_run, "a value starts one run"
    annotate(api, path, "2026-03-02T10:31")
    assert not (await controller(api).reconcile(api.objects[path])).started_run, "the same value again"
    annotate(api, path, "again")
    second = await controller(api).reconcile(api.objects[path])
    assert second.started_run and second.after.run_id not in (first_run, None)
    assert len(api.posts()) == posts + 3


async def test_run_now_during_a_run_waits_for_its_end(api):
    path = add(api, semingest())
    await controller(api).reconcile(api.objects[path])
    annotate(api, path, "now")
    outcome = await controller(api).reconcile(api.objects[path])
    assert outcome.after.run_id == "ing-g1" and outcome.after.last_run_now is None, "one run at a time"
    set_pod_phase(api, "ing-g1-driver", "Succeeded")
    await controller(api).reconcile(api.objects[path])
    after = await controller(api).reconcile(api.objects[path])
    assert after.started_run and after.after.last_run_now == "now"


async def test_run_now_while_suspended_starts_nothing(api):
    path = add(api, semingest(suspend=True))
    annotate(api, path, "now")
    assert (await controller(api).reconcile(api.objects[path])).after.phase is Phase.SUSPENDED
    assert api.posts() == []


async def test_a_schedule_in_a_time_zone(api):
    """02:00 in Berlin is 01:00 UTC in winter; the next tick is in the status (kubectl get -o wide)."""
    finished = {
        "phase": "Succeeded",
        "runId": "ing-g1",
        "runGeneration": 1,
        "startTime": format_time(T0),
        "completionTime": format_time(T0),
    }
    path = add(api, semingest(status=finished, schedule="0 2 * * *", timeZone="Europe/Berlin"))
    waiting = await controller(api).reconcile(api.objects[path])
    assert waiting.after.next_schedule_time == dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)
    assert not waiting.started_run
    tick = dt.datetime(2026, 3, 3, 1, 0, 30, tzinfo=dt.UTC)
    outcome = await controller(api, tick).reconcile(api.objects[path])
    assert outcome.started_run and outcome.after.run_id == "ing-202603030100"
    assert outcome.after.next_schedule_time == dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC)


async def test_an_unknown_time_zone_is_a_spec_error(api):
    path = add(api, semingest(schedule="0 2 * * *", timeZone="Europe/Atlantis"))
    outcome = await controller(api).reconcile(api.objects[path])
    assert outcome.after.phase is Phase.FAILED
    assert "spec.timeZone: unknown time zone 'Europe/Atlantis'" in (outcome.after.message or "")


async def test_runs_history_limit_keeps_that_many_runs(api):
    path = add(
        api,
        semingest(
            runsHistoryLimit=2,
            status={
                "phase": "Running",
                "runId": "ing-g4",
                "runGeneration": 4,
                "startTime": format_time(T0),
                "driverPod": "ing-g4-driver",
            },
            generation=4,
        ),
    )
    for n in range(1, 5):
        api.put(
            object_path("v1", "Pod", NS, f"ing-g{n}-driver"),
            {
                "metadata": {
                    "name": f"ing-g{n}-driver",
                    "creationTimestamp": f"2026-03-0{n}T00:00:00Z",
                    "labels": {
                        "semingest.io/ingest": "ing",
                        "semingest.io/run": f"ing-g{n}",
                        "app.kubernetes.io/managed-by": "semingest-operator",
                    },
                }
            },
        )
    set_pod_phase(api, "ing-g4-driver", "Succeeded")
    await controller(api).reconcile(api.objects[path])
    pods = sorted(p.rsplit("/", 1)[1] for p in api.objects if "/pods/" in p)
    assert pods == ["ing-g3-driver", "ing-g4-driver"]
