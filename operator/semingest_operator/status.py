"""Pure status mapping: the Spark side (SparkApplication state or driver pod) -> SemIngest phase,
message and Kubernetes-convention conditions (so ``kubectl wait --for=condition=Succeeded`` works).

A driver that does not start within ``startTimeoutSeconds`` ends the run Failed with the pod's
own reason (ImagePullBackOff, Unschedulable with an unbound PVC, ...) instead of hanging.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from semingest_api.status import Phase, format_time

PENDING, SUBMITTED, RUNNING = Phase.PENDING, Phase.SUBMITTED, Phase.RUNNING
SUCCEEDED, FAILED, SUSPENDED = Phase.SUCCEEDED, Phase.FAILED, Phase.SUSPENDED
# The conditions, in their order in status.conditions (kubectl wait --for=condition=Succeeded).
CONDITION_TYPES = (SUBMITTED, RUNNING, SUCCEEDED, FAILED)

# kubeflow spark-operator application states (status.applicationState.state).
_SPARK_STATES: dict[str, Phase] = {
    "": SUBMITTED,
    "NEW": SUBMITTED,
    "SUBMITTED": SUBMITTED,
    "PENDING_RERUN": SUBMITTED,
    "INVALIDATING": SUBMITTED,
    "RESUMING": SUBMITTED,
    "UNKNOWN": SUBMITTED,
    "RUNNING": RUNNING,
    "SUCCEEDING": RUNNING,
    "FAILING": RUNNING,  # the spark-operator may still retry (restartPolicy OnFailure)
    "COMPLETED": SUCCEEDED,
    "FAILED": FAILED,
    "SUBMISSION_FAILED": FAILED,
    "SUSPENDING": SUSPENDED,
    "SUSPENDED": SUSPENDED,
}
# Waiting reasons of a container that is not going to start by itself soon.
_STUCK_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "CrashLoopBackOff",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class Observation:
    """What the Spark side says about a run."""

    phase: Phase
    reason: str
    message: str
    driver_started: bool


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def pod_problem(pod: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """Why a pending pod is not starting: (reason, message), or None when nothing is known."""
    if pod is None:
        return None
    for cs in _container_statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _STUCK_WAITING:
            return waiting["reason"], waiting.get(
                "message"
            ) or f"container {cs.get('name')}: {waiting['reason']}"
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return cond.get("reason") or "Unschedulable", cond.get("message") or "the pod cannot be scheduled"
    for cs in _container_statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting.get("reason") != "ContainerCreating":
            return waiting["reason"], waiting.get("message") or waiting["reason"]
    return None


def _terminated_message(pod: Mapping[str, Any]) -> tuple[str, str]:
    for cs in _container_statuses(pod):
        term = (cs.get("state") or {}).get("terminated") or {}
        if term and term.get("exitCode", 0) != 0:
            reason = term.get("reason") or "Error"
            msg = term.get("message") or ""
            text = f"container {cs.get('name')} exited with code {term.get('exitCode')} ({reason})"
            return reason, f"{text}: {msg.strip()}" if msg.strip() else text
    status = pod.get("status") or {}
    return status.get("reason") or "DriverFailed", status.get("message") or "the driver pod failed"


def observe_driver_pod(pod: Mapping[str, Any] | None) -> Observation:
    """The native backend: the driver pod's phase is the run's phase."""
    if pod is None:
        return Observation(FAILED, "DriverPodGone", "the driver pod no longer exists", False)
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase == "Running":
        return Observation(RUNNING, "DriverRunning", "the driver is running", True)
    if phase == "Succeeded":
        return Observation(SUCCEEDED, "Completed", "the ingest completed", True)
    if phase == "Failed":
        reason, message = _terminated_message(pod)
        return Observation(FAILED, reason, message, True)
    if phase == "Unknown":
        return Observation(RUNNING, "DriverUnknown", "the driver pod's node is not reporting", True)
    problem = pod_problem(pod)
    if problem:
        return Observation(
            SUBMITTED, problem[0], f"the driver is not starting ({problem[0]}): {problem[1]}", False
        )
    return Observation(SUBMITTED, "DriverPending", "waiting for the driver pod to start", False)


def observe_spark_application(
    app: Mapping[str, Any] | None, driver_pod: Mapping[str, Any] | None
) -> Observation:
    """The sparkOperator backend: status.applicationState.state (+ the driver pod when pending)."""
    if app is None:
        return Observation(FAILED, "SparkApplicationGone", "the SparkApplication no longer exists", False)
    state_block = (app.get("status") or {}).get("applicationState") or {}
    state = str(state_block.get("state") or "").upper()
    error = (state_block.get("errorMessage") or "").strip()
    phase = _SPARK_STATES.get(state, SUBMITTED)
    label = state or "not yet submitted"
    if phase == FAILED:
        return Observation(
            FAILED, f"Spark{state.title().replace('_', '')}", error or f"SparkApplication {label}", True
        )
    if phase == SUCCEEDED:
        return Observation(SUCCEEDED, "Completed", "the ingest completed", True)
    if phase == RUNNING:
        return Observation(RUNNING, "DriverRunning", f"SparkApplication {label}", True)
    if phase == SUSPENDED:
        return Observation(SUSPENDED, "SparkSuspended", f"SparkApplication {label}", False)
    problem = pod_problem(driver_pod)
    if problem:
        return Observation(
            SUBMITTED, problem[0], f"the driver is not starting ({problem[0]}): {problem[1]}", False
        )
    return Observation(SUBMITTED, "Submitted", f"SparkApplication {label}", False)


def apply_start_timeout(
    obs: Observation,
    *,
    started_at: dt.datetime,
    now: dt.datetime,
    timeout_seconds: int,
    driver_pod: Mapping[str, Any] | None,
    backend: str,
) -> Observation:
    """A run whose driver has not started after ``timeout_seconds`` fails with the pod's reason."""
    if obs.driver_started or obs.phase != SUBMITTED:
        return obs
    if (now - started_at).total_seconds() < timeout_seconds:
        return obs
    problem = pod_problem(driver_pod)
    waited = f"the driver did not start within {timeout_seconds}s"
    if problem:
        return Observation(FAILED, problem[0], f"{waited} ({problem[0]}): {problem[1]}", False)
    if driver_pod is None:
        hint = (
            "no driver pod was created: is the kubeflow spark-operator installed and watching this namespace?"
            if backend == "sparkOperator"
            else "no driver pod exists"
        )
        return Observation(FAILED, "DriverStartTimeout", f"{waited}: {hint}", False)
    return Observation(FAILED, "DriverStartTimeout", f"{waited}: {obs.message}", False)


def _condition(
    ctype: Phase,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    now: str,
    previous: Mapping[str, Any],
) -> dict[str, Any]:
    value = "True" if status else "False"
    prev = previous.get(ctype) or {}
    changed = prev.get("status") != value
    return {
        "type": ctype.value,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now
        if changed or not prev.get("lastTransitionTime")
        else prev["lastTransitionTime"],
        "observedGeneration": generation,
    }


def conditions(
    phase: Phase,
    reason: str,
    message: str,
    *,
    generation: int,
    now: dt.datetime,
    previous: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Conditions Submitted, Running, Succeeded, Failed for a phase (lastTransitionTime kept when
    a condition's status does not change). Suspended keeps the last run's Succeeded/Failed."""
    stamp = format_time(now)
    prev: dict[str, Mapping[str, Any]] = {str(c.get("type")): c for c in previous}
    # (Submitted, Running, Succeeded, Failed) of each phase
    match phase:
        case Phase.PENDING:
            truth = (False, False, False, False)
        case Phase.SUBMITTED:
            truth = (True, False, False, False)
        case Phase.RUNNING:
            truth = (True, True, False, False)
        case Phase.SUCCEEDED:
            truth = (True, False, True, False)
        case Phase.FAILED:
            truth = (reason != "InvalidSpec", False, False, True)
        case Phase.SUSPENDED:
            return _suspended_conditions(message, generation, stamp, prev)
        case unreachable:
            assert_never(unreachable)
    return [
        _condition(ctype, value, reason, message, generation, stamp, prev)
        for ctype, value in zip(CONDITION_TYPES, truth, strict=True)
    ]


def _suspended_conditions(
    message: str, generation: int, stamp: str, prev: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """All False, but the last run's Succeeded/Failed stays (kubectl wait still sees it)."""
    out = []
    for ctype in CONDITION_TYPES:
        if ctype in (SUCCEEDED, FAILED) and (prev.get(ctype) or {}).get("status") == "True":
            out.append(dict(prev[ctype]))
        else:
            out.append(_condition(ctype, False, SUSPENDED.value, message, generation, stamp, prev))
    return out
