"""The real semingest-operator process against the real API server, logged in with a token of the
chart's operator ServiceAccount (so the chart's RBAC is what is tested). There is no kubelet and no
spark-operator: the tests play them by patching pod and SparkApplication status as admin."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from typing import Any

import pytest

from controlplane import wait_for
from controlplane.cluster import tool
from controlplane.ingest import (
    NATIVE_KINDS,
    SPARK_KINDS,
    condition,
    example,
    kubelet_failed,
    kubelet_image_pull_backoff,
    kubelet_running,
    kubelet_succeeded,
    patch_status,
    phase_recorder,
    pod_path,
    run_objects,
    sem_path,
    spark_operator_state,
    status,
    wait_phase,
)

pytestmark = pytest.mark.controlplane


def create(cp, doc: dict[str, Any]) -> dict[str, Any]:
    code, body = cp.request("POST", sem_path(doc["metadata"]["namespace"]), doc)
    assert code == 201, f"create SemIngest: {code} {body}"
    return body


def kubectl_wait(cp, namespace: str, name: str, condition_type: str) -> subprocess.Popen[str]:
    """The real `kubectl wait --for=condition=...`, started before the condition holds."""
    return subprocess.Popen(  # noqa: S603
        [
            tool("kubectl"),
            f"--kubeconfig={cp.admin_kubeconfig}",
            "wait",
            "-n",
            namespace,
            f"--for=condition={condition_type}",
            f"semingest/{name}",
            "--timeout=60s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def assert_owned_by(objects: list[dict[str, Any]], owner: dict[str, Any]) -> None:
    meta = owner["metadata"]
    for obj in objects:
        refs = obj["metadata"].get("ownerReferences") or []
        assert [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in refs] == [
            ("SemIngest", meta["name"], meta["uid"], True)
        ], obj["metadata"]


def wait_gone(cp, namespace: str, name: str, kinds, timeout: float = 90.0) -> None:
    wait_for(
        lambda: cp.get(sem_path(namespace, name)) is None and not run_objects(cp, namespace, name, kinds),
        timeout,
        f"SemIngest {namespace}/{name} and its run objects to be deleted",
        interval=0.5,
    )


# -- 2. the examples on both backends ------------------------------------------------------------
def test_native_example_runs_pending_to_succeeded(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("native")
    doc = example("ingest.yaml", namespace=ns)
    name = doc["metadata"]["name"]
    with phase_recorder(cp, ns, name) as phases:
        owner = create(cp, doc)
        st = wait_phase(cp, ns, name, "Submitted")
        run = st["runId"]
        objects = run_objects(cp, ns, name, NATIVE_KINDS)
        names = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
        assert names == [
            ("configmaps", f"{run}-executor-template"),
            ("pods", f"{run}-driver"),
            ("services", f"{run}-driver-svc"),
        ], shared_operator.log_tail()
        assert_owned_by(objects, owner)
        for obj in objects:
            assert obj["metadata"]["labels"]["semingest.io/run"] == run
        pod = next(o for o in objects if o["kind"] == "pods")
        assert pod["spec"]["serviceAccountName"] == "semingest-driver"
        assert pod["status"]["phase"] == "Pending"  # accepted; no kubelet runs it

        kubelet_running(cp, ns, st["driverPod"])
        wait_phase(cp, ns, name, "Running")
        waiter = kubectl_wait(cp, ns, name, "Succeeded")
        time.sleep(0.5)
        assert waiter.poll() is None, "kubectl wait returned before the run succeeded"
        kubelet_succeeded(cp, ns, st["driverPod"])
        final = wait_phase(cp, ns, name, "Succeeded")
        out, _ = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, out
        assert "condition met" in out
        time.sleep(1.0)  # the watch delivers the last event
    assert phases == ["Submitted", "Running", "Succeeded"], phases
    assert condition(final, "Succeeded")["status"] == "True"
    assert final["completionTime"]
    # The driver pod and its objects are kept for logs after a success (runsKept).
    assert len(run_objects(cp, ns, name, NATIVE_KINDS)) == 3
    metrics = shared_operator.metrics()
    assert f'semingest_runs_started_total{{name="{name}",namespace="{ns}"}} 1.0' in metrics
    assert f'semingest_runs_succeeded_total{{name="{name}",namespace="{ns}"}} 1.0' in metrics
    assert 'semingest_reconciles_total{result="ok",trigger="create"}' in metrics

    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")
    wait_gone(cp, ns, name, NATIVE_KINDS)
    shared_operator.check_alive()


def test_spark_operator_backend_runs_to_succeeded(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("sparkop")
    doc = example("ingest.yaml", namespace=ns, backend="sparkOperator")
    name = doc["metadata"]["name"]
    with phase_recorder(cp, ns, name) as phases:
        owner = create(cp, doc)
        st = wait_phase(cp, ns, name, "Submitted")
        apps = run_objects(cp, ns, name, SPARK_KINDS)
        assert [a["metadata"]["name"] for a in apps] == [st["sparkApplication"]], shared_operator.log_tail()
        assert run_objects(cp, ns, name, NATIVE_KINDS) == []
        assert_owned_by(apps, owner)
        app = apps[0]
        assert app["spec"]["driver"]["serviceAccount"] == "semingest-driver"
        assert app["spec"]["executor"]["serviceAccount"] == "semingest-driver"
        # fat: 8 nodes x 24 cores -> 8 executors of 24 cores, as status.sizing says
        sizing = (st["sizing"]["executors"], st["sizing"]["executorCores"])
        assert (app["spec"]["executor"]["instances"], app["spec"]["executor"]["cores"]) == sizing == (8, 24)
        assert app["spec"]["mode"] == "cluster"

        spark_operator_state(cp, ns, st["sparkApplication"], "SUBMITTED")
        spark_operator_state(cp, ns, st["sparkApplication"], "RUNNING")
        wait_phase(cp, ns, name, "Running")
        waiter = kubectl_wait(cp, ns, name, "Succeeded")
        spark_operator_state(cp, ns, st["sparkApplication"], "COMPLETED")
        wait_phase(cp, ns, name, "Succeeded")
        out, _ = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, out
        time.sleep(1.0)
    assert phases == ["Submitted", "Running", "Succeeded"], phases

    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")
    wait_gone(cp, ns, name, SPARK_KINDS)


def test_tiny_example_native_fails_with_the_pods_image_pull_reason(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("tiny")
    doc = example("ingest-tiny.yaml", namespace=ns)
    doc["spec"]["driver"]["startTimeoutSeconds"] = 10  # the CRD's minimum
    name = doc["metadata"]["name"]
    owner = create(cp, doc)
    st = wait_phase(cp, ns, name, "Submitted")
    objects = run_objects(cp, ns, name, NATIVE_KINDS)
    assert len(objects) == 3
    assert_owned_by(objects, owner)
    pod = cp.get(pod_path(ns, st["driverPod"]))
    assert any(v.get("hostPath", {}).get("path") == "/data/sem" for v in pod["spec"]["volumes"])
    waiter = kubectl_wait(cp, ns, name, "Failed")
    kubelet_image_pull_backoff(cp, ns, st["driverPod"])
    final = wait_phase(cp, ns, name, "Failed", timeout=40)
    out, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, out
    failed = condition(final, "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "ImagePullBackOff"), final
    assert "did not start within 10s" in final["message"] and "Back-off pulling image" in final["message"]
    # A run given up before its driver started is deleted, so it cannot start later.
    wait_for(lambda: cp.get(pod_path(ns, st["driverPod"])) is None, 30, "the failed run's driver pod to go")

    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")
    wait_gone(cp, ns, name, NATIVE_KINDS)


def test_tiny_example_spark_operator_fails_with_the_applications_error(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("tiny-sparkop")
    doc = example("ingest-tiny.yaml", namespace=ns, backend="sparkOperator")
    name = doc["metadata"]["name"]
    owner = create(cp, doc)
    st = wait_phase(cp, ns, name, "Submitted")
    apps = run_objects(cp, ns, name, SPARK_KINDS)
    assert len(apps) == 1
    assert_owned_by(apps, owner)
    spark_operator_state(
        cp, ns, st["sparkApplication"], "FAILED", "driver container failed with ExitCode: 1, Reason: Error"
    )
    final = wait_phase(cp, ns, name, "Failed")
    failed = condition(final, "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "SparkFailed"), final
    assert "ExitCode: 1" in final["message"]

    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")
    wait_gone(cp, ns, name, SPARK_KINDS)


# -- 5. garbage collection and namespace deletion ------------------------------------------------
def test_deleting_a_semingest_garbage_collects_its_runs_without_the_operator(installation, operator_process):
    """The operator is stopped: only the real garbage collector, following the ownerReferences the
    operator wrote, deletes the pods, services, config maps and SparkApplications."""
    cp, ns = installation.cp, installation.ns("gc")
    op = operator_process(installation.operator_kubeconfig, [ns], env_overrides=installation.operator_env)
    docs = [
        example("ingest-tiny.yaml", namespace=ns, name="gc-native"),
        example("ingest-tiny.yaml", namespace=ns, name="gc-sparkop", backend="sparkOperator"),
    ]
    for doc in docs:
        create(cp, doc)
    for doc in docs:
        wait_phase(cp, ns, doc["metadata"]["name"], "Submitted")
    assert len(run_objects(cp, ns, "gc-native")) == 3
    assert len(run_objects(cp, ns, "gc-sparkop")) == 1
    op.stop()
    for doc in docs:
        name = doc["metadata"]["name"]
        cp.kubectl("delete", "semingest", name, "-n", ns, "--wait=false")
        # kopf's finalizer (if any) would wait for the stopped operator: an admin removes it.
        obj = cp.get(sem_path(ns, name))
        if obj is not None and obj["metadata"].get("finalizers"):
            cp.kubectl(
                "patch", "semingest", name, "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
            )
    wait_gone(cp, ns, "gc-native", NATIVE_KINDS)
    wait_gone(cp, ns, "gc-sparkop", SPARK_KINDS)


def test_deleting_a_namespace_with_a_running_ingest_leaves_the_operator_healthy(
    installation, shared_operator
):
    cp, ns = installation.cp, installation.ns("doomed")
    doc = example("ingest.yaml", namespace=ns)
    name = doc["metadata"]["name"]
    create(cp, doc)
    st = wait_phase(cp, ns, name, "Submitted")
    kubelet_running(cp, ns, st["driverPod"])
    wait_phase(cp, ns, name, "Running")
    # The worst order the namespace controller may pick: the operator's Role goes first.
    cp.kubectl("delete", "rolebinding,role", "-n", ns, "-l", "app.kubernetes.io/component=operator")
    cp.kubectl("delete", "namespace", ns, "--wait=false")
    try:
        wait_for(lambda: cp.get(f"/api/v1/namespaces/{ns}") is None, 90, f"namespace {ns} to be deleted")
    except Exception as exc:
        namespace = cp.get(f"/api/v1/namespaces/{ns}") or {}
        left = cp.get(sem_path(ns)) or {}
        raise AssertionError(
            f"{exc}\nnamespace status: {namespace.get('status')}\nSemIngests left: "
            f"{[i['metadata'] for i in left.get('items', [])]}\noperator log:\n{shared_operator.log_tail()}"
        ) from None
    assert cp.get(f"/api/v1/namespaces/{ns}") is None
    shared_operator.check_alive()
    assert shared_operator.healthy()
    # ... and still reconciles the other namespaces it watches.
    other = example("ingest-tiny.yaml", namespace=installation.ns("native"), name="after-namespace-deletion")
    create(cp, other)
    wait_phase(cp, installation.ns("native"), "after-namespace-deletion", "Submitted")
    cp.kubectl(
        "delete", "semingest", "after-namespace-deletion", "-n", installation.ns("native"), "--timeout=60s"
    )


# -- 6. a killed operator, two replicas ----------------------------------------------------------
def _counter(metrics: str, series: str) -> float:
    values = [float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(series + " ")]
    return sum(values)


def _created_lines(log: str, kind: str) -> list[str]:
    return [line for line in log.splitlines() if f": created {kind} " in line]


def test_operator_killed_mid_run_and_restarted_does_not_start_the_run_twice(installation, operator_process):
    cp, ns = installation.cp, installation.ns("restart")
    doc = example("ingest.yaml", namespace=ns, name="restart")
    first = operator_process(installation.operator_kubeconfig, [ns], env_overrides=installation.operator_env)
    create(cp, doc)
    st = wait_phase(cp, ns, "restart", "Submitted")
    pod = cp.get(pod_path(ns, st["driverPod"]))
    kubelet_running(cp, ns, st["driverPod"])
    wait_phase(cp, ns, "restart", "Running")
    first.kill()  # SIGKILL: no clean-up, kopf's state is whatever the API server holds

    second = operator_process(installation.operator_kubeconfig, [ns], env_overrides=installation.operator_env)
    time.sleep(3 * second.poll_seconds + 2)  # resume handlers and a few timer rounds
    assert status(cp, ns, "restart")["runId"] == st["runId"]
    pods = [o for o in run_objects(cp, ns, "restart", NATIVE_KINDS) if o["kind"] == "pods"]
    assert [p["metadata"]["uid"] for p in pods] == [pod["metadata"]["uid"]], "the run was started again"
    assert _created_lines(second.log_text(), "Pod") == []
    kubelet_succeeded(cp, ns, st["driverPod"])
    final = wait_phase(cp, ns, "restart", "Succeeded")
    assert final["runId"] == st["runId"] and final["startTime"] == st["startTime"]
    cp.kubectl("delete", "semingest", "restart", "-n", ns, "--timeout=30s")


def test_two_operator_replicas_do_not_double_start_runs(installation, operator_process):
    """No kopf peering (the operator runs standalone). The API server's optimistic concurrency does
    it: status writes are conditional on the resourceVersion the replica read (409 Conflict for the
    slower one), and run objects have deterministic names (409 AlreadyExists, then adopted), so each
    run's objects are created once and each run is recorded and counted once."""
    cp, ns = installation.cp, installation.ns("replicas")
    replicas = [
        operator_process(installation.operator_kubeconfig, [ns], env_overrides=installation.operator_env)
        for _ in range(2)
    ]
    names = [f"replica-{i}" for i in range(3)]
    for name in names:
        create(cp, example("ingest-tiny.yaml", namespace=ns, name=name))
    runs = {name: wait_phase(cp, ns, name, "Submitted") for name in names}
    time.sleep(3)  # both replicas have seen every object and run their timers
    for name in names:
        objects = run_objects(cp, ns, name, NATIVE_KINDS)
        assert len(objects) == 3, objects
        assert status(cp, ns, name)["runId"] == runs[name]["runId"]
    logs = [r.log_text() for r in replicas]
    created = [line for log in logs for line in _created_lines(log, "Pod")]
    assert len(created) == len(names), created
    started = sum(
        _counter(r.metrics(), f'semingest_runs_started_total{{name="{name}",namespace="{ns}"}}')
        for r in replicas
        for name in names
    )
    assert started == len(names), "each run counted as started by one replica only"
    for name in names:
        kubelet_running(cp, ns, runs[name]["driverPod"])
        kubelet_succeeded(cp, ns, runs[name]["driverPod"])
    done = {name: wait_phase(cp, ns, name, "Succeeded")["completionTime"] for name in names}
    time.sleep(3 * replicas[0].poll_seconds + 1)
    assert {name: status(cp, ns, name)["completionTime"] for name in names} == done, "completed once"
    for replica in replicas:
        replica.check_alive()


def test_killed_before_recording_its_run_the_restarted_operator_adopts_it(installation, operator_process):
    """A crash between creating a run's objects and the status patch that records it: the status
    has no run, the objects exist. The next operator creates nothing new (409 AlreadyExists) and
    adopts them, then follows the driver to its end."""
    cp, ns = installation.cp, installation.ns("restart")
    first = operator_process(installation.operator_kubeconfig, [ns], env_overrides=installation.operator_env)
    create(cp, example("ingest-tiny.yaml", namespace=ns, name="lost"))
    st = wait_phase(cp, ns, "lost", "Submitted")
    first.kill()
    pod = cp.get(pod_path(ns, st["driverPod"]))
    patch_status(
        cp, sem_path(ns, "lost"), {"runId": None, "runGeneration": None, "phase": None, "driverPod": None}
    )
    second = operator_process(installation.operator_kubeconfig, [ns], env_overrides=installation.operator_env)
    again = wait_phase(cp, ns, "lost", "Submitted")
    assert again["runId"] == st["runId"]
    assert "already exists, adopting it" in second.log_text()
    assert _created_lines(second.log_text(), "Pod") == []
    pods = [o for o in run_objects(cp, ns, "lost", NATIVE_KINDS) if o["kind"] == "pods"]
    assert [p["metadata"]["uid"] for p in pods] == [pod["metadata"]["uid"]]
    kubelet_running(cp, ns, st["driverPod"])
    kubelet_failed(cp, ns, st["driverPod"], exit_code=3, message="no database")
    final = wait_phase(cp, ns, "lost", "Failed")
    assert "exited with code 3" in final["message"] and "no database" in final["message"], final
    cp.kubectl("delete", "semingest", "lost", "-n", ns, "--timeout=30s")


# -- spec errors the CRD cannot see, spec updates, schedules, auto sizing ------------------------
@pytest.mark.parametrize(
    ("name", "spec", "field"),
    [
        ("reserved-conf", {"sparkConf": {"spark.master": "local[2]"}}, "spec.sparkConf.spark.master"),
        (
            "small-memory",
            {"executors": {"strategy": "tiny", "nodes": 1, "coresPerNode": 2, "memoryPerCore": "256Mi"}},
            "spec.executors.memoryPerCore",
        ),
    ],
)
def test_spec_error_only_the_operator_sees_ends_failed_naming_the_field(
    installation, shared_operator, name, spec, field
):
    cp, ns = installation.cp, installation.ns("native")
    create(cp, example("ingest-tiny.yaml", namespace=ns, name=name, **spec))  # the CRD accepts it
    final = wait_phase(cp, ns, name, "Failed")
    time.sleep(3 * shared_operator.poll_seconds)  # timer rounds: it stays failed, creates nothing
    failed = condition(final, "Failed")
    assert failed["reason"] == "InvalidSpec" and field in failed["message"], final
    assert run_objects(cp, ns, name) == []
    assert f'semingest_render_errors_total{{field="{field}"}} 1.0' in shared_operator.metrics()
    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")


def test_spec_update_waits_for_the_active_run_then_starts_the_next(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("native")
    create(cp, example("ingest-tiny.yaml", namespace=ns, name="upd"))
    first = wait_phase(cp, ns, "upd", "Submitted")
    cp.kubectl(
        "patch", "semingest", "upd", "-n", ns, "--type=merge", "-p", '{"spec":{"executors":{"nodes":2}}}'
    )
    assert cp.get(sem_path(ns, "upd"))["metadata"]["generation"] == 2  # the API server's own count
    time.sleep(4 * shared_operator.poll_seconds)
    assert {o["metadata"]["labels"]["semingest.io/run"] for o in run_objects(cp, ns, "upd")} == {
        first["runId"]
    }
    kubelet_succeeded(cp, ns, first["driverPod"])
    second = wait_for(
        lambda: (
            (s := status(cp, ns, "upd")).get("runGeneration") == 2 and s.get("phase") == "Submitted" and s
        ),
        30,
        "the generation-2 run",
    )
    assert second["runId"] != first["runId"] and second["observedGeneration"] == 2
    assert second["sizing"]["executors"] == 4  # tiny: 2 nodes x 2 cores
    assert cp.get(pod_path(ns, second["driverPod"])) is not None
    cp.kubectl("delete", "semingest", "upd", "-n", ns, "--timeout=30s")


def test_schedule_starts_one_run_per_tick_and_suspend_stops_runs(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("native")
    create(cp, example("ingest-tiny.yaml", namespace=ns, name="cron", schedule="*/5 * * * *"))
    first = wait_phase(cp, ns, "cron", "Submitted")
    kubelet_succeeded(cp, ns, first["driverPod"])
    wait_phase(cp, ns, "cron", "Succeeded")
    # The clock moves on (as far as the status says): the first run started 11 minutes ago.
    patch_status(cp, sem_path(ns, "cron"), {"startTime": _ago(minutes=11)})
    tick = wait_for(
        lambda: (s := status(cp, ns, "cron")).get("runId") not in (None, first["runId"]) and s,
        30,
        "a scheduled run",
    )
    assert tick["lastScheduleTime"] and tick["phase"] == "Submitted"
    time.sleep(4 * shared_operator.poll_seconds)
    runs = {o["metadata"]["labels"]["semingest.io/run"] for o in run_objects(cp, ns, "cron")}
    assert runs == {first["runId"], tick["runId"]}, "one scheduled run for one tick"
    kubelet_succeeded(cp, ns, tick["driverPod"])
    wait_phase(cp, ns, "cron", "Succeeded")
    cp.kubectl("patch", "semingest", "cron", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    suspended = wait_phase(cp, ns, "cron", "Suspended")
    patch_status(cp, sem_path(ns, "cron"), {"lastScheduleTime": _ago(hours=2)})
    time.sleep(4 * shared_operator.poll_seconds)
    assert status(cp, ns, "cron")["runId"] == tick["runId"], "no run while suspended"
    assert condition(suspended, "Succeeded")["status"] == "True", "the last run's result stays visible"
    cp.kubectl("delete", "semingest", "cron", "-n", ns, "--timeout=30s")


def test_auto_sizing_reads_the_nodes_with_the_charts_cluster_role(installation, shared_operator):
    """Node objects made by admin (no kubelet registers any): the operator lists them with the
    chart's ClusterRole and sizes from the schedulable ones."""
    cp, ns = installation.cp, installation.ns("native")
    nodes = {
        "auto-n0": ("16", "64Gi", False),
        "auto-n1": ("16", "64Gi", False),
        "auto-cordoned": ("64", "256Gi", True),
    }
    for node, (cpu, memory, cordoned) in nodes.items():
        cp.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node},
                "spec": {"unschedulable": cordoned},
            }
        )
        patch_status(
            cp,
            f"/api/v1/nodes/{node}",
            {
                "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
                "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "played by the test",
                    }
                ],
            },
        )
        # The TaintNodesByCondition admission plugin taints a new node not-ready:NoSchedule; the
        # node lifecycle controller (not run here) lifts it once the node is Ready: done by hand.
        created = cp.get(f"/api/v1/nodes/{node}")
        assert [t["key"] for t in created["spec"].get("taints") or []] == ["node.kubernetes.io/not-ready"]
        cp.kubectl("patch", "node", node, "--type=merge", "-p", '{"spec":{"taints":null}}')
    try:
        doc = example("ingest-spark-operator.yaml", namespace=ns, name="auto")
        doc["spec"]["executors"] = {"strategy": "auto", "nodes": 2}
        doc["spec"]["driver"] = {"cores": 1, "memory": "2Gi"}
        create(cp, doc)
        st = wait_phase(cp, ns, "auto", "Submitted")
        app = cp.get(
            f"/apis/sparkoperator.k8s.io/v1beta2/namespaces/{ns}/sparkapplications/{st['sparkApplication']}"
        )
        # the two 16-core nodes (not the cordoned one): 15 usable cores next to the driver -> 3 x 5
        assert (app["spec"]["executor"]["instances"], app["spec"]["executor"]["cores"]) == (6, 5), st[
            "sizing"
        ]
        assert st["sizing"]["strategy"] == "auto" and "auto-n0: 3, auto-n1: 3" in st["sizing"]["reason"]
        cp.kubectl("delete", "semingest", "auto", "-n", ns, "--timeout=30s")
    finally:
        cp.kubectl("delete", "node", *nodes, "--ignore-not-found")


def _ago(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- issue 16: kubectl columns, metrics scraped from the running operator, run now ----------------
def _samples(metrics: str, ns: str, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(series name, its other labels) -> value, of one SemIngest's series."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(metrics):
        for s in family.samples:
            if s.labels.get("namespace") == ns and s.labels.get("name") == name:
                rest = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("namespace", "name")))
                out[s.name, rest] = s.value
    return out


def _get_columns(cp, ns: str, *extra: str) -> dict[str, str]:
    """`kubectl get semingest` as the API server's printer columns render it: header -> value."""
    out = cp.kubectl("get", "semingest", "-n", ns, *extra).stdout.splitlines()
    header, row = out[0], out[1]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    starts = [s for s in starts if s == 0 or header[s - 2 : s] == "  "]  # "LAST SUCCESS" is one column
    bounds = [*starts[1:], None]
    return {header[a:b].strip(): row[a:b].strip() for a, b in zip(starts, bounds, strict=True)}


def test_kubectl_columns_operator_metrics_and_run_now(installation, shared_operator):
    cp, ns = installation.cp, installation.ns("ops")
    name = "watched"
    create(
        cp,
        example("ingest-tiny.yaml", namespace=ns, name=name, schedule="0 2 * * *", timeZone="Europe/Berlin"),
    )
    st = wait_phase(cp, ns, name, "Submitted")
    kubelet_running(cp, ns, st["driverPod"])
    wait_phase(cp, ns, name, "Running")
    # what the driver's status reporter writes
    patch_status(
        cp,
        sem_path(ns, name),
        {"progress": {"discovered": 1190, "processed": 412, "failed": 3, "summary": "412/1190"}},
    )
    columns = _get_columns(cp, ns)
    assert list(columns) == ["NAME", "PHASE", "PROGRESS", "FAILED", "DURATION", "LAST SUCCESS", "AGE"], (
        columns
    )
    assert (columns["PHASE"], columns["PROGRESS"], columns["FAILED"]) == ("Running", "412/1190", "3")

    def current_processed() -> float | None:
        got = _samples(shared_operator.metrics(), ns, name)
        return got.get(("semingest_run_files", (("outcome", "processed"), ("run", "current"))))

    assert wait_for(lambda: current_processed() == 412, 15, "the current run's files in the metrics")
    patch_status(
        cp,
        sem_path(ns, name),
        {"progress": {"discovered": 1190, "processed": 1184, "failed": 6, "summary": "1184/1190"}},
    )
    time.sleep(2 * shared_operator.poll_seconds + 0.5)
    kubelet_succeeded(cp, ns, st["driverPod"])
    final = wait_phase(cp, ns, name, "Succeeded")
    assert (
        final["lastSuccessfulTime"] and final["duration"] and final["nextScheduleTime"].endswith("T01:00:00Z")
    )
    columns = _get_columns(cp, ns)
    assert (columns["PROGRESS"], columns["FAILED"], columns["DURATION"]) == (
        "1184/1190",
        "6",
        final["duration"],
    )
    assert columns["LAST SUCCESS"] and columns["LAST SUCCESS"] != "<none>"
    wide = _get_columns(cp, ns, "-o", "wide")
    assert wide["NEXT"] == final["nextScheduleTime"] and wide["EXECUTORS"] == str(
        final["sizing"]["executors"]
    )

    time.sleep(2 * shared_operator.poll_seconds + 0.5)
    got = _samples(shared_operator.metrics(), ns, name)
    assert got["semingest_ingest_phase", (("phase", "Succeeded"),)] == 1
    assert got["semingest_run_files", (("outcome", "processed"), ("run", "last"))] == 1184
    assert got["semingest_run_files", (("outcome", "failed"), ("run", "last"))] == 6
    assert got["semingest_runs_started_total", ()] == 1 and got["semingest_runs_succeeded_total", ()] == 1
    success = dt.datetime.fromisoformat(final["lastSuccessfulTime"].replace("Z", "+00:00")).timestamp()
    assert got["semingest_last_success_timestamp_seconds", ()] == success
    assert got["semingest_schedule_period_seconds", ()] == 86400
    assert ("semingest_run_files", (("outcome", "processed"), ("run", "current"))) not in got

    cp.kubectl("annotate", "--overwrite", "-n", ns, f"semingest/{name}", "semingest.io/run-now=1")
    again = wait_for(
        lambda: (s := status(cp, ns, name)).get("lastRunNow") == "1" and s, 15, "a run started by run-now"
    )
    assert again["runId"].startswith(f"{name}-n") and again["runId"] != final["runId"]
    cp.kubectl("annotate", "--overwrite", "-n", ns, f"semingest/{name}", "semingest.io/run-now=1")
    time.sleep(2 * shared_operator.poll_seconds + 0.5)
    assert status(cp, ns, name)["runId"] == again["runId"], "the same value starts no second run"
    cp.kubectl("delete", "semingest", name, "-n", ns, "--timeout=30s")
    wait_gone(cp, ns, name, NATIVE_KINDS)
    assert not _samples(shared_operator.metrics(), ns, name), "a deleted SemIngest's series are gone"
