"""What a SemIngest author may ask for on this installation (least privilege).

Whoever may create a SemIngest in a namespace gets Spark pods run for them under the driver's
ServiceAccount. Without limits, ``sparkConf`` alone could mount host paths or Secrets, pick another
image or ServiceAccount, load jars or preload libraries, and ``hostPath`` could mount ``/``.
So, by default:

* ``sparkConf`` keys must match an allow-list of tuning keys (``DEFAULT_SPARK_CONF_ALLOWED``);
  the chart can add patterns (``security.extraAllowedSparkConf``);
* ``hostPath`` volumes (source and model) are refused unless under a prefix the chart allows
  (``security.allowedHostPaths``, empty by default: single-node sites and kind opt in).

``source.path``/``model.path`` are confined to their volume by the CRD itself (no ``..``).
Patterns are shell-style (``fnmatch``), set by the cluster admin, not by SemIngest authors.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from semingest_api.spec import SemIngestSpec, SpecError

# Tuning knobs that change neither what runs, as whom, nor what it can reach.
DEFAULT_SPARK_CONF_ALLOWED: tuple[str, ...] = (
    "spark.task.maxFailures",
    "spark.task.cpus",
    "spark.default.parallelism",
    "spark.locality.wait*",
    "spark.speculation*",
    "spark.network.timeout",
    "spark.executor.heartbeatInterval",
    "spark.python.worker.memory",
    "spark.python.worker.reuse",
    "spark.rdd.compress",
    "spark.kubernetes.allocation.batch.size",
    "spark.kubernetes.allocation.batch.delay",
    "spark.kubernetes.executor.deleteOnTermination",
)
ALLOWED_SPARK_CONF_ENV = "SEMINGEST_EXTRA_ALLOWED_SPARK_CONF"
ALLOWED_HOST_PATHS_ENV = "SEMINGEST_ALLOWED_HOST_PATHS"


@dataclass(frozen=True)
class InstallationPolicy:
    spark_conf_allowed: tuple[str, ...] = DEFAULT_SPARK_CONF_ALLOWED
    host_path_prefixes: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InstallationPolicy:
        """The chart's settings: comma-separated extra sparkConf patterns and host path prefixes."""
        env = os.environ if environ is None else environ
        extra = tuple(p.strip() for p in env.get(ALLOWED_SPARK_CONF_ENV, "").split(",") if p.strip())
        prefixes = tuple(p.strip() for p in env.get(ALLOWED_HOST_PATHS_ENV, "").split(",") if p.strip())
        return cls(spark_conf_allowed=DEFAULT_SPARK_CONF_ALLOWED + extra, host_path_prefixes=prefixes)

    def with_extra(
        self, spark_conf: tuple[str, ...] = (), host_paths: tuple[str, ...] = ()
    ) -> InstallationPolicy:
        return InstallationPolicy(self.spark_conf_allowed + spark_conf, self.host_path_prefixes + host_paths)

    def check(self, spec: SemIngestSpec) -> None:
        """Raise ``SpecError`` naming the first field this installation does not allow."""
        for key in spec.spark_conf:
            if not any(fnmatch.fnmatchcase(key, pattern) for pattern in self.spark_conf_allowed):
                raise SpecError(
                    f"spec.sparkConf.{key}",
                    "is not allowed on this installation (tuning keys only; the chart's "
                    "security.extraAllowedSparkConf can allow more)",
                )
        for field, path in (
            ("spec.source.hostPath", spec.source.host_path),
            ("spec.model.hostPath", _model_host(spec)),
        ):
            if path is not None and not self._host_path_allowed(path):
                allowed = ", ".join(self.host_path_prefixes) or "none"
                raise SpecError(
                    field,
                    f"host path {path!r} is not allowed on this installation (allowed prefixes: {allowed}; "
                    "the chart's security.allowedHostPaths); use a PersistentVolumeClaim",
                )

    def _host_path_allowed(self, path: str) -> bool:
        norm = posixpath.normpath(path)
        for prefix in self.host_path_prefixes:
            base = posixpath.normpath(prefix)
            if base != "/" and (norm == base or norm.startswith(base.rstrip("/") + "/")):
                return True
        return False


def _model_host(spec: SemIngestSpec) -> str | None:
    return spec.model.host_path if spec.model is not None else None
