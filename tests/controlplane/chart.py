"""The Helm chart installed with the real helm binary into the test control plane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .cluster import ControlPlane

CHART = Path(__file__).resolve().parents[2] / "charts" / "semingest"
CRD_NAME = "semingests.semingest.io"


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    manifest: str  # what `helm get manifest` says the release holds (the CRD is not part of it)

    def objects(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.manifest) if isinstance(d, dict)]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.objects() if d["kind"] == kind]

    def operator_env(self) -> dict[str, str]:
        """The environment the chart gives the operator's container (plain values; POD_NAMESPACE)."""
        (deployment,) = self.of_kind("Deployment")
        (container,) = [
            c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "operator"
        ]
        env = {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
        env["POD_NAMESPACE"] = self.namespace
        return env

    def operator_service_account(self) -> str:
        (sa,) = [
            d["metadata"]["name"]
            for d in self.of_kind("ServiceAccount")
            if d["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"
        ]
        return sa


def helm_install(
    cp: ControlPlane, name: str, namespace: str, values: Mapping[str, Any] | None = None, *, workdir: Path
) -> Release:
    """``helm install`` (no --wait: no kubelet runs the operator's pod) and the release's manifest."""
    args = ["install", name, str(CHART), "-n", namespace, "--create-namespace"]
    if values:
        values_file = workdir / f"{name}-values.yaml"
        values_file.write_text(yaml.safe_dump(dict(values)))
        args += ["-f", str(values_file)]
    cp.helm(*args)
    manifest = cp.helm("get", "manifest", name, "-n", namespace).stdout
    return Release(name, namespace, manifest)


def helm_uninstall(cp: ControlPlane, release: Release) -> None:
    cp.helm("uninstall", release.name, "-n", release.namespace, "--wait", "--timeout=120s")


def existing(cp: ControlPlane, release: Release) -> list[str]:
    """``kind/name`` of the release's objects that exist in the API server now."""
    out = cp.kubectl("get", "-f", "-", "--ignore-not-found", "-o", "name", input=release.manifest).stdout
    return sorted(line for line in out.splitlines() if line.strip())


def kinds(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({o["kind"] for o in objects})
