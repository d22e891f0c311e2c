"""Reconciliation of one SemIngest: start a run when one is due, follow the active run.

Every method returns the status patch to apply (the kopf handlers apply it): the operator never
holds state of its own between calls, so a restart continues where the last status left off.
Run names are deterministic (generation or schedule tick), creation treats "already exists" as
success, so a restart or a retried handler never creates a second run for the same trigger.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from semingest_api.spec import SemIngestSpec, SpecError
from semingest_operator import schedule
from semingest_operator import status as st
from semingest_operator.kube import ApiError, KubeApi, collection_path, object_path
from semingest_operator.metrics import Metrics
from semingest_operator.policy import InstallationPolicy
from semingest_operator.render import render_run, run_name
from semingest_operator.render.common import (
    LABEL_INGEST,
    LABEL_MANAGED_BY,
    LABEL_RUN,
    MANAGED_BY,
    label_value,
)
from semingest_operator.render.run import DEFAULT_DRIVER_SERVICE_ACCOUNT, check_spec
from semingest_operator.render.spark_application import SPARK_OPERATOR_API_VERSION
from semingest_operator.sizing import NodeResources, node_resources

log = logging.getLogger(__name__)

# A run this process started is not started again while its status patch is on its way back.
RECENT_START_SECONDS = 30.0
_RANK = {st.PENDING: 0, st.SUBMITTED: 1, st.RUNNING: 2, st.SUSPENDED: 2, st.SUCCEEDED: 3, st.FAILED: 3}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class OperatorConfig:
    default_image: str | None = None
    driver_service_account: str = DEFAULT_DRIVER_SERVICE_ACCOUNT
    poll_seconds: float = 10.0
    runs_kept: int = 3  # finished runs whose objects (pods, logs, SparkApplications) are kept
    retry_backoff_seconds: float = 2.0  # first back-off after a temporary API error (doubles, max 60 s)
    policy: InstallationPolicy = field(default_factory=InstallationPolicy)  # what SemIngest authors may ask


class Controller:
    def __init__(
        self,
        api: KubeApi,
        config: OperatorConfig,
        metrics: Metrics,
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self.api = api
        self.config = config
        self.metrics = metrics
        self.clock = clock
        # Per-process caches, keyed by the SemIngest's uid: one reconciliation at a time per
        # object (kopf runs the timer and the change handlers concurrently), and the last run
        # started here (handlers may still see the body from before that run's status patch).
        self._locks: dict[str, asyncio.Lock] = {}
        self._started: dict[str, tuple[str, float]] = {}
        self._finished: dict[str, tuple[str, float]] = {}

    # -- entry point ---------------------------------------------------------------------------
    async def reconcile(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The status patch that moves this SemIngest on (empty: nothing to do)."""
        uid = (body.get("metadata") or {}).get("uid") or ""
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            patch = await self._reconcile(body)
        meta = body.get("metadata") or {}
        phase = patch.get("phase") or (body.get("status") or {}).get("phase")
        if phase:  # also after a restart, for objects with nothing to do
            self.metrics.set_phase(meta.get("namespace", ""), meta.get("name", ""), phase)
        return patch

    def forget(self, uid: str) -> None:
        self._locks.pop(uid, None)
        self._started.pop(uid, None)
        self._finished.pop(uid, None)

    async def _reconcile(self, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body.get("metadata") or {}
        generation = int(meta.get("generation") or 1)
        status = dict(body.get("status") or {})
        now = self.clock()
        try:
            spec = check_spec(body.get("spec") or {}, self.config.default_image, self.config.policy)
        except SpecError as exc:
            return self._invalid(meta, status, exc, generation, now)
        if status.get("runId") and not status.get("completionTime"):
            if _recent(self._finished.get(meta.get("uid") or ""), status["runId"]):
                return {}  # finished a moment ago; this body predates the completion patch
            patch = await self._follow(meta, spec, status, generation, now)
            if patch.get("completionTime"):
                self._finished[meta.get("uid") or ""] = (status["runId"], time.monotonic())
            return patch
        if spec.suspend:
            if status.get("phase") == st.SUSPENDED and status.get("observedGeneration") == generation:
                return {}
            return self._phase(
                meta, status, st.SUSPENDED, "Suspended", "suspend is true: no new runs", generation, now
            )
        run, tick = self._due_run(meta, spec, status, generation, now)
        if run is None:
            if status.get("phase") == st.SUSPENDED:  # resumed, nothing due yet (a schedule waits)
                return self._phase(
                    meta,
                    status,
                    st.PENDING,
                    "Waiting",
                    "waiting for the next scheduled tick",
                    generation,
                    now,
                )
            return (
                {} if status.get("observedGeneration") == generation else {"observedGeneration": generation}
            )
        if _recent(self._started.get(meta.get("uid") or ""), run):
            return {}  # started by this process a moment ago; this body predates its status patch
        patch = await self._start(body, spec, status, generation, run, tick, now)
        if patch.get("runId") == run:
            self._started[meta.get("uid") or ""] = (run, time.monotonic())
        return patch

    # -- phases --------------------------------------------------------------------------------
    def _phase(
        self,
        meta: Mapping[str, Any],
        status: Mapping[str, Any],
        phase: str,
        reason: str,
        message: str,
        generation: int,
        now: dt.datetime,
    ) -> dict[str, Any]:
        return {
            "phase": phase,
            "message": message,
            "observedGeneration": generation,
            "conditions": st.conditions(
                phase,
                reason,
                message,
                generation=generation,
                now=now,
                previous=status.get("conditions") or (),
            ),
        }

    def _invalid(
        self,
        meta: Mapping[str, Any],
        status: Mapping[str, Any],
        exc: SpecError,
        generation: int,
        now: dt.datetime,
    ) -> dict[str, Any]:
        message = f"invalid spec: {exc}"
        if status.get("message") == message and status.get("observedGeneration") == generation:
            return {}
        self.metrics.render_errors.labels(exc.field).inc()
        log.warning("SemIngest %s/%s: %s", meta.get("namespace"), meta.get("name"), message)
        return self._phase(meta, status, st.FAILED, "InvalidSpec", message, generation, now)

    def _due_run(
        self,
        meta: Mapping[str, Any],
        spec: SemIngestSpec,
        status: Mapping[str, Any],
        generation: int,
        now: dt.datetime,
    ) -> tuple[str | None, dt.datetime | None]:
        if status.get("runGeneration") != generation:
            return run_name(meta["name"], generation=generation), None
        if spec.schedule:
            last = (
                st.parse_time(status.get("lastScheduleTime"))
                or st.parse_time(status.get("startTime"))
                or st.parse_time(meta.get("creationTimestamp"))
                or now
            )
            tick = schedule.due_tick(spec.schedule, last, now)
            if tick is not None:
                return run_name(meta["name"], tick=tick), tick
        return None, None

    # -- starting a run ------------------------------------------------------------------------
    async def _nodes(self) -> list[NodeResources] | None:
        try:
            items = await self.api.list("/api/v1/nodes")
        except ApiError as exc:
            if exc.temporary:
                raise
            log.warning("cannot list nodes for auto sizing (%s): sizing from the spec instead", exc)
            return None
        return [n for n in (node_resources(i) for i in items) if n is not None]

    async def _start(
        self,
        body: Mapping[str, Any],
        spec: SemIngestSpec,
        status: Mapping[str, Any],
        generation: int,
        run: str,
        tick: dt.datetime | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        meta = body["metadata"]
        nodes = await self._nodes() if spec.executors.strategy == "auto" else None
        try:
            rendered = render_run(
                body,
                default_image=self.config.default_image,
                driver_service_account=self.config.driver_service_account,
                nodes=nodes,
                run=run,
                policy=self.config.policy,
            )
        except SpecError as exc:
            return self._invalid(meta, status, exc, generation, now)
        started = now
        for manifest in rendered.manifests:
            try:
                obj, created = await self.api.create(manifest)
            except ApiError as exc:
                if exc.temporary:
                    raise
                return self._create_failed(meta, status, generation, run, manifest, exc, now)
            if created:
                log.info("run %s: created %s %s", run, manifest["kind"], manifest["metadata"]["name"])
            else:  # an earlier attempt (or operator instance) created it: adopt it
                log.info(
                    "run %s: %s %s already exists, adopting it",
                    run,
                    manifest["kind"],
                    manifest["metadata"]["name"],
                )
                created_at = st.parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
                started = min(started, created_at) if created_at else started
        self.metrics.runs_started.labels(rendered.backend).inc()
        message = f"run {run} submitted ({rendered.sizing.reason})"
        patch = self._phase(meta, status, st.SUBMITTED, "Submitted", message, generation, now)
        patch.update(
            runId=run,
            runGeneration=generation,
            sparkApplication=rendered.spark_application,
            driverPod=rendered.driver_pod,
            startTime=st.format_time(started),
            completionTime=None,
            progress=None,
            stageSeconds=None,
            sizing=rendered.sizing.as_status(),
        )
        if tick is not None:
            patch["lastScheduleTime"] = st.format_time(tick)
        return patch

    def _create_failed(
        self,
        meta: Mapping[str, Any],
        status: Mapping[str, Any],
        generation: int,
        run: str,
        manifest: Mapping[str, Any],
        exc: ApiError,
        now: dt.datetime,
    ) -> dict[str, Any]:
        kind = manifest["kind"]
        if kind == "SparkApplication" and exc.status == 404:
            reason = "SparkOperatorMissing"
            message = (
                f"run {run}: the SparkApplication API is not served: install the kubeflow spark-operator "
                "or use backend: native"
            )
        else:
            reason = f"Create{kind}Failed"
            message = f"run {run}: cannot create {kind} {manifest['metadata']['name']}: {exc}"
        patch = self._phase(meta, status, st.FAILED, reason, message, generation, now)
        patch.update(runId=run, runGeneration=generation, completionTime=st.format_time(now))
        return patch

    # -- following the active run --------------------------------------------------------------
    async def _follow(
        self,
        meta: Mapping[str, Any],
        spec: SemIngestSpec,
        status: Mapping[str, Any],
        generation: int,
        now: dt.datetime,
    ) -> dict[str, Any]:
        ns = meta.get("namespace")
        run = status["runId"]
        pod_name = status.get("driverPod") or f"{run}-driver"
        pod = await self.api.get(object_path("v1", "Pod", ns, pod_name))
        backend = "sparkOperator" if status.get("sparkApplication") else "native"
        if backend == "sparkOperator":
            app_path = object_path(
                SPARK_OPERATOR_API_VERSION, "SparkApplication", ns, status["sparkApplication"]
            )
            obs = st.observe_spark_application(await self.api.get(app_path), pod)
        else:
            obs = st.observe_driver_pod(pod)
        obs = st.apply_start_timeout(
            obs,
            started_at=st.parse_time(status.get("startTime")) or now,
            now=now,
            timeout_seconds=spec.driver.start_timeout_seconds,
            driver_pod=pod,
            backend=backend,
        )
        current = status.get("phase")
        if obs.phase not in st.TERMINAL and _RANK.get(current, -1) > _RANK[obs.phase]:
            # e.g. the driver already reported Running while the SparkApplication still says SUBMITTED
            return (
                {} if status.get("observedGeneration") == generation else {"observedGeneration": generation}
            )
        message = f"run {run}: {obs.message}"
        if obs.phase == st.SUCCEEDED:
            message = f"run {run} completed{_progress_summary(status)}"
        if obs.phase == current and status.get("message") == message and obs.phase not in st.TERMINAL:
            return (
                {} if status.get("observedGeneration") == generation else {"observedGeneration": generation}
            )
        patch = self._phase(meta, status, obs.phase, obs.reason, message, generation, now)
        if obs.phase in st.TERMINAL:
            patch["completionTime"] = st.format_time(now)
            if obs.phase == st.FAILED and not obs.driver_started:
                await self.delete_run(ns, status)  # never let a run that was given up start later
            try:
                await self.prune_runs(ns, meta["name"], keep=run)
            except ApiError as exc:  # housekeeping only: never in the way of recording the result
                log.warning("SemIngest %s/%s: cannot remove old runs: %s", ns, meta["name"], exc)
        return patch

    async def delete_run(self, namespace: str | None, status: Mapping[str, Any]) -> list[str]:
        """Delete one run's objects (what its owner's deletion would do); returns what was deleted."""
        run = status.get("runId")
        deleted = []
        paths = []
        if status.get("sparkApplication"):
            paths.append(
                object_path(
                    SPARK_OPERATOR_API_VERSION, "SparkApplication", namespace, status["sparkApplication"]
                )
            )
        else:
            paths += [
                object_path("v1", "Pod", namespace, status.get("driverPod") or f"{run}-driver"),
                object_path("v1", "Service", namespace, f"{run}-driver-svc"),
                object_path("v1", "ConfigMap", namespace, f"{run}-executor-template"),
            ]
        for path in paths:
            if await self.api.delete(path):
                deleted.append(path)
        return deleted

    async def _owned(self, namespace: str, name: str) -> list[tuple[str, dict[str, Any]]]:
        """(collection path, object) of every object of every run of this SemIngest."""
        selector = {LABEL_INGEST: label_value(name), LABEL_MANAGED_BY: MANAGED_BY}
        out = []
        kinds = [
            (SPARK_OPERATOR_API_VERSION, "sparkapplications"),
            ("v1", "pods"),
            ("v1", "services"),
            ("v1", "configmaps"),
        ]
        for api_version, plural in kinds:
            path = collection_path(api_version, plural, namespace)
            try:
                items = await self.api.list(path, selector)
            except ApiError as exc:
                if exc.status == 404:  # the spark-operator is not installed: nothing of that kind
                    continue
                raise
            out += [(path, item) for item in items]
        return out

    async def prune_runs(self, namespace: str, name: str, keep: str) -> list[str]:
        """Delete the objects of finished runs beyond the newest ``runs_kept`` (schedules add up)."""
        owned = await self._owned(namespace, name)
        newest: dict[str, str] = {}
        for _, item in owned:
            meta = item.get("metadata") or {}
            run = (meta.get("labels") or {}).get(LABEL_RUN)
            if run:
                newest[run] = max(newest.get(run, ""), meta.get("creationTimestamp") or "")
        older = sorted((r for r in newest if r != keep), key=lambda r: (newest[r], r), reverse=True)
        kept = {keep, *older[: max(0, self.config.runs_kept - 1)]}
        deleted = []
        for path, item in owned:
            meta = item.get("metadata") or {}
            if (meta.get("labels") or {}).get(LABEL_RUN) not in kept and await self.api.delete(
                f"{path}/{meta['name']}"
            ):
                deleted.append(f"{path}/{meta['name']}")
        if deleted:
            log.info("SemIngest %s/%s: removed %d object(s) of old runs", namespace, name, len(deleted))
        return deleted

    async def delete_all(self, namespace: str, name: str, uid: str = "") -> list[str]:
        """On SemIngest deletion: delete every object of every run of it (labelled as ours)."""
        deleted: list[str] = []
        for path, item in await self._owned(namespace, name):
            item_path = f"{path}/{item['metadata']['name']}"
            if await self.api.delete(item_path):
                deleted.append(item_path)
        self.metrics.set_phase(namespace, name, None)
        self.forget(uid)
        return deleted


def _recent(entry: tuple[str, float] | None, run: str) -> bool:
    return entry is not None and entry[0] == run and time.monotonic() - entry[1] < RECENT_START_SECONDS


def _progress_summary(status: Mapping[str, Any]) -> str:
    progress = status.get("progress") or {}
    keys = ("discovered", "processed", "skipped", "failed", "duplicates")
    parts = [f"{k} {progress[k]}" for k in keys if k in progress]
    return f": {', '.join(parts)}" if parts else ""
