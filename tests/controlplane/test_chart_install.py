"""`helm install charts/semingest` with the real helm binary into the real API server: every object
is accepted (RBAC, admission, schema), the CRD becomes Established, `helm uninstall` removes the
release's objects (and, as Helm does with crds/, keeps the CRD)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.chart import CRD_NAME, existing, helm_install, helm_uninstall, kinds

pytestmark = pytest.mark.controlplane


def _crd_established(cp) -> None:
    crd = cp.wait_crd_established(CRD_NAME)
    assert crd["spec"]["names"]["kind"] == "SemIngest"


def _operator_args(release) -> list[str]:
    (deployment,) = release.of_kind("Deployment")
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "operator"
    ] or deployment["spec"]["template"]["spec"]["containers"]
    return container.get("args") or []


def test_default_values_install_and_uninstall(control_plane, tmp_path: Path):
    cp = control_plane
    release = helm_install(cp, "sem-default", "sem-default", workdir=tmp_path)
    _crd_established(cp)
    objects = release.objects()
    # The operator (Deployment, Service, RBAC), the driver's ServiceAccount and Role, the policy
    # bounding the driver's pods, the Spark pods' NetworkPolicy: all accepted by the API server.
    assert {
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    } <= set(kinds(objects)), kinds(objects)
    assert len(existing(cp, release)) == len(objects), "helm reported objects the API server does not hold"
    # The default watches the release namespace only: the operator's Role lives there.
    assert {r["metadata"]["namespace"] for r in release.of_kind("Role")} == {"sem-default"}
    deployment = cp.kubectl("get", "deployment", "-n", "sem-default", "-o", "name").stdout.split()
    assert len(deployment) == 1

    helm_uninstall(cp, release)
    assert existing(cp, release) == []
    # Helm never deletes what it installed from crds/: SemIngests of other releases survive.
    _crd_established(cp)


def test_watch_namespaces_gets_a_role_and_driver_account_in_each(control_plane, tmp_path: Path):
    cp = control_plane
    for ns in ("sem-watch-a", "sem-watch-b"):
        cp.create_namespace(ns)
    release = helm_install(
        cp,
        "sem-watch",
        "sem-watch-system",
        {"watch": {"namespaces": ["sem-watch-a", "sem-watch-b"]}},
        workdir=tmp_path,
    )
    _crd_established(cp)
    assert len(existing(cp, release)) == len(release.objects())
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in release.of_kind("Role")}
    assert {ns for ns, _ in roles} == {"sem-watch-a", "sem-watch-b"}
    driver_accounts = {
        sa["metadata"]["namespace"]
        for sa in release.of_kind("ServiceAccount")
        if sa["metadata"]["name"] == "semingest-driver"
    }
    assert driver_accounts == {"sem-watch-a", "sem-watch-b"}
    args = " ".join(_operator_args(release))
    assert "sem-watch-a" in args and "sem-watch-b" in args

    # The operator's account may do its work in a watched namespace and nothing in another one.
    sa = release.operator_service_account()
    who = f"--as=system:serviceaccount:sem-watch-system:{sa}"
    can = cp.kubectl("auth", "can-i", "create", "pods", "-n", "sem-watch-a", who, check=False)
    assert can.stdout.strip() == "yes", can.stderr
    cannot = cp.kubectl("auth", "can-i", "create", "pods", "-n", "default", who, check=False)
    assert cannot.stdout.strip() == "no", cannot.stderr

    helm_uninstall(cp, release)
    assert existing(cp, release) == []


def test_watch_all_namespaces_uses_cluster_roles(control_plane, tmp_path: Path):
    cp = control_plane
    cp.create_namespace("sem-all-work")
    release = helm_install(
        cp,
        "sem-all",
        "sem-all-system",
        {"watch": {"allNamespaces": True}, "sparkDriver": {"extraNamespaces": ["sem-all-work"]}},
        workdir=tmp_path,
    )
    _crd_established(cp)
    assert len(existing(cp, release)) == len(release.objects())
    cluster_roles = [r["metadata"]["name"] for r in release.of_kind("ClusterRole")]
    assert len(cluster_roles) == 2, cluster_roles  # cluster-wide reads + the namespaced rules everywhere
    operator_roles = [
        r
        for r in release.of_kind("Role")
        if r["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"
    ]
    assert operator_roles == []
    assert "-A" in _operator_args(release) or "--all-namespaces" in _operator_args(release)
    sa = release.operator_service_account()
    who = f"--as=system:serviceaccount:sem-all-system:{sa}"
    can = cp.kubectl("auth", "can-i", "create", "pods", "-n", "any-namespace", who, check=False)
    assert can.stdout.strip() == "yes", can.stderr

    helm_uninstall(cp, release)
    assert existing(cp, release) == []
