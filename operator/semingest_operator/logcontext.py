"""Per-object log context: every record logged while one SemIngest is reconciled carries its
reference (``k8s_ref``, as kopf's own per-object loggers do), so kopf's formatters prefix text
lines with ``[namespace/name]`` and put an ``object`` key into JSON lines (``--log-format json``).

The reference lives in a context variable: each kopf handler runs in its own asyncio task, so
concurrent reconciliations of different objects never see each other's.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from semingest_api.spec import API_VERSION, KIND

_current: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "semingest_object", default=None
)


@contextlib.contextmanager
def object_context(meta: Mapping[str, Any]) -> Iterator[None]:
    """Within this block, log records name the SemIngest whose ``metadata`` this is."""
    ref = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "namespace": meta.get("namespace"),
    }
    token = _current.set(ref)
    try:
        yield
    finally:
        _current.reset(token)


class ObjectContextFilter(logging.Filter):
    """Adds the current object's reference to records that have none (kopf's loggers add theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ref = _current.get()
        if ref is not None and not hasattr(record, "k8s_ref"):
            record.k8s_ref = dict(ref)
            record.k8s_skip = True  # never posted as a Kubernetes event
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of ``logger`` (the root logger: where kopf.configure puts
    its handler), so records of every module get the context."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, ObjectContextFilter) for f in handler.filters):
            handler.addFilter(ObjectContextFilter())
