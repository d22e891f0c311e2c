"""Issue 13 item 13: a SemIngest author gets ingest, not the cluster. sparkConf is default-deny
(tuning keys only), hostPath needs a prefix the chart allows, paths stay inside their volumes."""

from __future__ import annotations

import pytest

from semingest_api.spec import SpecError, parse_spec
from semingest_operator.policy import InstallationPolicy
from semingest_operator.render import render_run

HOSTILE_SPARK_CONF = {
    "spark.kubernetes.executor.volumes.hostPath.root.mount.path": "/host",
    "spark.kubernetes.executor.volumes.hostPath.root.options.path": "/",
    "spark.kubernetes.executor.secrets.operator-token": "/secrets",
    "spark.kubernetes.executor.container.image": "evil/image",
    "spark.kubernetes.authenticate.executor.serviceAccountName": "semingest-operator",
    "spark.kubernetes.authenticate.oauthTokenFile": "/var/run/other/token",
    "spark.jars": "https://example.invalid/x.jar",
    "spark.pyspark.python": "/tmp/evil",
    "spark.executorEnv.LD_PRELOAD": "/tmp/x.so",
    "spark.authenticate": "false",
}


def _doc(**spec) -> dict:
    body = {"image": "w:1", "source": {"pvc": "data"}, "database": {"secretRef": {"name": "db"}}, **spec}
    return {
        "apiVersion": "semingest.io/v1alpha1",
        "kind": "SemIngest",
        "metadata": {"name": "x", "namespace": "n"},
        "spec": body,
    }


@pytest.mark.parametrize(("key", "value"), sorted(HOSTILE_SPARK_CONF.items()))
def test_hostile_spark_conf_is_refused(key: str, value: str) -> None:
    with pytest.raises(SpecError) as info:
        render_run(_doc(sparkConf={key: value}))
    assert info.value.field == f"spec.sparkConf.{key}"


def test_tuning_keys_pass_and_the_chart_can_widen() -> None:
    render_run(_doc(sparkConf={"spark.task.maxFailures": "8", "spark.speculation": "true"}))
    with pytest.raises(SpecError, match="not allowed on this installation"):
        render_run(_doc(sparkConf={"spark.eventLog.enabled": "true"}))
    policy = InstallationPolicy().with_extra(spark_conf=("spark.eventLog.*",))
    render_run(_doc(sparkConf={"spark.eventLog.enabled": "true"}), policy=policy)


@pytest.mark.parametrize("path", ["/", "/etc", "/data/semx", "/data/sem/../../etc"])
def test_host_paths_need_an_allowed_prefix(path: str) -> None:
    with pytest.raises(SpecError) as info:
        render_run(_doc(source={"hostPath": path}))
    assert info.value.field == "spec.source.hostPath" and "allowed prefixes: none" in info.value.message
    policy = InstallationPolicy(host_path_prefixes=("/data/sem",))
    with pytest.raises(SpecError, match="allowed prefixes: /data/sem"):
        render_run(_doc(source={"hostPath": path}), policy=policy)
    render_run(_doc(source={"hostPath": "/data/sem/2024"}), policy=policy)
    with pytest.raises(SpecError, match="spec.model.hostPath"):
        render_run(_doc(model={"hostPath": "/", "path": "m.keras"}), policy=policy)


def test_policy_from_the_charts_environment() -> None:
    policy = InstallationPolicy.from_env(
        {
            "SEMINGEST_ALLOWED_HOST_PATHS": "/data/sem, /mnt/x",
            "SEMINGEST_EXTRA_ALLOWED_SPARK_CONF": "spark.ui.*",
        }
    )
    assert policy.host_path_prefixes == ("/data/sem", "/mnt/x") and "spark.ui.*" in policy.spark_conf_allowed
    assert InstallationPolicy.from_env({}).host_path_prefixes == ()


@pytest.mark.parametrize("path", ["..", "../other", "a/../../etc", "/.."])
def test_paths_stay_inside_their_volume(path: str) -> None:
    with pytest.raises(SpecError, match="must stay inside its volume: no '..' segments") as info:
        parse_spec(_doc(source={"pvc": "d", "path": path})["spec"])
    assert info.value.field == "spec.source.path"
    with pytest.raises(SpecError, match="spec.model.path"):
        parse_spec(_doc(model={"pvc": "m", "path": f"{path}/m.keras"})["spec"])
    parse_spec(_doc(source={"pvc": "d", "path": "raw/..hidden/.x"})["spec"])


def test_runs_authenticate_and_have_a_read_only_root() -> None:
    rendered = render_run(_doc())
    pods = [m for m in rendered.manifests if m["kind"] == "Pod"]
    assert pods
    for pod in pods:
        for container in pod["spec"]["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert {"/tmp", "/opt/semingest/work"} <= {m["mountPath"] for m in container["volumeMounts"]}
        args = pod["spec"]["containers"][0]["args"]
        assert "spark.authenticate=true" in args


@pytest.mark.parametrize("backend", ["native", "sparkOperator"])
def test_a_run_deadline_ends_the_driver(backend: str) -> None:
    """Issue 13 item 1: a run has a deadline; the kubelet ends the driver pod at it (the operator
    then reports Failed with the pod's reason, DeadlineExceeded)."""
    import kubernetes_validate

    rendered = render_run(_doc(backend=backend, activeDeadlineSeconds=7200))
    if backend == "native":
        (pod,) = [m for m in rendered.manifests if m["kind"] == "Pod"]
        assert pod["spec"]["activeDeadlineSeconds"] == 7200
        kubernetes_validate.validate(pod, "1.30", strict=True)
    else:
        (app,) = rendered.manifests
        assert app["spec"]["driver"]["template"]["spec"]["activeDeadlineSeconds"] == 7200
        assert app["spec"]["restartPolicy"] == {"type": "Never"}  # a retry would restart the clock
    without = render_run(_doc(backend=backend))
    assert "activeDeadlineSeconds" not in str(without.manifests)
    with pytest.raises(SpecError, match="spec.activeDeadlineSeconds"):
        render_run(_doc(activeDeadlineSeconds=5))
