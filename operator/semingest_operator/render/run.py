"""One run of a SemIngest: spec checks, sizing and the backend's manifests together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from semingest_api.spec import SemIngestSpec, SpecError, parse_spec
from semingest_operator import schedule
from semingest_operator.policy import InstallationPolicy
from semingest_operator.render import native, spark_application
from semingest_operator.render.common import RunContext, run_name, user_spark_conf
from semingest_operator.sizing import NodeResources, Sizing, size

DEFAULT_DRIVER_SERVICE_ACCOUNT = "semingest-driver"
# `semingest render` on a file that never went through the API server has no uid yet.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class RenderedRun:
    run: str
    backend: str
    sizing: Sizing
    manifests: list[dict[str, Any]]
    spark_application: str | None  # its name (sparkOperator backend)
    driver_pod: str  # the driver pod's name (both backends)


def check_spec(
    spec_raw: Mapping[str, Any], default_image: str | None, policy: InstallationPolicy | None = None
) -> SemIngestSpec:
    """parse_spec plus what the schema cannot say: a usable image, sparkConf keys, the cron, and
    what this installation allows (``policy``; the strict default when None)."""
    spec = parse_spec(spec_raw)
    if not (spec.image or default_image):
        raise SpecError(
            "spec.image", "is required: the operator has no default worker image (SEMINGEST_DEFAULT_IMAGE)"
        )
    user_spark_conf(spec)
    if spec.model is not None and bool(spec.model.pvc) == bool(spec.model.host_path):
        raise SpecError(
            "spec.model", "exactly one of pvc / hostPath must be set (the volume holding the model)"
        )
    if spec.schedule is not None:
        try:
            schedule.parse_cron(spec.schedule)
        except ValueError as exc:
            raise SpecError("spec.schedule", str(exc)) from exc
    if spec.time_zone is not None:
        try:
            schedule.zone(spec.time_zone)
        except ValueError as exc:
            raise SpecError("spec.timeZone", str(exc)) from exc
    (policy or InstallationPolicy()).check(spec)
    return spec


def run_context(
    body: Mapping[str, Any],
    spec: SemIngestSpec,
    run: str,
    default_image: str | None,
    driver_service_account: str,
) -> RunContext:
    meta = body.get("metadata") or {}
    return RunContext(
        namespace=meta.get("namespace") or "default",
        name=meta["name"],
        uid=meta.get("uid") or PLACEHOLDER_UID,
        generation=int(meta.get("generation") or 1),
        run=run,
        image=spec.image or default_image or "",
        driver_service_account=driver_service_account,
    )


def render_run(
    body: Mapping[str, Any],
    *,
    default_image: str | None = None,
    driver_service_account: str = DEFAULT_DRIVER_SERVICE_ACCOUNT,
    nodes: Sequence[NodeResources] | None = None,
    run: str | None = None,
    policy: InstallationPolicy | None = None,
) -> RenderedRun:
    """The manifests for one run of the SemIngest ``body`` (a whole object: metadata and spec).

    ``run`` defaults to the generation's run name. Raises SpecError naming the field.
    """
    meta = body.get("metadata") or {}
    if not meta.get("name"):
        raise SpecError("metadata.name", "is required")
    spec = check_spec(body.get("spec") or {}, default_image, policy)
    run = run or run_name(meta["name"], generation=int(meta.get("generation") or 1))
    ctx = run_context(body, spec, run, default_image, driver_service_account)
    sizing = size(spec, nodes)
    if spec.backend == "sparkOperator":
        app = spark_application.render_spark_application(spec, ctx, sizing)
        return RenderedRun(run, spec.backend, sizing, [app], run, spark_application.driver_pod_name(ctx))
    manifests = native.render_native(spec, ctx, sizing)
    return RenderedRun(run, spec.backend, sizing, manifests, None, native.driver_pod_name(ctx))
