"""Issue #12, item 7: the native backend's Spark driver, run here in client mode with the
configuration the operator rendered into the driver pod, `spark.master=k8s://` pointing at the test
API server and authenticated as the chart's driver ServiceAccount. Spark creates the executor pods
from the rendered executor template; the API server accepts them (they stay Pending: no kubelet),
and Spark deletes them when the driver stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controlplane import wait_for
from controlplane.cluster import tail
from controlplane.ingest import example, pod_path, wait_phase
from controlplane.operator import SOURCE_DIRS

pytestmark = [pytest.mark.controlplane, pytest.mark.spark]

DRIVER = textwrap.dedent(
    """
    import json, pathlib, sys, time
    from pyspark.sql import SparkSession

    conf, stop_file = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2])
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    print("driver started", flush=True)
    deadline = time.monotonic() + 300
    while not stop_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    spark.stop()
    print("driver stopped", flush=True)
    """
)


def _spark_conf(args: list[str]) -> dict[str, str]:
    conf = {}
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "--conf":
            key, _, val = value.partition("=")
            conf[key] = val
        elif flag == "--master":
            conf["spark.master"] = value
        elif flag == "--name":
            conf["spark.app.name"] = value
    return conf


def test_native_driver_in_client_mode_gets_its_executor_pods_accepted(
    installation, shared_operator, tmp_path: Path
):
    cp, ns = installation.cp, installation.ns("tiny")
    create = cp.request(
        "POST",
        f"/apis/semingest.io/v1alpha1/namespaces/{ns}/semingests",
        example("ingest-tiny.yaml", namespace=ns, name="client-mode"),
    )
    assert create[0] == 201, create
    st = wait_phase(cp, ns, "client-mode", "Submitted")
    run = st["runId"]
    driver_pod = cp.get(pod_path(ns, st["driverPod"]))
    rendered = _spark_conf(driver_pod["spec"]["containers"][0]["args"])
    assert rendered["spark.master"].startswith("k8s://") and rendered["spark.kubernetes.namespace"] == ns
    template = cp.get(f"/api/v1/namespaces/{ns}/configmaps/{run}-executor-template")
    (template_text,) = template["data"].values()
    (tmp_path / "executor-template.yaml").write_text(template_text)
    (tmp_path / "token").write_text(installation.driver_token("tiny"))

    conf = dict(rendered)
    conf.update(
        {
            # This machine instead of the driver pod: the API server, the driver's own credentials.
            "spark.master": f"k8s://{cp.server}",
            "spark.submit.deployMode": "client",
            "spark.kubernetes.authenticate.caCertFile": str(cp.pki.ca.cert),
            "spark.kubernetes.authenticate.oauthTokenFile": str(tmp_path / "token"),
            "spark.kubernetes.executor.podTemplateFile": str(tmp_path / "executor-template.yaml"),
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.port": "0",
            "spark.driver.blockManager.port": "0",
            "spark.driver.memory": "512m",
            "spark.ui.enabled": "false",
        }
    )
    stop_file = tmp_path / "stop"
    log = tmp_path / "driver.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(d) for d in SOURCE_DIRS),
        "PYSPARK_PYTHON": sys.executable,
    }
    with log.open("wb") as out:
        driver = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", DRIVER, json.dumps(conf), str(stop_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        selector = f"spark-role=executor,semingest.io/run={run}"
        try:
            executors = wait_for(
                lambda: (
                    len(pods := _pods(cp, ns, selector)) == int(conf["spark.executor.instances"]) and pods
                ),
                180,
                f"{conf['spark.executor.instances']} executor pods",
                interval=1.0,
            )
        except Exception as exc:
            raise AssertionError(f"{exc}\ndriver log:\n{tail(log, 80)}") from None
        for pod in executors:
            assert pod["metadata"]["name"].startswith(f"{run}-exec-")
            assert pod["status"]["phase"] == "Pending"
            (container,) = pod["spec"]["containers"]
            assert container["name"] == "spark-kubernetes-executor"
            # as the driver's ServiceAccount: the chart's admission policy lets nothing else through
            assert pod["spec"]["serviceAccountName"] == "semingest-driver"
            assert container["image"] == conf["spark.kubernetes.container.image"]
            assert pod["metadata"]["labels"]["semingest.io/ingest"] == "client-mode"
            # Owned by the driver pod the operator created (spark.kubernetes.driver.pod.name).
            assert [r["name"] for r in pod["metadata"]["ownerReferences"]] == [st["driverPod"]]
    finally:
        stop_file.touch()
        try:
            driver.wait(120)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait(10)
    assert driver.returncode == 0, tail(log)
    wait_for(lambda: not _pods(cp, ns, selector), 60, "Spark to delete its executor pods on stop")
    cp.kubectl("delete", "semingest", "client-mode", "-n", ns, "--timeout=30s")


def _pods(cp, ns: str, selector: str) -> list[dict]:
    code, body = cp.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector={selector}")
    assert code == 200, body
    return [p for p in body["items"] if not p["metadata"].get("deletionTimestamp")]
