"""The chart installed once for the operator tests: its operator ServiceAccount is what the
operator processes log in as, its driver ServiceAccount what the status reporter uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane import ControlPlane, OperatorProcess
from controlplane.chart import CRD_NAME, Release, helm_install, helm_uninstall
from controlplane.ingest import db_secret

RELEASE_NAMESPACE = "semingest-system"
HOST_PATH = "/data/sem"
# Every namespace the release watches; each test (or group of tests) has its own.
NAMESPACES = {
    "native": "sem",  # examples/ingest.yaml as it is
    "sparkop": "sem-sparkop",
    "tiny": "sem-tiny",
    "tiny-sparkop": "sem-tiny-sparkop",
    "reporter": "sem-reporter",
    "reporter-other": "sem-reporter-other",
    "gc": "sem-gc",
    "doomed": "sem-doomed",
    "restart": "sem-restart",
    "replicas": "sem-replicas",
    "ops": "sem-ops",  # kubectl columns, metrics, run-now (issue 16)
}
# The namespaces the shared operator process watches (the others get their own processes, or none).
SHARED_OPERATOR = ("native", "sparkop", "tiny", "tiny-sparkop", "doomed", "ops")


@dataclass(frozen=True)
class Installation:
    cp: ControlPlane
    release: Release
    operator_kubeconfig: Path  # a token of the chart's operator ServiceAccount

    @property
    def operator_env(self) -> dict[str, str]:
        return self.release.operator_env()

    def ns(self, key: str) -> str:
        return NAMESPACES[key]

    def driver_token(self, key: str) -> str:
        return self.cp.create_token(NAMESPACES[key], "semingest-driver")


@pytest.fixture(scope="package")
def installation(
    control_plane: ControlPlane, spark_manifests: Path, tmp_path_factory
) -> Iterator[Installation]:
    cp = control_plane
    workdir = tmp_path_factory.mktemp("installation")
    # The kubeflow spark-operator's CRDs (its controller is played by the tests).
    for crd in sorted(spark_manifests.glob("sparkoperator.k8s.io_*.yaml")):
        cp.kubectl("apply", "--server-side", "-f", str(crd))
    cp.wait_crd_established("sparkapplications.sparkoperator.k8s.io")
    for ns in NAMESPACES.values():
        cp.create_namespace(ns)
        cp.apply(db_secret(ns))
    release = helm_install(
        cp,
        "semingest",
        RELEASE_NAMESPACE,
        {
            "watch": {"namespaces": list(NAMESPACES.values())},
            # examples/ingest-tiny.yaml reads its images from a host path, as on kind
            "security": {"allowedHostPaths": [HOST_PATH]},
        },
        workdir=workdir,
    )
    cp.wait_crd_established(CRD_NAME)
    token = cp.create_token(RELEASE_NAMESPACE, release.operator_service_account())
    kubeconfig = cp.kubeconfig_for_token(token, workdir / "operator.kubeconfig", namespace=RELEASE_NAMESPACE)
    yield Installation(cp, release, kubeconfig)
    helm_uninstall(cp, release)


@pytest.fixture(scope="package")
def shared_operator(installation: Installation, tmp_path_factory) -> Iterator[OperatorProcess]:
    """One operator process for the namespaces in SHARED_OPERATOR, for the whole package."""
    op = OperatorProcess(
        installation.cp,
        installation.operator_kubeconfig,
        [NAMESPACES[k] for k in SHARED_OPERATOR],
        tmp_path_factory.mktemp("shared-operator") / "operator.log",
        env_overrides=installation.operator_env,
    )
    op.start()
    yield op
    op.stop()
