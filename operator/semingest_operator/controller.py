"""Reconciliation of one SemIngest: an explicit state machine over ``status.phase``.

Each reconciliation reads the object afresh, builds one ``ReconcileContext`` (uid, meta, spec,
status, generation, now) and hands it to the handler of the current phase (``_transition``):

    (none) / Pending  -> start a run when one is due (spec generation not run yet, a new
                         semingest.io/run-now annotation value, schedule tick)
    Submitted/Running -> follow the active run on the Spark side until it ends
    Succeeded/Failed  -> start the next run when one is due
    Suspended         -> nothing while spec.suspend; on resume, start or wait for the next tick

A handler returns the status it leads to; the controller writes the difference as a merge
patch conditional on the resourceVersion it read (``KubeApi.patch_status``), so the API server
rejects a write computed from a stale object (409 Conflict: read again, decide again). All
state lives in the object: a restart or a second replica continues from the status. Run names
are deterministic (generation or schedule tick) and creation treats "already exists" as adoption.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from semingest_api.spec import API_VERSION, KIND, RUN_NOW_ANNOTATION, SemIngestSpec, SpecError
from semingest_api.status import Phase, SemIngestStatus, format_duration, parse_time
from semingest_operator import schedule
from semingest_operator import status as st
from semingest_operator.kube import ApiError, KubeApi, collection_path, object_path
from semingest_operator.logcontext import object_context
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

# Attempts of read -> decide -> conditional write when the object changes in between.
CONFLICT_ATTEMPTS = 3


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class OperatorConfig:
    default_image: str | None = None
    driver_service_account: str = DEFAULT_DRIVER_SERVICE_ACCOUNT
    poll_seconds: float = 10.0
    runs_kept: int = 3  # runs whose objects (pods, logs, SparkApplications) are kept (spec.runsHistoryLimit)
    retry_backoff_seconds: float = 2.0  # first back-off after a temporary API error (doubles, max 60 s)
    policy: InstallationPolicy = field(default_factory=InstallationPolicy)  # what SemIngest authors may ask


@dataclass(frozen=True)
class ReconcileContext:
    """One SemIngest as read for one reconciliation, with the moment it is decided at."""

    uid: str
    meta: Mapping[str, Any]
    spec: SemIngestSpec
    status: SemIngestStatus
    generation: int
    now: dt.datetime
    body: Mapping[str, Any]  # the object as read (rendering takes it whole)

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def run_now(self) -> str | None:
        """A run-now request not yet taken: the annotation's value when no run started from it."""
        return _run_now_request(self.meta, self.status)

    def observed(self) -> SemIngestStatus:
        """The status unchanged but for observedGeneration (nothing else to do)."""
        return dataclasses.replace(self.status, observed_generation=self.generation)


@dataclass(frozen=True)
class Outcome:
    """What one reconciliation did: the status before and after (``patch`` is what was written)."""

    before: SemIngestStatus
    after: SemIngestStatus

    @property
    def patch(self) -> dict[str, Any]:
        return self.after.to_patch(since=self.before)

    @property
    def started_run(self) -> bool:
        """A run was started (or an existing one adopted) and recorded as Submitted."""
        return self.after.phase == Phase.SUBMITTED and self.after.run_id not in (None, self.before.run_id)


NOTHING = Outcome(SemIngestStatus(), SemIngestStatus())


def semingest_path(namespace: str, name: str) -> str:
    return object_path(API_VERSION, KIND, namespace, name)


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
        # Per-process cache, keyed by the SemIngest's uid: one reconciliation at a time per object
        # in this process (kopf runs the timer and the change handlers concurrently). Correctness
        # does not rest on it: every status write is conditional on the resourceVersion read.
        self._locks: dict[str, asyncio.Lock] = {}

    # -- entry point ---------------------------------------------------------------------------
    async def reconcile(self, body: Mapping[str, Any]) -> Outcome:
        """Read the SemIngest afresh, move it on, write its status; what changed (or NOTHING)."""
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        lock = self._locks.setdefault(str(meta.get("uid") or ""), asyncio.Lock())
        with object_context(meta):
            async with lock:
                outcome = await self._reconcile(semingest_path(namespace, name))
        if outcome is not NOTHING:  # also after a restart, for objects with nothing to do
            self.metrics.count(namespace, name, outcome.before, outcome.after)
            period = _schedule_period(body.get("spec") or {}, self.clock())
            self.metrics.observe(namespace, name, outcome.after, period)
        return outcome

    def forget(self, uid: str) -> None:
        self._locks.pop(uid, None)

    async def _reconcile(self, path: str) -> Outcome:
        current = await self.api.get(path)
        for _ in range(CONFLICT_ATTEMPTS):
            if current is None:  # deleted meanwhile
                return NOTHING
            outcome = Outcome(SemIngestStatus.from_body(current), await self.decide(current))
            if not outcome.patch:
                return outcome
            written, current = await self._write(path, current, outcome.patch)
            if written:
                return outcome
            log.info("%s changed while it was reconciled: deciding again", path)
        raise ApiError(409, "Conflict", f"{path} kept changing during {CONFLICT_ATTEMPTS} reconciliations")

    async def _write(
        self, path: str, read: dict[str, Any], patch: Mapping[str, Any]
    ) -> tuple[bool, dict[str, Any] | None]:
        """Write the status patch conditionally on the version it was decided from: (True, read)
        when written, else (False, the object as it is now). A conflict with a change that the
        decision does not rest on (e.g. kopf's own annotations) writes it again to the new version."""
        for _ in range(CONFLICT_ATTEMPTS):
            version = (read.get("metadata") or {}).get("resourceVersion")
            try:
                await self.api.patch_status(path, patch, resource_version=version)
                return True, read
            except ApiError as exc:
                if exc.status != 409:
                    raise
            fresh = await self.api.get(path)
            if fresh is None or _decision_inputs(fresh) != _decision_inputs(read):
                return False, fresh
            read = fresh
        return False, read

    async def decide(self, body: Mapping[str, Any]) -> SemIngestStatus:
        """The status this object moves to (its side effects, such as creating a run, done)."""
        meta = body.get("metadata") or {}
        generation = int(meta.get("generation") or 1)
        status = SemIngestStatus.from_body(body)
        now = self.clock()
        try:
            spec = check_spec(body.get("spec") or {}, self.config.default_image, self.config.policy)
        except SpecError as exc:
            return self._invalid(meta, status, exc, generation, now)
        ctx = ReconcileContext(
            uid=str(meta.get("uid") or ""),
            meta=meta,
            spec=spec,
            status=status,
            generation=generation,
            now=now,
            body=body,
        )
        after = await self._transition(ctx)
        return dataclasses.replace(after, next_schedule_time=self._next_tick(ctx, after))

    def _next_tick(self, ctx: ReconcileContext, after: SemIngestStatus) -> dt.datetime | None:
        """When the next scheduled run is due (None without a schedule, or suspended)."""
        if not ctx.spec.schedule or ctx.spec.suspend:
            return None
        last = after.last_schedule_time or ctx.now
        return schedule.next_tick(ctx.spec.schedule, max(last, ctx.now), ctx.spec.time_zone)

    # -- one handler per phase -----------------------------------------------------------------
    async def _transition(self, ctx: ReconcileContext) -> SemIngestStatus:
        match ctx.status.phase:
            case None | Phase.PENDING:
                return await self._reconcile_pending(ctx)
            case Phase.SUBMITTED | Phase.RUNNING:
                return await self._reconcile_running(ctx)
            case Phase.SUCCEEDED | Phase.FAILED:
                return await self._reconcile_finished(ctx)
            case Phase.SUSPENDED:
                return await self._reconcile_suspended(ctx)
            case unreachable:
                assert_never(unreachable)

    async def _reconcile_pending(self, ctx: ReconcileContext) -> SemIngestStatus:
        """New, or waiting for a scheduled tick: start a run when one is due."""
        if ctx.status.run_active:  # a run without a phase (the phase was edited away): follow it
            return await self._follow(ctx)
        return await self._start_due(ctx)

    async def _reconcile_running(self, ctx: ReconcileContext) -> SemIngestStatus:
        """Submitted or Running: follow the run on the Spark side until it ends."""
        if not ctx.status.run_active:  # no run recorded (the status was edited): start afresh
            return await self._start_due(ctx)
        return await self._follow(ctx)

    async def _reconcile_finished(self, ctx: ReconcileContext) -> SemIngestStatus:
        """Succeeded or Failed: start the next run when one is due (spec changed, schedule tick).
        A spec that turned invalid during a run fails the SemIngest, but the run goes on."""
        if ctx.status.run_active:
            return await self._follow(ctx)
        return await self._start_due(ctx)

    async def _reconcile_suspended(self, ctx: ReconcileContext) -> SemIngestStatus:
        """Suspended: no new runs while spec.suspend; resumed, start a due run or wait for a tick.
        A run the spark-operator suspended is still followed."""
        if ctx.status.run_active:
            return await self._follow(ctx)
        if ctx.spec.suspend:
            return ctx.status if ctx.status.observed_generation == ctx.generation else self._suspend(ctx)
        due = self._due_run(ctx)
        if due is None:  # resumed, nothing due yet (a schedule waits)
            return self._to_phase(ctx, Phase.PENDING, "Waiting", "waiting for the next scheduled tick")
        return await self._start(ctx, *due)

    # -- transitions ---------------------------------------------------------------------------
    def _to_phase(self, ctx: ReconcileContext, phase: Phase, reason: str, message: str) -> SemIngestStatus:
        return _with_phase(ctx.status, phase, reason, message, ctx.generation, ctx.now)

    def _suspend(self, ctx: ReconcileContext) -> SemIngestStatus:
        return self._to_phase(ctx, Phase.SUSPENDED, "Suspended", "suspend is true: no new runs")

    def _invalid(
        self,
        meta: Mapping[str, Any],
        status: SemIngestStatus,
        exc: SpecError,
        generation: int,
        now: dt.datetime,
    ) -> SemIngestStatus:
        message = f"invalid spec: {exc}"
        if status.message == message and status.observed_generation == generation:
            return status
        self.metrics.render_errors.labels(exc.field).inc()
        log.warning("SemIngest %s/%s: %s", meta.get("namespace"), meta.get("name"), message)
        return _with_phase(status, Phase.FAILED, "InvalidSpec", message, generation, now)

    async def _start_due(self, ctx: ReconcileContext) -> SemIngestStatus:
        if ctx.spec.suspend:
            return self._suspend(ctx)
        due = self._due_run(ctx)
        if due is None:
            return ctx.observed()
        return await self._start(ctx, *due)

    def _due_run(self, ctx: ReconcileContext) -> tuple[str, dt.datetime | None] | None:
        """(run name, schedule tick or None) of the run due now, or None."""
        if ctx.status.run_generation != ctx.generation:
            return run_name(ctx.name, generation=ctx.generation), None
        if ctx.run_now is not None:
            return run_name(ctx.name, request=ctx.run_now), None
        if ctx.spec.schedule:
            last = (
                ctx.status.last_schedule_time
                or ctx.status.start_time
                or parse_time(ctx.meta.get("creationTimestamp"))
                or ctx.now
            )
            tick = schedule.due_tick(ctx.spec.schedule, last, ctx.now, ctx.spec.time_zone)
            if tick is not None:
                return run_name(ctx.name, tick=tick), tick
        return None

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

    async def _start(self, ctx: ReconcileContext, run: str, tick: dt.datetime | None) -> SemIngestStatus:
        nodes = await self._nodes() if ctx.spec.executors.strategy == "auto" else None
        try:
            rendered = render_run(
                ctx.body,
                default_image=self.config.default_image,
                driver_service_account=self.config.driver_service_account,
                nodes=nodes,
                run=run,
                policy=self.config.policy,
            )
        except SpecError as exc:
            return self._invalid(ctx.meta, ctx.status, exc, ctx.generation, ctx.now)
        started = ctx.now
        for manifest in rendered.manifests:
            try:
                obj, created = await self.api.create(manifest)
            except ApiError as exc:
                if exc.temporary:
                    raise
                return self._create_failed(ctx, run, manifest, exc)
            if created:
                log.info("run %s: created %s %s", run, manifest["kind"], manifest["metadata"]["name"])
            else:  # an earlier attempt (or operator instance) created it: adopt it
                log.info(
                    "run %s: %s %s already exists, adopting it",
                    run,
                    manifest["kind"],
                    manifest["metadata"]["name"],
                )
                created_at = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
                started = min(started, created_at) if created_at else started
        message = f"run {run} submitted ({rendered.sizing.reason})"
        return dataclasses.replace(
            self._to_phase(ctx, Phase.SUBMITTED, "Submitted", message),
            run_id=run,
            run_generation=ctx.generation,
            spark_application=rendered.spark_application,
            driver_pod=rendered.driver_pod,
            start_time=started,
            completion_time=None,
            progress=None,
            stage_seconds=None,
            sizing=rendered.sizing.as_status(),
            last_schedule_time=tick if tick is not None else ctx.status.last_schedule_time,
            # any run started takes a pending run-now request: it asked for one run, now
            last_run_now=ctx.run_now or ctx.status.last_run_now,
        )

    def _create_failed(
        self, ctx: ReconcileContext, run: str, manifest: Mapping[str, Any], exc: ApiError
    ) -> SemIngestStatus:
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
        return dataclasses.replace(
            self._to_phase(ctx, Phase.FAILED, reason, message),
            run_id=run,
            run_generation=ctx.generation,
            completion_time=ctx.now,
        )

    # -- following the active run --------------------------------------------------------------
    async def _observe(self, ctx: ReconcileContext) -> st.Observation:
        """What the Spark side says about the active run."""
        run = ctx.status.run_id
        pod_name = ctx.status.driver_pod or f"{run}-driver"
        pod = await self.api.get(object_path("v1", "Pod", ctx.namespace, pod_name))
        app_name = ctx.status.spark_application
        if app_name:
            app_path = object_path(SPARK_OPERATOR_API_VERSION, "SparkApplication", ctx.namespace, app_name)
            obs = st.observe_spark_application(await self.api.get(app_path), pod)
        else:
            obs = st.observe_driver_pod(pod)
        obs = st.apply_start_timeout(
            obs,
            started_at=ctx.status.start_time or ctx.now,
            now=ctx.now,
            timeout_seconds=ctx.spec.driver.start_timeout_seconds,
            driver_pod=pod,
            backend=ctx.status.backend,
        )
        return obs

    async def _follow(self, ctx: ReconcileContext) -> SemIngestStatus:
        status, run = ctx.status, ctx.status.run_id
        obs = await self._observe(ctx)
        if not obs.phase.terminal and _rank(status.phase) > _rank(obs.phase):
            # e.g. the driver already reported Running while the SparkApplication still says SUBMITTED
            return ctx.observed()
        message = f"run {run}: {obs.message}"
        if obs.phase == Phase.SUCCEEDED:
            message = f"run {run} completed{_progress_summary(status)}"
        if obs.phase == status.phase and status.message == message and not obs.phase.terminal:
            return ctx.observed()
        after = self._to_phase(ctx, obs.phase, obs.reason, message)
        if obs.phase.terminal:
            await self._clean_up(ctx, given_up=obs.phase == Phase.FAILED and not obs.driver_started)
            started = status.start_time or ctx.now
            after = dataclasses.replace(
                after,
                completion_time=ctx.now,
                duration=format_duration((ctx.now - started).total_seconds()),
                last_successful_time=ctx.now if obs.phase == Phase.SUCCEEDED else status.last_successful_time,
            )
        return after

    async def _clean_up(self, ctx: ReconcileContext, *, given_up: bool) -> None:
        """A run ended: delete it when it was given up before its driver started (so it never
        starts later behind the operator's back); remove the objects of older runs."""
        if given_up:
            await self.delete_run(ctx.namespace, ctx.status)
        try:
            await self.prune_runs(
                ctx.namespace,
                ctx.name,
                keep=str(ctx.status.run_id),
                runs_kept=ctx.spec.runs_history_limit or self.config.runs_kept,
            )
        except ApiError as exc:  # housekeeping only: never in the way of recording the result
            log.warning("SemIngest %s/%s: cannot remove old runs: %s", ctx.namespace, ctx.name, exc)

    async def delete_run(self, namespace: str | None, status: SemIngestStatus) -> list[str]:
        """Delete one run's objects (what its owner's deletion would do); returns what was deleted."""
        run = status.run_id
        deleted = []
        paths = []
        if status.spark_application:
            paths.append(
                object_path(
                    SPARK_OPERATOR_API_VERSION, "SparkApplication", namespace, status.spark_application
                )
            )
        else:
            paths += [
                object_path("v1", "Pod", namespace, status.driver_pod or f"{run}-driver"),
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

    async def prune_runs(
        self, namespace: str, name: str, keep: str, runs_kept: int | None = None
    ) -> list[str]:
        """Delete the objects of finished runs beyond the newest ``runs_kept`` (spec.runsHistoryLimit,
        else the operator's default): schedules add up."""
        owned = await self._owned(namespace, name)
        kept = runs_to_keep([item for _, item in owned], keep, runs_kept or self.config.runs_kept)
        deleted = []
        for path, item in owned:
            if _run_of(item) not in kept and await self.api.delete(f"{path}/{item['metadata']['name']}"):
                deleted.append(f"{path}/{item['metadata']['name']}")
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
        self.metrics.forget(namespace, name)
        self.forget(uid)
        return deleted


def _run_of(item: Mapping[str, Any]) -> str | None:
    """The run an object belongs to (its run label)."""
    return ((item.get("metadata") or {}).get("labels") or {}).get(LABEL_RUN)


def runs_to_keep(items: Sequence[Mapping[str, Any]], keep: str, runs_kept: int) -> set[str]:
    """``keep`` and the newest other runs (by their newest object), ``runs_kept`` in all."""
    newest: dict[str, str] = {}
    for item in items:
        run = _run_of(item)
        if run:
            created = (item.get("metadata") or {}).get("creationTimestamp") or ""
            newest[run] = max(newest.get(run, ""), created)
    older = sorted((r for r in newest if r != keep), key=lambda r: (newest[r], r), reverse=True)
    return {keep, *older[: max(0, runs_kept - 1)]}


def _decision_inputs(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a reconciliation decides from (the rest of the object does not matter to it)."""
    meta = body.get("metadata") or {}
    return body.get("spec"), body.get("status"), meta.get("generation"), _run_now_value(meta)


def _schedule_period(spec: Mapping[str, Any], now: dt.datetime) -> dt.timedelta | None:
    """The period of the spec's schedule (None without one, or when it is not valid)."""
    expr = spec.get("schedule")
    if not expr or spec.get("suspend"):
        return None
    try:
        return schedule.period(str(expr), now, spec.get("timeZone"))
    except ValueError:
        return None


def _run_now_value(meta: Mapping[str, Any]) -> str | None:
    value = (meta.get("annotations") or {}).get(RUN_NOW_ANNOTATION)
    if value is None:
        return None
    return str(value).strip() or None


def run_now_startable(body: Mapping[str, Any]) -> bool:
    """A run-now request waits and no run is active (so a reconciliation would start it)."""
    try:
        status = SemIngestStatus.from_body(body)
    except ValueError:
        return False
    return _run_now_request(body.get("metadata") or {}, status) is not None and not status.run_active


def _run_now_request(meta: Mapping[str, Any], status: SemIngestStatus) -> str | None:
    """The run-now annotation's value when no run has been started for it yet (a value is taken
    once: setting the same value again does nothing; a new value asks for a new run)."""
    value = _run_now_value(meta)
    return value if value is not None and value != status.last_run_now else None


def _rank(phase: Phase | None) -> int:
    """How far a phase is along a run: a Spark side lagging behind the status never moves it back."""
    match phase:
        case None:
            return -1
        case Phase.PENDING:
            return 0
        case Phase.SUBMITTED:
            return 1
        case Phase.RUNNING | Phase.SUSPENDED:
            return 2
        case Phase.SUCCEEDED | Phase.FAILED:
            return 3
        case unreachable:
            assert_never(unreachable)


def _with_phase(
    status: SemIngestStatus, phase: Phase, reason: str, message: str, generation: int, now: dt.datetime
) -> SemIngestStatus:
    """The status in ``phase``, with its message and conditions (transition times kept)."""
    return dataclasses.replace(
        status,
        phase=phase,
        message=message,
        observed_generation=generation,
        conditions=tuple(
            st.conditions(phase, reason, message, generation=generation, now=now, previous=status.conditions)
        ),
    )


def _progress_summary(status: SemIngestStatus) -> str:
    counts = status.progress.counts() if status.progress else {}
    parts = [f"{k} {v}" for k, v in counts.items()]
    return f": {', '.join(parts)}" if parts else ""
