"""The SemIngest spec: validated against, and defaulted from, the CRD in ``crds/semingest.yaml``.

The CRD's OpenAPI schema is the one contract between the operator and the worker. This module
reads it (never restates it), validates a spec dict the way the API server would (types, enums,
minimums, oneOf), applies the schema's defaults, and returns a typed, frozen view of the result.
It imports only light dependencies, so the operator image can use it too.
"""

from __future__ import annotations

import copy
import difflib
import functools
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: a worker that only needs the constants skips ~70 ms
    import jsonschema

GROUP = "semingest.io"
VERSION = "v1alpha1"
KIND = "SemIngest"
PLURAL = "semingests"
API_VERSION = f"{GROUP}/{VERSION}"
# Annotate a SemIngest with any new value (e.g. a timestamp) to start one run now.
RUN_NOW_ANNOTATION = f"{GROUP}/run-now"

# Where the Spark pods mount the source and model volumes (operator renders, worker reads).
SOURCE_MOUNT = "/data/source"
MODEL_MOUNT = "/data/model"
EVENT_LOG_MOUNT = "/data/eventlog"  # spec.eventLog's volume, in the driver only
# The spark-submit-able entry point inside the worker image (images/worker/Dockerfile installs it).
WORKER_ENTRYPOINT = "/opt/semingest/semingest_job.py"
# Environment variable that carries the database URL (from the Secret) into driver and executors.
DATABASE_URL_ENV = "SEMINGEST_DATABASE_URL"

DEFAULT_LABELS = (
    "biological",
    "fibres",
    "films_coated_surface",
    "mems_devices_electrodes",
    "nanowires",
    "particles",
    "patterned_surface",
    "porous_sponge",
    "powder",
    "tips",
)


class SpecError(ValueError):
    """An invalid SemIngest spec. ``field`` is the dotted path of the (first) offending field.

    ``problems`` lists every ``(field, message)`` found; ``message`` carries the first one's
    message followed by the others, so ``f"{field}: {message}"`` names them all.
    """

    def __init__(self, field: str, message: str, more: tuple[tuple[str, str], ...] = ()):
        self.problems = ((field, message), *more)
        full = "; ".join([message, *(f"{f}: {m}" for f, m in more)])
        super().__init__(f"{field}: {full}")
        self.field = field
        self.message = full


def _crd_path() -> Path:
    """The CRD file: packaged in wheels, else the repository's ``crds/`` (editable installs)."""
    packaged = importlib.resources.files("semingest_api") / "_crds" / "semingest.yaml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "crds" / "semingest.yaml"


@functools.cache
def load_crd() -> dict[str, Any]:
    """The parsed CRD (per-process cache: the file does not change while we run)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~8x faster
    with open(_crd_path(), encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def openapi_schema() -> dict[str, Any]:
    """The whole object's openAPIV3Schema of the served version."""
    for version in load_crd()["spec"]["versions"]:
        if version["name"] == VERSION:
            return version["schema"]["openAPIV3Schema"]
    raise LookupError(f"CRD has no version {VERSION}")


def spec_schema() -> dict[str, Any]:
    return openapi_schema()["properties"]["spec"]


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    """Fill in defaults like the API server: a missing property with a default gets it, recursively."""
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties", {})
        out = dict(value)
        for name, sub in props.items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = apply_defaults(out[name], sub)
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(v, schema["items"]) for v in value]
    return value


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = ["spec"]
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else str(p))
    return ".".join(parts).replace(".[", "[")


# What a pattern means, for messages (the regex itself helps nobody).
_PATTERN_HINTS = {
    "^/?(?:(?:[^/.][^/]*|\\.|\\.[^/.][^/]*|\\.\\.[^/]+)(?:/+|$))*$": "must stay inside its volume: no '..' segments",
    "^/": "must be an absolute path (starting with /)",
    "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$": "must be a Kubernetes quantity such as 2Gi or 512Mi",
}


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    if error.validator == "pattern" and error.validator_value in _PATTERN_HINTS:
        return _field_path(error), f"{error.instance!r} {_PATTERN_HINTS[error.validator_value]}"
    if error.validator == "oneOf" and isinstance(error.schema, Mapping):
        options = [" / ".join(o.get("required", [])) for o in error.schema.get("oneOf", [])]
        return _field_path(error), f"exactly one of {', '.join(options)} must be set"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        path = _field_path(error)
        return f"{path}.{missing}", "is required"
    return _field_path(error), error.message


def unknown_fields(value: Any, schema: Mapping[str, Any], path: str = "spec") -> list[tuple[str, str]]:
    """Fields the schema does not define (the API server prunes them silently; ``kubectl apply``
    refuses them): a typo such as ``executor:`` or ``includes:`` must not be ignored."""
    found: list[tuple[str, str]] = []
    if isinstance(value, Mapping) and schema.get("type") == "object":
        props = schema.get("properties")
        if (
            props is None
            or schema.get("x-kubernetes-preserve-unknown-fields")
            or "additionalProperties" in schema
        ):
            return found
        for key, item in value.items():
            if key in props:
                found += unknown_fields(item, props[key], f"{path}.{key}")
                continue
            close = difflib.get_close_matches(str(key), list(props), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (fields: {', '.join(sorted(props))})"
            found.append((f"{path}.{key}", f"is not a field of {path}{hint}"))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


def validate_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a raw spec against the CRD schema and return it with defaults applied.

    Every problem is reported at once (unknown fields included), top-level ones first.
    """
    if not isinstance(spec, Mapping):
        raise SpecError("spec", "must be an object")
    schema = spec_schema()
    defaulted = apply_defaults(dict(spec), schema)
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(
        validator.iter_errors(defaulted), key=lambda e: (len(e.absolute_path), list(map(str, e.path)))
    )
    problems = unknown_fields(spec, schema) + [_describe(e) for e in errors]
    if problems:
        unique = sorted(dict.fromkeys(problems), key=lambda p: (p[0].count(".") + p[0].count("["), p[0]))
        (field, message), *more = unique
        raise SpecError(field, message, tuple(more))
    return defaulted


@dataclass(frozen=True)
class SourceSpec:
    pvc: str | None
    host_path: str | None
    path: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class ExecutorsSpec:
    strategy: str
    nodes: int
    cores_per_node: int
    memory_per_core: str


@dataclass(frozen=True)
class DriverSpec:
    cores: int
    memory: str
    start_timeout_seconds: int


@dataclass(frozen=True)
class DatabaseSpec:
    secret_name: str
    secret_key: str
    batch_size: int
    retry_deadline_seconds: int


@dataclass(frozen=True)
class ModelSpec:
    pvc: str | None
    host_path: str | None
    path: str
    labels: str | None
    batch_size: int
    input_tensor: str | None
    output_tensor: str | None


@dataclass(frozen=True)
class StagesSpec:
    metadata: bool
    scale_bar: bool
    inference: bool
    thumbnails: bool


@dataclass(frozen=True)
class EventLogSpec:
    pvc: str
    path: str  # inside the volume


@dataclass(frozen=True)
class PlacementSpec:
    """Where the Spark pods may run (core/v1 shapes, passed through)."""

    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    affinity: Mapping[str, Any] | None


@dataclass(frozen=True)
class SemIngestSpec:
    backend: str
    image: str | None
    image_pull_policy: str
    source: SourceSpec
    executors: ExecutorsSpec
    driver: DriverSpec
    database: DatabaseSpec
    model: ModelSpec | None
    stages: StagesSpec
    partitions: int | None
    spark_conf: Mapping[str, str]
    schedule: str | None
    time_zone: str | None
    suspend: bool
    active_deadline_seconds: int | None
    runs_history_limit: int | None
    placement: PlacementSpec
    event_log: EventLogSpec | None
    raw: Mapping[str, Any]  # the validated, defaulted dict (what is passed on to the worker)


def parse_spec(spec: Mapping[str, Any]) -> SemIngestSpec:
    """Validate, default and convert a SemIngest spec. Raises SpecError naming the field."""
    s = validate_spec(spec)
    src, ex, dr, db, st = s["source"], s["executors"], s["driver"], s["database"], s["stages"]
    model = s.get("model")
    return SemIngestSpec(
        backend=s["backend"],
        image=s.get("image"),
        image_pull_policy=s["imagePullPolicy"],
        source=SourceSpec(
            pvc=src.get("pvc"),
            host_path=src.get("hostPath"),
            path=src["path"],
            include=tuple(src["include"]),
            exclude=tuple(src["exclude"]),
        ),
        executors=ExecutorsSpec(
            strategy=ex["strategy"],
            nodes=ex["nodes"],
            cores_per_node=ex["coresPerNode"],
            memory_per_core=ex["memoryPerCore"],
        ),
        driver=DriverSpec(
            cores=dr["cores"], memory=dr["memory"], start_timeout_seconds=dr["startTimeoutSeconds"]
        ),
        database=DatabaseSpec(
            secret_name=db["secretRef"]["name"],
            secret_key=db["secretRef"]["key"],
            batch_size=db["batchSize"],
            retry_deadline_seconds=db["retryDeadlineSeconds"],
        ),
        model=None
        if model is None
        else ModelSpec(
            pvc=model.get("pvc"),
            host_path=model.get("hostPath"),
            path=model["path"],
            labels=model.get("labels"),
            batch_size=model["batchSize"],
            input_tensor=model.get("inputTensor"),
            output_tensor=model.get("outputTensor"),
        ),
        stages=StagesSpec(
            metadata=st["metadata"],
            scale_bar=st["scaleBar"],
            inference=st["inference"],
            thumbnails=st["thumbnails"],
        ),
        partitions=s.get("partitions"),
        spark_conf=dict(s.get("sparkConf", {})),
        schedule=s.get("schedule"),
        time_zone=s.get("timeZone"),
        suspend=s["suspend"],
        active_deadline_seconds=s.get("activeDeadlineSeconds"),
        runs_history_limit=s.get("runsHistoryLimit"),
        event_log=EventLogSpec(pvc=s["eventLog"]["pvc"], path=s["eventLog"]["path"])
        if s.get("eventLog")
        else None,
        placement=PlacementSpec(
            node_selector=dict(s.get("nodeSelector") or {}),
            tolerations=tuple(dict(t) for t in s.get("tolerations") or ()),
            affinity=dict(s["affinity"]) if s.get("affinity") else None,
        ),
        raw=s,
    )
