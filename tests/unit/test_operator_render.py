"""Rendering: golden manifests for both backends, validated against the real spark-operator CRD
schema and the Kubernetes schemas; invalid specs name their field; `semingest render`.

Regenerate the golden files with SEMINGEST_UPDATE_GOLDEN=1 (then review the diff).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from semingest_api.spec import DATABASE_URL_ENV, MODEL_MOUNT, SOURCE_MOUNT, WORKER_ENTRYPOINT, SpecError
from semingest_operator.cli import render_main
from semingest_operator.policy import InstallationPolicy
from semingest_operator.render import render_run, run_name
from semingest_operator.render.common import RUN_NAME_MAX, label_value
from semingest_operator.sizing import NodeResources

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
UPDATE = os.environ.get("SEMINGEST_UPDATE_GOLDEN") == "1"
K8S_VERSION = "1.30"
UID = "5f1c7a52-3b1e-4c59-9a4e-0d2f1b6c8e11"


def ingest(name="cnr-iom-2016", generation=1, **spec):
    body = {
        "backend": "sparkOperator",
        "image": "registry.example.org/semingest-worker:0.1.0",
        "source": {
            "pvc": "sem-datashare",
            "path": "/SEM-images/new_dati_SEM",
            "include": ["**/*.tif", "**/*.tiff"],
        },
        "executors": {"strategy": "fat", "nodes": 8, "coresPerNode": 24, "memoryPerCore": "1Gi"},
        "driver": {"cores": 1, "memory": "4Gi"},
        "database": {"secretRef": {"name": "sem-db", "key": "url"}},
        "model": {"pvc": "sem-models", "path": "/models/sem.pb", "labels": "/models/labels.txt"},
        "stages": {"metadata": True, "scaleBar": True, "inference": True},
    }
    body.update(spec)
    return {
        "apiVersion": "semingest.io/v1alpha1",
        "kind": "SemIngest",
        "metadata": {"name": name, "namespace": "sem", "uid": UID, "generation": generation},
        "spec": body,
    }


NODES = [NodeResources("worker-1", 15900, 62 * 2**30), NodeResources("worker-2", 15900, 62 * 2**30)]
CASES = {
    "spark-operator-fat": (ingest(), None),
    "spark-operator-auto": (
        ingest(
            "auto-sem",
            backend="sparkOperator",
            executors={"strategy": "auto", "nodes": 2},
            sparkConf={"spark.task.maxFailures": "8"},
        ),
        NODES,
    ),
    "native-fat": (ingest(backend="native"), None),
    "native-tiny-hostpath": (
        ingest(
            "kind-sem",
            generation=3,
            backend="native",
            source={"hostPath": "/data/sem", "path": "/"},
            model=None,
            executors={"strategy": "tiny", "nodes": 1, "coresPerNode": 4, "memoryPerCore": "1536Mi"},
            stages={"inference": False},
        ),
        None,
    ),
}


def _render(case):
    body, nodes = CASES[case]
    body = copy.deepcopy(body)
    if body["spec"].get("model") is None:
        body["spec"].pop("model", None)
    # The kind-style case mounts a host path: allowed as the chart's security.allowedHostPaths would.
    policy = InstallationPolicy(host_path_prefixes=("/data/sem",))
    return render_run(body, driver_service_account="semingest-driver", nodes=nodes, policy=policy)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    rendered = _render(case)
    text = yaml.safe_dump_all(rendered.manifests, sort_keys=False, width=120)
    path = GOLDEN / f"{case}.yaml"
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"{path} missing: run with SEMINGEST_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{case} differs from {path} (SEMINGEST_UPDATE_GOLDEN=1 regenerates it)"


@pytest.fixture(scope="module")
def spark_application_schema(spark_manifests):
    crd = yaml.safe_load((spark_manifests / "sparkoperator.k8s.io_sparkapplications.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta2")
    return version["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("case", ["spark-operator-fat", "spark-operator-auto"])
def test_spark_application_validates_against_the_real_crd(case, spark_application_schema):
    (app,) = _render(case).manifests
    jsonschema.validate(app, spark_application_schema, cls=jsonschema.Draft7Validator)
    # and the schema is not vacuous: a wrong field type is rejected
    broken = copy.deepcopy(app)
    broken["spec"]["executor"]["instances"] = "eight"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, spark_application_schema, cls=jsonschema.Draft7Validator)


def test_spark_application_content():
    (app,) = _render("spark-operator-fat").manifests
    s = app["spec"]
    assert (s["type"], s["mode"], s["mainApplicationFile"]) == (
        "Python",
        "cluster",
        f"local://{WORKER_ENTRYPOINT}",
    )
    args = s["arguments"]
    assert args[args.index("--run-id") + 1] == "cnr-iom-2016-g1"
    assert args[args.index("--semingest") + 1] == "sem/cnr-iom-2016"
    spec_json = json.loads(args[args.index("--spec-json") + 1])
    assert (
        spec_json["source"]["path"] == "/SEM-images/new_dati_SEM"
        and spec_json["database"]["batchSize"] == 500
    )
    assert (s["executor"]["instances"], s["executor"]["cores"]) == (8, 24)
    assert s["restartPolicy"]["type"] == "OnFailure"
    # no webhook needed: volumes, mounts, env and security contexts sit in the pod templates
    assert "volumes" not in s and "volumeMounts" not in s["driver"] and "volumeMounts" not in s["executor"]
    for role in ("driver", "executor"):
        tmpl = s[role]["template"]["spec"]
        assert tmpl["securityContext"]["runAsNonRoot"] is True
        (container,) = tmpl["containers"]
        assert container["name"] == f"spark-kubernetes-{role}"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[SOURCE_MOUNT]["readOnly"] and mounts[MODEL_MOUNT]["readOnly"]
        env = {e["name"]: e for e in container["env"]}
        assert env[DATABASE_URL_ENV]["valueFrom"]["secretKeyRef"] == {"name": "sem-db", "key": "url"}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        kubernetes_validate.validate(
            s[role]["template"] | {"metadata": {"name": "t"}}, K8S_VERSION, strict=True
        )
    assert s["executor"]["template"]["spec"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("case", ["native-fat", "native-tiny-hostpath"])
def test_native_objects_validate_against_the_kubernetes_schemas(case):
    manifests = _render(case).manifests
    assert [m["kind"] for m in manifests] == ["ConfigMap", "Service", "Pod"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    template = yaml.safe_load(manifests[0]["data"]["executor.yaml"])
    kubernetes_validate.validate(template | {"metadata": {"name": "t"}}, K8S_VERSION, strict=True)


def test_native_driver_pod_wiring():
    cm, svc, pod = _render("native-tiny-hostpath").manifests
    run = "kind-sem-g3"
    assert pod["metadata"]["name"] == f"{run}-driver" and svc["spec"]["clusterIP"] == "None"
    assert all(
        svc["spec"]["selector"][k] == v
        for k, v in pod["metadata"]["labels"].items()
        if k in svc["spec"]["selector"]
    )
    (c,) = pod["spec"]["containers"]
    confs = dict(a.split("=", 1) for a in c["args"] if "=" in a and a.startswith("spark."))
    assert c["command"] == ["spark-submit"] and c["args"][c["args"].index("--deploy-mode") + 1] == "client"
    assert confs["spark.kubernetes.driver.pod.name"] == f"{run}-driver"  # executors owned by the driver pod
    assert confs["spark.driver.host"] == f"{run}-driver-svc.sem.svc"
    assert confs["spark.kubernetes.namespace"] == "sem"
    assert (confs["spark.executor.instances"], confs["spark.executor.cores"]) == ("4", "1")
    assert confs["spark.executor.memory"] == "921m" and confs["spark.executor.memoryOverhead"] == "615m"
    assert confs["spark.kubernetes.executor.podTemplateFile"].endswith("/executor.yaml")
    assert pod["spec"]["serviceAccountName"] == "semingest-driver" and pod["spec"]["restartPolicy"] == "Never"
    assert {"name": "pod-templates", "configMap": {"name": cm["metadata"]["name"]}} in pod["spec"]["volumes"]
    assert {"name": "source", "hostPath": {"path": "/data/sem", "type": "Directory"}} in pod["spec"][
        "volumes"
    ]
    res = c["resources"]
    assert res["requests"]["memory"] == res["limits"]["memory"] == "4Gi"  # driver.memory: the whole pod
    assert c["args"][-6:-4] == ["--spec-json", c["args"][-5]] and WORKER_ENTRYPOINT in c["args"]
    for m in (cm, svc, pod):
        owner = m["metadata"]["ownerReferences"][0]
        assert owner == {
            "apiVersion": "semingest.io/v1alpha1",
            "kind": "SemIngest",
            "name": "kind-sem",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert m["metadata"]["labels"]["semingest.io/run"] == run
        assert m["metadata"]["labels"]["semingest.io/ingest"] == "kind-sem"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"backend": "yarn"}, "spec.backend"),
        ({"source": {"path": "/x"}}, "spec.source"),
        ({"source": {"pvc": "a", "hostPath": "/b"}}, "spec.source"),
        ({"source": {"hostPath": "relative/dir"}}, "spec.source.hostPath"),
        ({"executors": {"strategy": "fat", "nodes": 0}}, "spec.executors.nodes"),
        ({"executors": {"strategy": "fat", "memoryPerCore": "lots"}}, "spec.executors.memoryPerCore"),
        ({"executors": {"strategy": "tiny", "memoryPerCore": "128Mi"}}, "spec.executors.memoryPerCore"),
        ({"driver": {"memory": "512Mi"}}, "spec.driver.memory"),
        ({"database": {}}, "spec.database.secretRef"),
        (
            {"sparkConf": {"spark.kubernetes.driver.pod.name": "x"}},
            "spec.sparkConf.spark.kubernetes.driver.pod.name",
        ),
        ({"sparkConf": {"maxFailures": "3"}}, "spec.sparkConf.maxFailures"),
        ({"schedule": "every hour please"}, "spec.schedule"),
        ({"image": ""}, "spec.image"),
        ({"model": {"path": "/models/sem.keras"}}, "spec.model"),
        ({"model": {"pvc": "m", "hostPath": "/m", "path": "/sem.keras"}}, "spec.model"),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    body = ingest(**spec)
    with pytest.raises(SpecError) as err:
        render_run(body)
    assert err.value.field == field, err.value


def test_missing_image_without_a_default_names_the_field():
    body = ingest()
    del body["spec"]["image"]
    with pytest.raises(SpecError) as err:
        render_run(body)
    assert err.value.field == "spec.image"
    assert render_run(body, default_image="reg/worker:1").manifests[0]["spec"]["image"] == "reg/worker:1"


def test_run_names_are_deterministic_dns_labels():
    assert run_name("cnr-iom-2016", generation=4) == "cnr-iom-2016-g4"
    tick = run_name(
        "cnr", tick=__import__("datetime").datetime(2026, 3, 2, 11, 0, tzinfo=__import__("datetime").UTC)
    )
    assert tick == "cnr-202603021100"
    long = "a" * 200 + ".facility.example"
    names = {run_name(long, generation=1), run_name(long, generation=1)}
    assert len(names) == 1
    (name,) = names
    assert len(name) <= RUN_NAME_MAX and name.endswith("-g1") and name[0].isalpha()
    assert run_name("a" * 200 + "x", generation=1) != run_name("a" * 200 + "y", generation=1)
    assert run_name("2016-sem", generation=1)[0].isalpha()
    assert len(label_value(long)) <= 63


def test_render_cli_prints_the_manifests_of_every_example(capsys):
    for example in sorted(EXAMPLES.glob("ingest*.yaml")):
        # ingest-tiny mounts a host path: as a chart with security.allowedHostPaths would allow
        assert render_main(["-f", str(example), "--allow-host-path", "/data/sem"]) == 0, example
        docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
        assert docs and all(d["metadata"]["namespace"] == "sem" for d in docs)
        kinds = {d["kind"] for d in docs}
        assert kinds in ({"SparkApplication"}, {"ConfigMap", "Service", "Pod"}), example


def test_render_cli_rejects_an_invalid_spec_naming_the_field(tmp_path, capsys):
    bad = ingest(executors={"strategy": "huge"})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert render_main(["-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert "spec.executors.strategy" in err and "cnr-iom-2016" in err
    assert render_main(["-f", str(tmp_path / "missing.yaml")]) == 2
    path.write_text("kind: ConfigMap\n")
    assert render_main(["-f", str(path)]) == 2


PLACEMENT = {
    "nodeSelector": {"sem.example.org/pool": "spark"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                        ]
                    }
                ]
            }
        }
    },
}


def _pod_specs(manifests):
    """role -> pod spec of the driver and the executors, whichever backend rendered them."""
    if manifests[0]["kind"] == "SparkApplication":
        s = manifests[0]["spec"]
        return {role: s[role]["template"]["spec"] for role in ("driver", "executor")}
    cm, _, pod = manifests
    return {"driver": pod["spec"], "executor": yaml.safe_load(cm["data"]["executor.yaml"])["spec"]}


@pytest.mark.parametrize("backend", ["native", "sparkOperator"])
def test_placement_reaches_driver_and_executors_and_fat_executors_get_a_node_each(backend):
    rendered = render_run(ingest(backend=backend, **PLACEMENT), driver_service_account="semingest-driver")
    specs = _pod_specs(rendered.manifests)
    for role, spec in specs.items():
        assert spec["nodeSelector"] == PLACEMENT["nodeSelector"], role
        assert spec["tolerations"] == PLACEMENT["tolerations"], role
        assert spec["affinity"]["nodeAffinity"] == PLACEMENT["affinity"]["nodeAffinity"], role
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"}, "spec": spec},
            K8S_VERSION,
            strict=True,
        )
    (term,) = specs["executor"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {
        "semingest.io/run": "cnr-iom-2016-g1",
        "app.kubernetes.io/component": "executor",
    }
    assert "podAntiAffinity" not in specs["driver"]["affinity"]
    assert "podAntiAffinity" not in PLACEMENT["affinity"], "the spec's own affinity is not modified"


def test_tiny_executors_share_nodes_and_no_placement_adds_nothing():
    body = CASES["native-tiny-hostpath"][0]
    policy = InstallationPolicy(host_path_prefixes=("/data/sem",))
    plain = copy.deepcopy(body)
    plain["spec"].pop("model", None)
    specs = _pod_specs(render_run(plain, driver_service_account="d", policy=policy).manifests)
    for spec in specs.values():
        assert not {"nodeSelector", "tolerations", "affinity"} & set(spec)


def _spark_conf(manifests) -> dict[str, str]:
    if manifests[0]["kind"] == "SparkApplication":
        return manifests[0]["spec"]["sparkConf"]
    args = manifests[2]["spec"]["containers"][0]["args"]
    return dict(a.split("=", 1) for prev, a in zip(args, args[1:], strict=False) if prev == "--conf")


@pytest.mark.parametrize("backend", ["native", "sparkOperator"])
def test_event_logs_go_to_their_volume_from_the_driver_only(backend):
    rendered = render_run(
        ingest(backend=backend, eventLog={"pvc": "spark-history", "path": "/semingest/events"}),
        driver_service_account="semingest-driver",
    )
    conf = _spark_conf(rendered.manifests)
    assert conf["spark.eventLog.enabled"] == "true" and conf["spark.eventLog.dir"] == "file:///data/eventlog"
    specs = _pod_specs(rendered.manifests)
    driver, executor = specs["driver"], specs["executor"]
    assert {"name": "eventlog", "persistentVolumeClaim": {"claimName": "spark-history"}} in driver["volumes"]
    (container,) = driver["containers"]
    assert {"name": "eventlog", "mountPath": "/data/eventlog", "subPath": "semingest/events"} in container[
        "volumeMounts"
    ]
    assert not [v for v in executor["volumes"] if v["name"] == "eventlog"], "executors write no event logs"
    for spec in specs.values():
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"}, "spec": spec},
            K8S_VERSION,
            strict=True,
        )
    plain = render_run(ingest(backend=backend), driver_service_account="semingest-driver")
    assert "spark.eventLog.enabled" not in _spark_conf(plain.manifests)


def test_an_event_log_without_its_volume_is_a_spec_error():
    with pytest.raises(SpecError, match=r"spec\.eventLog\.pvc: is required"):
        render_run(ingest(eventLog={"path": "/x"}), driver_service_account="d")


def test_render_without_an_image_uses_a_placeholder_and_warns(tmp_path, capsys):
    from semingest_operator.cli import PLACEHOLDER_IMAGE

    body = ingest()
    body["spec"].pop("image", None)
    path = tmp_path / "noimage.yaml"
    path.write_text(yaml.safe_dump(body))
    assert render_main(["-f", str(path)]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and PLACEHOLDER_IMAGE in captured.err
    docs = [d for d in yaml.safe_load_all(captured.out) if d]
    assert PLACEHOLDER_IMAGE in yaml.safe_dump(docs)
