"""kopf handlers: thin wrappers that hand a SemIngest to the Controller (which writes its status)
and post an event when the phase or the run changes.

``build_registry()`` returns a registry holding every handler, so the operator (``__main__``)
and the tests run exactly the same handlers, each with their own configuration and API server.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from semingest_api.spec import GROUP, PLURAL, VERSION
from semingest_api.status import Phase
from semingest_operator.controller import Controller, OperatorConfig, Outcome, run_now_startable
from semingest_operator.kube import ApiError, KubeApi
from semingest_operator.metrics import Metrics

RESOURCE = (GROUP, VERSION, PLURAL)
FINALIZER = f"{GROUP}/finalizer"
BACKOFF_MAX = 60.0


def backoff(retry: int, base: float = 2.0) -> float:
    """Exponential back-off with jitter for temporary API errors."""
    return min(BACKOFF_MAX, base * 2**retry) * (0.75 + random.random() / 2)  # noqa: S311


class _Connection:
    """The API connection, set at login (kopf calls the login handler before anything else)."""

    def __init__(self, fixed: kopf.ConnectionInfo | None):
        self.fixed = fixed
        self.controller: Controller | None = None


def build_registry(
    config: OperatorConfig,
    metrics: Metrics,
    *,
    connection: kopf.ConnectionInfo | None = None,
    registry: kopf.OperatorRegistry | None = None,
) -> kopf.OperatorRegistry:
    """Register the operator's handlers. ``connection``: a fixed API server (tests), else the
    in-cluster service account, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    registry = registry if registry is not None else kopf.OperatorRegistry()
    conn = _Connection(connection)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # The status schema is structural: kopf keeps its progress in annotations, not status.kopf.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.INFO
        settings.execution.max_workers = 8
        # A SemIngest deleted while its poll timer is mid-request keeps kopf's finalizer until the
        # timer has exited; kopf re-checks after this many seconds (its default, 60, made a
        # `kubectl delete` hang for a minute against a real API server).
        settings.background.cancellation_polling = 2.0

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        api: KubeApi | None
        if conn.fixed is not None:
            info = conn.fixed
            api = KubeApi.from_connection(info)
        else:
            api = KubeApi.in_cluster()
            info = None
            if api is not None:
                info = kopf.login_with_service_account(**kwargs)
            else:
                info = kopf.login_with_kubeconfig(**kwargs)
                if info is not None:
                    api = KubeApi.from_connection(info)
        if api is not None:
            conn.controller = Controller(api, config, metrics)
        return info

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        if conn.controller is not None:
            await conn.controller.api.close()

    async def guarded(trigger: str, retry: int, fn: Callable[[Controller], Awaitable[Any]]) -> Any:
        if conn.controller is None:
            raise kopf.TemporaryError(
                "not logged in to the API server yet", delay=backoff(retry, config.retry_backoff_seconds)
            )
        try:
            result = await fn(conn.controller)
        except ApiError as exc:
            metrics.reconciles.labels(trigger, "retry" if exc.temporary else "error").inc()
            if exc.temporary:
                raise kopf.TemporaryError(
                    f"temporary API error: {exc}", delay=backoff(retry, config.retry_backoff_seconds)
                ) from exc
            raise kopf.PermanentError(f"API error: {exc}") from exc
        metrics.reconciles.labels(trigger, "ok").inc()
        return result

    async def reconcile(trigger: str, body: kopf.Body, retry: int) -> None:
        outcome: Outcome = await guarded(trigger, retry, lambda c: c.reconcile(body))
        _post_events(body, outcome)

    @kopf.on.resume(*RESOURCE, registry=registry)
    async def resumed(body: kopf.Body, retry: int, **_: Any) -> None:
        await reconcile("resume", body, retry)

    @kopf.on.create(*RESOURCE, registry=registry)
    async def created(body: kopf.Body, retry: int, **_: Any) -> None:
        await reconcile("create", body, retry)

    @kopf.on.update(*RESOURCE, field="spec", registry=registry)
    async def updated(body: kopf.Body, retry: int, **_: Any) -> None:
        await reconcile("update", body, retry)

    # A new semingest.io/run-now value starts a run at once (the timer would take it, later). An
    # event handler, not a field handler: kopf's change detection ignores the annotations under
    # its own storage prefix (semingest.io/), this one included. The filter is cheap and passes
    # only while a request waits and no run is active (the event of the run's end takes it).
    @kopf.on.event(*RESOURCE, registry=registry, when=lambda body, **_: run_now_startable(body))
    async def run_now(body: kopf.Body, **_: Any) -> None:
        await reconcile("run-now", body, 0)

    # initial_delay: a new object's change handlers (and kopf's finalizer patch) go first.
    @kopf.timer(*RESOURCE, interval=config.poll_seconds, initial_delay=config.poll_seconds, registry=registry)
    async def poll(body: kopf.Body, retry: int = 0, **_: Any) -> None:
        """Follow the Spark side (SparkApplication state, driver pod) and start scheduled runs."""
        await reconcile("timer", body, retry)

    @kopf.on.delete(*RESOURCE, registry=registry)
    async def deleted(
        namespace: str | None,
        name: str,
        uid: str,
        retry: int,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        """Delete the runs now (their ownerReferences would, too, once the garbage collector runs)."""
        gone = await guarded("delete", retry, lambda c: c.delete_all(namespace or "", name, uid))
        logger.info("deleted %d object(s) of SemIngest %s/%s", len(gone), namespace, name)

    return registry


def _post_events(body: kopf.Body, outcome: Outcome) -> None:
    """A Kubernetes event when a run starts or the phase changes (kubectl describe shows them)."""
    before, after = outcome.before, outcome.after
    if after.phase is None or (after.phase == before.phase and after.run_id == before.run_id):
        return
    message = after.message or ""
    if after.phase == Phase.FAILED:
        kopf.warn(body, reason=after.phase.value, message=message)
    else:
        kopf.info(body, reason=after.phase.value, message=message)
