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
import re
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


# kopf's note after every successful handler call: a timer that polls every 10 s would print one
# line per SemIngest every 10 s. Failures and retries are warnings and errors, always shown.
_ROUTINE = re.compile(r"^(Timer|Handler|Activity|Daemon) '[^']*' succeeded\.$")


class RoutineFilter(logging.Filter):
    """Drops kopf's "Handler '...' succeeded." lines (shown with --verbose)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("kopf") and _ROUTINE.match(record.getMessage()))


def install(logger: logging.Logger | None = None, *, verbose: bool = False) -> None:
    """Add the filters to every handler of ``logger`` (the root logger: where kopf.configure puts
    its handler), so records of every module get the context (and, unless verbose, kopf's
    routine success lines are not printed; Kubernetes events are posted as before)."""
    wanted = [ObjectContextFilter()] if verbose else [ObjectContextFilter(), RoutineFilter()]
    for handler in (logger or logging.getLogger()).handlers:
        for new in wanted:
            if not any(type(f) is type(new) for f in handler.filters):
                handler.addFilter(new)
