"""Live progress from the Spark driver: merge-patch the SemIngest's status subresource.

Runs inside the driver pod with only the standard library (the worker image has no Kubernetes
client): the in-cluster ServiceAccount token and CA, KUBERNETES_SERVICE_HOST/PORT. The driver's
ServiceAccount may patch ``semingests/status`` and nothing more. Reports are throttled (at most
one every ``min_interval`` seconds unless forced); a failed report is logged, never raised: the
ingest matters more than its progress display.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from semingest_api.spec import GROUP, PLURAL, VERSION
from semingest_api.status import Phase, Progress, SemIngestStatus, SparkMeasures

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class StatusReporter:
    def __init__(
        self,
        api_server: str,
        namespace: str,
        name: str,
        *,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        min_interval: float = 10.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = (
            f"{api_server.rstrip('/')}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        )
        self.namespace = namespace
        self.name = name
        self._token = token
        self._token_file = token_file
        self._ssl = ssl_context
        self.min_interval = min_interval
        self.timeout = timeout
        self._clock = clock
        self._last_sent: float | None = None
        self.sent = 0  # successful reports
        self.errors = 0  # failed reports (logged)

    @classmethod
    def from_target(cls, target: str, *, min_interval: float = 10.0) -> StatusReporter:
        """``"namespace/name"`` of the SemIngest, with the in-cluster service account."""
        namespace, sep, name = target.partition("/")
        if not sep or not namespace or not name:
            raise ValueError(f"the SemIngest target must be namespace/name, got {target!r}")
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host
        ca = SERVICE_ACCOUNT_DIR / "ca.crt"
        ctx = ssl.create_default_context(cafile=str(ca)) if ca.is_file() else ssl.create_default_context()
        return cls(
            f"https://{host}:{port}",
            namespace,
            name,
            token_file=SERVICE_ACCOUNT_DIR / "token",
            ssl_context=ctx,
            min_interval=min_interval,
        )

    def _bearer(self) -> str | None:
        if self._token_file is not None:
            try:
                return Path(self._token_file).read_text().strip()  # the kubelet rotates it
            except OSError as exc:
                log.warning("cannot read the service account token %s: %s", self._token_file, exc)
                return None
        return self._token

    @staticmethod
    def body(
        progress: Mapping[str, object],
        stage_seconds: Mapping[str, float],
        phase: Phase | str | None,
        spark_measures: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The merge patch: status.progress (counters + updateTime), status.stageSeconds, phase,
        and at the end of a run status.sparkMeasures."""
        if phase is not None and phase not in set(Phase):
            raise ValueError(f"phase must be one of {', '.join(Phase)}, got {phase!r}")
        status = SemIngestStatus(
            phase=None if phase is None else Phase(phase),
            progress=Progress.from_counts(progress, update_time=dt.datetime.now(dt.UTC)),
            stage_seconds={str(k): round(float(v), 3) for k, v in stage_seconds.items()},
            spark_measures=None if not spark_measures else SparkMeasures.from_status(spark_measures),
        )
        return {"status": status.to_patch()}

    def report(
        self,
        progress: Mapping[str, object],
        stage_seconds: Mapping[str, float],
        phase: Phase | str | None = None,
        force: bool = False,
        spark_measures: Mapping[str, Any] | None = None,
    ) -> bool:
        """Send the progress unless the last report is younger than ``min_interval`` (and not
        ``force``). True when the API server accepted it; failures are logged, never raised."""
        now = self._clock()
        if not force and self._last_sent is not None and now - self._last_sent < self.min_interval:
            return False
        try:
            data = json.dumps(self.body(progress, stage_seconds, phase, spark_measures)).encode()
        except (TypeError, ValueError) as exc:
            self.errors += 1
            log.warning("not reporting progress of %s/%s: %s", self.namespace, self.name, exc)
            return False
        headers = {"Content-Type": "application/merge-patch+json", "Accept": "application/json"}
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="PATCH")
        self._last_sent = now  # also after a failure: do not hammer a failing API server
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as resp:  # noqa: S310
                resp.read()
        except urllib.error.HTTPError as exc:
            self.errors += 1
            detail = exc.read()[:300].decode(errors="replace")
            log.warning(
                "progress report for %s/%s rejected: HTTP %s %s", self.namespace, self.name, exc.code, detail
            )
            return False
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            self.errors += 1
            log.warning("progress report for %s/%s failed: %s", self.namespace, self.name, exc)
            return False
        self.sent += 1
        return True
