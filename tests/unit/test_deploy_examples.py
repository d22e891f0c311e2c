"""Deployment assets that run nowhere here: the database Secret example, the kind config, and the
SemIngest the kind test derives from examples/ingest.yaml (checked against the CRD and rendered
by the operator's own renderer, so the e2e test does not first fail on a laptop)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import kubernetes_validate
import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.35"


def _e2e_module():
    path = REPO / "tests" / "e2e" / "test_kind_e2e.py"
    module_spec = importlib.util.spec_from_file_location("semingest_kind_e2e", path)
    assert module_spec and module_spec.loader
    module = sys.modules.get(module_spec.name)
    if module is None:
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module  # its dataclasses look their module up there
        module_spec.loader.exec_module(module)
    return module


def test_db_secret_example_is_a_valid_secret_with_a_mysql_url():
    (secret,) = [d for d in yaml.safe_load_all((REPO / "examples" / "db-secret.yaml").read_text()) if d]
    kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    url = sa.make_url(secret["stringData"]["url"])
    assert url.drivername == "mysql+pymysql" and url.database and url.host


def test_db_secret_example_matches_the_ingest_examples():
    """The ingest examples reference the Secret and key this example creates."""
    (secret,) = [d for d in yaml.safe_load_all((REPO / "examples" / "db-secret.yaml").read_text()) if d]
    ingests = [
        d
        for path in sorted((REPO / "examples").glob("ingest*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d and d.get("kind") == "SemIngest"
    ]
    assert ingests, "examples/ingest*.yaml hold no SemIngest"
    for ingest in ingests:
        ref = ingest["spec"]["database"]["secretRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref.get("key", "url") in secret["stringData"]


def test_kind_config_mounts_the_samples_where_the_test_reads_them():
    e2e = _e2e_module()
    config = yaml.safe_load((REPO / "tests" / "e2e" / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["name"] == e2e.CLUSTER
    (mount,) = config["nodes"][0]["extraMounts"]
    assert mount["containerPath"] == e2e.NODE_SAMPLES
    assert mount["hostPath"] == str(e2e.SAMPLES)


def test_kind_ingest_is_valid_and_renders_a_native_run_reading_the_mount():
    from semingest_api.spec import SOURCE_MOUNT, parse_spec
    from semingest_operator.policy import InstallationPolicy
    from semingest_operator.render import render_run

    e2e = _e2e_module()
    ingest = e2e._ingest_for_kind()
    spec = parse_spec(ingest["spec"])
    assert spec.backend == "native"
    assert spec.source.host_path == e2e.NODE_SAMPLES and spec.source.pvc is None
    assert spec.stages.inference is False and spec.model is None
    assert spec.database.secret_name == "semingest-db"  # the Secret the bundled database creates

    chart_values = yaml.safe_load((REPO / "charts" / "semingest" / "values.yaml").read_text())
    driver_account = chart_values["sparkDriver"]["serviceAccount"]["name"]
    # the e2e test installs the chart with security.allowedHostPaths={NODE_SAMPLES}
    policy = InstallationPolicy(host_path_prefixes=(e2e.NODE_SAMPLES,))
    run = render_run(ingest, default_image="unused:0", driver_service_account=driver_account, policy=policy)
    for manifest in run.manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    (pod,) = [m for m in run.manifests if m["kind"] == "Pod"]
    assert pod["metadata"]["namespace"] == e2e.NAMESPACE
    assert pod["spec"]["serviceAccountName"] == driver_account
    (container,) = pod["spec"]["containers"]
    assert container["image"] == e2e.WORKER_IMAGE
    source = next(v for v in pod["spec"]["volumes"] if v.get("hostPath", {}).get("path") == e2e.NODE_SAMPLES)
    assert {"name": source["name"], "mountPath": SOURCE_MOUNT, "readOnly": True} in container["volumeMounts"]
