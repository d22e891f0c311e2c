"""What both backends share: run names, labels, owner references, volumes, security contexts."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from semingest_api.spec import (
    API_VERSION,
    DATABASE_URL_ENV,
    EVENT_LOG_MOUNT,
    GROUP,
    KIND,
    MODEL_MOUNT,
    SOURCE_MOUNT,
    SemIngestSpec,
    SpecError,
)

# The Spark version the worker image ships (informational for the spark-operator).
SPARK_VERSION = "4.3.0"
# The uid/gid the worker image runs as (Spark's images use 185).
WORKER_UID = 185
# Spark's default container names: pod templates must use them so Spark merges into them.
DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"
TMP_MOUNT = "/tmp"
# The worker image's working directory (images/worker/Dockerfile): writable on a read-only root.
WORK_MOUNT = "/opt/semingest/work"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_INGEST = f"{GROUP}/ingest"
LABEL_RUN = f"{GROUP}/run"
NODE_TOPOLOGY_KEY = "kubernetes.io/hostname"
ANNOTATION_GENERATION = f"{GROUP}/generation"
MANAGED_BY = "semingest-operator"

# The longest run name: leaves room for "-driver-svc" and Spark's "-exec-NNNN" executor pod suffix.
RUN_NAME_MAX = 40
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")

# sparkConf keys the operator owns: a user value would break the run's wiring.
RESERVED_SPARK_CONF = frozenset(
    {
        "spark.master",
        "spark.submit.deployMode",
        "spark.app.name",
        "spark.kubernetes.namespace",
        "spark.kubernetes.container.image",
        "spark.kubernetes.driver.pod.name",
        "spark.kubernetes.executor.podNamePrefix",
        "spark.kubernetes.executor.podTemplateFile",
        "spark.kubernetes.driver.podTemplateFile",
        "spark.kubernetes.authenticate.driver.serviceAccountName",
        "spark.driver.host",
        "spark.driver.port",
        "spark.driver.bindAddress",
        "spark.driver.blockManager.port",
        "spark.authenticate",
    }
)


@dataclass(frozen=True)
class RunContext:
    """Who a run belongs to and what the operator adds to the spec."""

    namespace: str
    name: str  # the SemIngest's name
    uid: str
    generation: int
    run: str  # the run name (run_name())
    image: str
    driver_service_account: str

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.name}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def _dns_label(text: str) -> str:
    label = _DNS_LABEL.sub("-", text.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"s-{label}".rstrip("-")
    return label


def run_name(
    ingest: str, generation: int | None = None, tick: dt.datetime | None = None, request: str | None = None
) -> str:
    """The deterministic run name: ``<ingest>-g<generation>``, ``<ingest>-<YYYYmmddHHMM>`` for a
    tick, or ``<ingest>-n<hash>`` for a run-now request (the annotation's value).

    Deterministic so that an operator restart finds the run it already created instead of
    creating a second one. A DNS-1035 label of at most RUN_NAME_MAX characters.
    """
    given = [x for x in (generation, tick, request) if x is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of generation, tick and request")
    if generation is not None:
        suffix = f"-g{generation}"
    elif tick is not None:
        suffix = f"-{tick.astimezone(dt.UTC):%Y%m%d%H%M}"
    else:
        suffix = f"-n{_short_hash(str(request))}"
    base = _dns_label(ingest)
    if len(base) + len(suffix) > RUN_NAME_MAX or base != ingest:
        keep = RUN_NAME_MAX - len(suffix) - 7
        base = f"{base[:keep].rstrip('-')}-{_short_hash(ingest)}"
    return f"{base}{suffix}"


def label_value(text: str) -> str:
    """A label value (<= 63 characters, alphanumeric at both ends) standing for ``text``."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-_.")
    if len(value) > 63 or value != text:
        value = f"{value[:56].strip('-_.')}-{_short_hash(text)}"
    return value


def ingest_labels(name: str) -> dict[str, str]:
    return {
        LABEL_NAME: "semingest",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_INSTANCE: label_value(name),
        LABEL_INGEST: label_value(name),
    }


def run_labels(ctx: RunContext, component: str) -> dict[str, str]:
    return {**ingest_labels(ctx.name), LABEL_RUN: ctx.run, LABEL_COMPONENT: component}


def owner_reference(ctx: RunContext) -> dict[str, Any]:
    """The SemIngest as controlling owner: deleting it deletes the run (Kubernetes GC)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": ctx.name,
        "uid": ctx.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(ctx: RunContext, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": run_labels(ctx, component),
        "annotations": {ANNOTATION_GENERATION: str(ctx.generation)},
        "ownerReferences": [owner_reference(ctx)],
    }


def volumes(spec: SemIngestSpec, component: str = "executor") -> list[dict[str, Any]]:
    """The source (and model) volumes, read-only, plus a scratch /tmp; the driver also gets the
    event log volume (spec.eventLog: only the driver writes event logs)."""
    out: list[dict[str, Any]] = []
    src = spec.source
    if src.pvc:
        out.append({"name": "source", "persistentVolumeClaim": {"claimName": src.pvc, "readOnly": True}})
    else:
        out.append({"name": "source", "hostPath": {"path": src.host_path, "type": "Directory"}})
    model = spec.model
    if model is not None and model.pvc:
        out.append({"name": "model", "persistentVolumeClaim": {"claimName": model.pvc, "readOnly": True}})
    elif model is not None and model.host_path:
        out.append({"name": "model", "hostPath": {"path": model.host_path, "type": "Directory"}})
    out.append({"name": "tmp", "emptyDir": {}})
    out.append({"name": "work", "emptyDir": {}})
    if spec.event_log is not None and component == "driver":
        out.append({"name": "eventlog", "persistentVolumeClaim": {"claimName": spec.event_log.pvc}})
    return out


def volume_mounts(spec: SemIngestSpec, component: str = "executor") -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [{"name": "source", "mountPath": SOURCE_MOUNT, "readOnly": True}]
    if spec.model is not None and (spec.model.pvc or spec.model.host_path):
        mounts.append({"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True})
    mounts.append({"name": "tmp", "mountPath": TMP_MOUNT})
    mounts.append({"name": "work", "mountPath": WORK_MOUNT})
    if spec.event_log is not None and component == "driver":
        mount: dict[str, Any] = {"name": "eventlog", "mountPath": EVENT_LOG_MOUNT}
        sub_path = spec.event_log.path.strip("/")
        if sub_path:
            mount["subPath"] = sub_path
        mounts.append(mount)
    return mounts


def event_log_conf(spec: SemIngestSpec) -> dict[str, str]:
    """Spark's event log settings for spec.eventLog (none without it)."""
    if spec.event_log is None:
        return {}
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": f"file://{EVENT_LOG_MOUNT}"}


def env(spec: SemIngestSpec) -> list[dict[str, Any]]:
    """The database URL from the Secret, and HOME on the writable scratch volume."""
    return [
        {
            "name": DATABASE_URL_ENV,
            "valueFrom": {
                "secretKeyRef": {"name": spec.database.secret_name, "key": spec.database.secret_key}
            },
        },
        {"name": "HOME", "value": TMP_MOUNT},
    ]


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": WORKER_UID,
        "runAsGroup": WORKER_UID,
        "fsGroup": WORKER_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,  # /tmp and the working directory are emptyDirs
        "capabilities": {"drop": ["ALL"]},
    }


def placement(
    spec: SemIngestSpec, ctx: RunContext, component: str, *, spread: bool = False
) -> dict[str, Any]:
    """The pod spec's nodeSelector, tolerations and affinity (only those set): the spec's, and
    with ``spread`` (fat executors) a required pod anti-affinity on the node, so that each
    executor has a node to itself, as the fat strategy sizes them."""
    wanted = spec.placement
    out: dict[str, Any] = {}
    if wanted.node_selector:
        out["nodeSelector"] = dict(wanted.node_selector)
    if wanted.tolerations:
        out["tolerations"] = [dict(t) for t in wanted.tolerations]
    affinity: dict[str, Any] = copy.deepcopy(dict(wanted.affinity)) if wanted.affinity else {}
    if spread:
        anti = affinity.setdefault("podAntiAffinity", {})
        anti.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(
            {
                "labelSelector": {"matchLabels": {LABEL_RUN: ctx.run, LABEL_COMPONENT: component}},
                "topologyKey": NODE_TOPOLOGY_KEY,
            }
        )
    if affinity:
        out["affinity"] = affinity
    return out


def spreads_executors(sizing_strategy: str, executors: int) -> bool:
    """Fat executors (one per node) are spread across nodes; tiny ones share nodes."""
    return sizing_strategy == "fat" and executors > 1


def pod_template(
    spec: SemIngestSpec,
    ctx: RunContext,
    container: str,
    component: str,
    *,
    automount_token: bool,
    spread: bool = False,
) -> dict[str, Any]:
    """A Spark pod template (spark.kubernetes.{driver,executor}.podTemplateFile / SparkApplication
    ``template``): volumes, mounts, env and security contexts, so nothing depends on a webhook."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": run_labels(ctx, component)},
        "spec": {
            "automountServiceAccountToken": automount_token,
            **placement(spec, ctx, component, spread=spread),
            "securityContext": pod_security_context(),
            "volumes": volumes(spec, component),
            "containers": [
                {
                    "name": container,
                    "image": ctx.image,
                    "env": env(spec),
                    "volumeMounts": volume_mounts(spec, component),
                    "securityContext": container_security_context(),
                }
            ],
        },
    }


def worker_arguments(spec: SemIngestSpec, ctx: RunContext) -> list[str]:
    """The worker entry point's arguments: the validated, defaulted spec, the run id, the target."""
    spec_json = json.dumps(dict(spec.raw), sort_keys=True, separators=(",", ":"))
    return ["--spec-json", spec_json, "--run-id", ctx.run, "--semingest", ctx.target]


def user_spark_conf(spec: SemIngestSpec) -> dict[str, str]:
    """The spec's sparkConf, checked: ``spark.*`` keys only, none of the operator's own."""
    for key in spec.spark_conf:
        if not key.startswith("spark."):
            raise SpecError(f"spec.sparkConf.{key}", 'Spark configuration keys start with "spark."')
        if key in RESERVED_SPARK_CONF:
            raise SpecError(f"spec.sparkConf.{key}", "is set by the operator and cannot be overridden")
    return dict(spec.spark_conf)
