"""The Helm chart, rendered by the real helm binary (``make setup`` puts it in .tools/bin).

Every option set is rendered once (module-scoped fixture) and every object is checked against the
Kubernetes OpenAPI schema of its kind (kubernetes-validate, strict: unknown fields are errors);
the values schema must reject bad values; the CRD must be the repository's one file.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "semingest"
CRD = REPO / "crds" / "semingest.yaml"
HELM = REPO / ".tools" / "bin" / "helm"
RELEASE, NAMESPACE = "sem", "sem-system"
# A recent Kubernetes release whose schemas kubernetes-validate ships (helm 4.1 targets 1.35).
K8S_VERSION = "1.35"
# Kinds that are not part of Kubernetes itself: kubernetes-validate has no schema for them.
NON_CORE_KINDS = {"ServiceMonitor", "PrometheusRule"}

PLACEMENT = {
    "nodeSelector": {"node-role.semingest.io/control": "true"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "sem", "effect": "NoSchedule"}],
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

# Each option turned on (values merged over values.yaml).
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "bundled-mariadb": {"database": {"bundled": {"enabled": True, "storage": {"storageClassName": "fast"}}}},
    "database-url": {"database": {"url": "mysql+pymysql://sem:pw@db.example.org:3306/sem?charset=utf8mb4"}},
    "service-monitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "monitoring": {
        "operator": {"logFormat": "json"},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}, "failedFileRatio": 0.25},
        "grafana": {"dashboards": {"enabled": True, "annotations": {"grafana_folder": "semingest"}}},
    },
    "watched-namespaces": {
        "watch": {"namespaces": ["lab-a", "lab-b"]},
        "database": {"bundled": {"enabled": True}},
    },
    "all-namespaces": {
        "watch": {"allNamespaces": True},
        "sparkDriver": {"extraNamespaces": ["lab-a"]},
        "database": {"url": "mysql+pymysql://sem:pw@db:3306/sem"},
    },
    "placement": {
        "operator": {**PLACEMENT, "priorityClassName": "system-cluster-critical"},
        "database": {"bundled": {"enabled": True, **PLACEMENT}},
        "web": {"enabled": True, **PLACEMENT},
    },
    "web-bundled": {"web": {"enabled": True}, "database": {"bundled": {"enabled": True}}},
    "web-url-ingress": {
        "web": {
            "enabled": True,
            "database": {"url": "mysql+pymysql://reader:pw@db.example.org:3306/sem?charset=utf8mb4"},
            "ingress": {"enabled": True, "className": "nginx", "tlsSecretName": "sem-tls"},
            "image": {"repository": "semingest-web", "tag": "0.2.0"},
        },
    },
    "registry-and-extras": {
        "imageRegistry": "registry.example.org/sem",
        "imagePullSecrets": ["regcred"],
        "operator": {
            "image": {"tag": "0.1.0-rc1", "pullPolicy": "Always"},
            "verbose": True,
            "pollSeconds": 5,
            "healthPort": 8081,
            "metricsPort": 9091,
            "extraEnv": [{"name": "TZ", "value": "Europe/Rome"}],
            "podAnnotations": {"example.org/team": "sem"},
            "podLabels": {"team": "sem"},
            "serviceAccount": {"annotations": {"example.org/role": "operator"}},
        },
        "worker": {"image": {"tag": "0.1.0-rc1"}},
    },
    "existing-service-accounts": {
        "operator": {"serviceAccount": {"create": False, "name": "site-operator"}},
        "sparkDriver": {"serviceAccount": {"create": False, "name": "site-driver"}},
    },
    "stopped": {"operator": {"replicas": 0}},
}


@pytest.fixture(scope="session")
def helm() -> Path:
    if not HELM.is_file():
        pytest.fail(f"{HELM} is missing: run `make setup` (tools/fetch_helm.py extracts it)")
    return HELM


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120, check=False)


def template(helm: Path, values_file: Path | None = None, *extra: str) -> list[dict[str, Any]]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
    if values_file is not None:
        args += ["--values", str(values_file)]
    result = run_helm(helm, *args, *extra)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request, helm: Path, tmp_path_factory) -> tuple[str, list[dict[str, Any]]]:
    """(value set name, rendered objects): helm runs once per value set."""
    name = request.param
    values_file = tmp_path_factory.mktemp("values") / f"{name}.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS[name]))
    return name, template(helm, values_file)


@pytest.fixture(scope="module")
def defaults(helm: Path) -> list[dict[str, Any]]:
    return template(helm)


def objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [d for d in objects(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, (
        f"expected one {kind} *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    )
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(docs, "Deployment", "-operator")["spec"]["template"]["spec"]["containers"]
    return container


# --- lint, one source for the CRD, the values schema -------------------------------------------


def test_helm_lint_passes_strict(helm: Path, tmp_path: Path):
    everything = tmp_path / "everything.yaml"
    everything.write_text(
        yaml.safe_dump(
            {
                **VALUE_SETS["registry-and-extras"],
                "database": {"bundled": {"enabled": True, **PLACEMENT}},
                "serviceMonitor": {"enabled": True},
                "watch": {"namespaces": ["lab-a"]},
            }
        )
    )
    for args in ([], ["--values", str(everything)]):
        result = run_helm(helm, "lint", "--strict", str(CHART), *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 chart(s) failed" in result.stdout


def test_chart_crd_is_a_link_to_the_one_crd_file():
    chart_crd = CHART / "crds" / "semingest.yaml"
    assert chart_crd.is_symlink(), "charts/semingest/crds/semingest.yaml must link to crds/ (one source)"
    assert chart_crd.resolve() == CRD.resolve()
    assert chart_crd.read_bytes() == CRD.read_bytes()


def test_rendered_and_packaged_crd_equal_the_crd_file(helm: Path, defaults, tmp_path: Path):
    assert one(defaults, "CustomResourceDefinition") == yaml.safe_load(CRD.read_text())
    result = run_helm(helm, "package", str(CHART), "--destination", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (package,) = tmp_path.glob("semingest-*.tgz")
    with tarfile.open(package) as tar:
        member = tar.extractfile("semingest/crds/semingest.yaml")
        assert member is not None
        assert member.read() == CRD.read_bytes(), "the packaged chart must carry crds/semingest.yaml verbatim"


def test_values_schema_is_valid_and_accepts_values_yaml():
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))
    for values in VALUE_SETS.values():  # the option sets only use described values
        jsonschema.Draft7Validator(schema).validate(
            _merge(yaml.safe_load((CHART / "values.yaml").read_text()), values)
        )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


BAD_VALUES = [
    ("operator.replicas=-1", "/operator/replicas"),
    ("operator.replicas=2", "/operator/replicas"),
    ("operator.replicas=one", "/operator/replicas"),
    ("worker.image.pullPolicy=Sometimes", "/worker/image/pullPolicy"),
    ("operator.healthPort=80", "/operator/healthPort"),
    ("operator.metricsPort=70000", "/operator/metricsPort"),
    ("operator.pollSeconds=0", "/operator/pollSeconds"),
    ("operator.verbose=loud", "/operator/verbose"),
    ("watch.allNamespaces=yes", "/watch/allNamespaces"),
    ("watch.namespaces={Lab_A}", "/watch/namespaces/0"),
    ("operator.image.pullPolicy=Sometimes", "/operator/image/pullPolicy"),
    ("operator.image.repository=", "/operator/image/repository"),
    ("operator.resources.requests.cpu=lots", "/operator/resources/requests/cpu"),
    ("operator.unknownOption=1", "/operator"),
    ("database.url=not-a-url", "/database/url"),
    ("database.bundled.enabled=true,database.url=mysql+pymysql://u:p@h/db", "/database/url"),
    ("database.bundled.password=p@ss:word", "/database/bundled/password"),
    ("database.bundled.storage.size=ten", "/database/bundled/storage/size"),
    ("serviceMonitor.enabled=maybe", "/serviceMonitor/enabled"),
    ("serviceMonitor.interval=30", "/serviceMonitor/interval"),
    ("sparkDriver.serviceAccount.name=", "/sparkDriver/serviceAccount/name"),
    ("web.enabled=yes", "/web/enabled"),
    ("web.port=80", "/web/port"),
    ("web.service.type=Magic", "/web/service/type"),
    ("web.database.url=not-a-url", "/web/database/url"),
    ("web.ingress.path=catalogue", "/web/ingress/path"),
    ("web.colour=blue", "/web"),
]


@pytest.mark.parametrize(("setting", "path"), BAD_VALUES, ids=[s for s, _ in BAD_VALUES])
def test_values_schema_rejects_bad_values(helm: Path, setting: str, path: str):
    result = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--set", setting)
    assert result.returncode != 0, f"helm accepted {setting}"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert f"at '{path}'" in result.stderr, result.stderr


def test_tolerations_must_be_a_list(helm: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"operator": {"tolerations": {"key": "dedicated"}}}))
    result = run_helm(helm, "template", RELEASE, str(CHART), "--values", str(bad))
    assert result.returncode != 0 and "at '/operator/tolerations'" in result.stderr, result.stderr


# --- every rendered object against the Kubernetes schema of its kind ---------------------------


def test_every_object_validates_against_its_kubernetes_schema(rendered):
    name, docs = rendered
    kinds = set()
    for doc in docs:
        kinds.add(doc["kind"])
        if doc["kind"] in NON_CORE_KINDS:
            continue  # a CRD of the Prometheus Operator: checked by test_service_monitor_* instead
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(
                f"[{name}] {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )
    assert {"CustomResourceDefinition", "Deployment", "Service", "ClusterRole"} <= kinds


def test_namespaced_objects_name_their_namespace(rendered):
    _, docs = rendered
    cluster_scoped = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for doc in docs:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"].get("namespace"), (
                f"{doc['kind']}/{doc['metadata']['name']} has no namespace"
            )


# --- the operator Deployment --------------------------------------------------------------------


def test_every_pod_runs_non_root_with_a_read_only_root_filesystem(rendered):
    name, docs = rendered
    for spec in pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        # With the rest below: the "restricted" Pod Security Standard.
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert ctx["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert ctx["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]


def test_operator_probes_health_and_exposes_metrics(defaults):
    deployment = one(defaults, "Deployment", "-operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # never two operators at once
    container = operator_container(defaults)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz" and ports[probe["port"]] == 8080
    service = one(defaults, "Service", "-operator-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    # The only writable path is an emptyDir /tmp.
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]


def _operator_view(docs):
    """What the real operator makes of the rendered container: its parsed arguments, its config
    from the environment, and the container (ports by name)."""
    from semingest_operator.__main__ import config_from_env, parse_args

    container = operator_container(docs)
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    args = parse_args(container["args"])
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        config = config_from_env(args.poll_seconds)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return args, config, env, container


def test_operator_reads_the_rendered_arguments_and_environment(defaults):
    args, config, _, container = _operator_view(defaults)
    assert args.namespace == [NAMESPACE] and not args.all_namespaces
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert urlsplit(args.liveness).port == ports["health"] and urlsplit(args.liveness).path == "/healthz"
    assert args.metrics_port == ports["metrics"]
    assert args.poll_seconds == 10 and args.verbose is False and args.log_format == "full"
    assert config.default_image == "semingest-worker:0.1.0"  # the chart's appVersion
    assert config.driver_service_account == "semingest-driver"
    assert container["image"] == "semingest-operator:0.1.0"


@pytest.mark.parametrize("value_set", ["watched-namespaces", "all-namespaces", "registry-and-extras"])
def test_operator_arguments_follow_the_values(helm: Path, tmp_path: Path, value_set: str):
    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS[value_set]))
    docs = template(helm, values_file)
    args, config, env, container = _operator_view(docs)
    if value_set == "watched-namespaces":
        assert args.namespace == ["lab-a", "lab-b"] and not args.all_namespaces
    elif value_set == "all-namespaces":
        assert args.all_namespaces and args.namespace == []
    else:
        assert args.namespace == [NAMESPACE]
        assert args.verbose is True and args.poll_seconds == 5
        assert urlsplit(args.liveness).port == 8081 and args.metrics_port == 9091
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"health": 8081, "metrics": 9091}
        assert container["livenessProbe"]["httpGet"]["port"] == "health"
        service = one(docs, "Service", "-operator-metrics")
        assert service["spec"]["ports"][0]["port"] == 9091
        assert container["image"] == "registry.example.org/sem/semingest-operator:0.1.0-rc1"
        assert container["imagePullPolicy"] == "Always"
        assert config.default_image == "registry.example.org/sem/semingest-worker:0.1.0-rc1"
        assert env["TZ"] == "Europe/Rome"


def test_health_and_metrics_ports_must_differ(helm: Path):
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", "operator.metricsPort=8080")
    assert (
        result.returncode != 0 and "operator.healthPort and operator.metricsPort must differ" in result.stderr
    )


def test_stopped_operator_has_no_replicas(rendered):
    name, docs = rendered
    if name == "stopped":
        assert one(docs, "Deployment", "-operator")["spec"]["replicas"] == 0


def test_node_selector_and_tolerations_reach_the_pods(rendered):
    name, docs = rendered
    if name != "placement":
        for spec in pod_specs(docs):
            assert "nodeSelector" not in spec and "tolerations" not in spec
        return
    specs = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    # operator, MariaDB and the web catalogue (the short schema-upgrade Job runs anywhere)
    assert len(specs) == 3
    for spec in specs:
        assert spec["nodeSelector"] == PLACEMENT["nodeSelector"]
        assert spec["tolerations"] == PLACEMENT["tolerations"]
        assert spec["affinity"] == PLACEMENT["affinity"]
    assert one(docs, "Deployment", "-operator")["spec"]["template"]["spec"]["priorityClassName"] == (
        "system-cluster-critical"
    )


# --- RBAC ---------------------------------------------------------------------------------------


def _rules(role: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    return [
        (group, resource, set(rule["verbs"]))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    ]


def _allowed(role: dict[str, Any], group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for g, r, v in _rules(role):
        if (g, r) == (group, resource):
            verbs |= v
    return verbs


def test_no_rbac_rule_uses_wildcards_or_reads_secrets(rendered):
    name, docs = rendered
    for role in objects(docs, "Role") + objects(docs, "ClusterRole"):
        for group, resource, verbs in _rules(role):
            assert "*" not in (group, resource) and "*" not in verbs, (name, role["metadata"]["name"])
            assert resource != "secrets", f"{role['metadata']['name']} may touch secrets"


def test_spark_driver_may_only_patch_semingest_status(rendered):
    name, docs = rendered
    roles = [r for r in objects(docs, "Role") if r["metadata"]["name"].endswith("-spark-driver")]
    if name == "existing-service-accounts":
        assert roles == []  # the site brings its own driver ServiceAccount and rights
        return
    assert roles
    for role in roles:
        semingest_rules = [(r, v) for g, r, v in _rules(role) if g == "semingest.io"]
        assert semingest_rules == [("semingests/status", {"patch"})], (name, semingest_rules)
        # What Spark's Kubernetes scheduler needs in client mode, and nothing more (issue 13).
        assert _allowed(role, "", "pods") == {"create", "get", "list", "watch", "delete", "deletecollection"}
        assert _allowed(role, "", "configmaps") == {"create", "get", "list", "delete", "deletecollection"}
        for resource in ("services", "persistentvolumeclaims", "secrets", "serviceaccounts"):
            assert not _allowed(role, "", resource), resource
        assert {g for g, _, _ in _rules(role)} == {"", "semingest.io"}
    bindings = [b for b in objects(docs, "RoleBinding") if b["metadata"]["name"].endswith("-spark-driver")]
    for binding in bindings:
        (subject,) = binding["subjects"]
        assert subject["name"] == "semingest-driver"
        assert subject["namespace"] == binding["metadata"]["namespace"]


def test_operator_rights(rendered):
    name, docs = rendered
    namespaced = [r for r in objects(docs, "Role") if r["metadata"]["name"].endswith("-operator")]
    namespaced += [r for r in objects(docs, "ClusterRole") if r["metadata"]["name"].endswith("-operator")]
    assert namespaced
    for role in namespaced:
        assert {"get", "list", "watch", "patch"} <= _allowed(role, "semingest.io", "semingests")
        assert "patch" in _allowed(role, "semingest.io", "semingests/status")
        assert {"create", "delete"} & _allowed(role, "semingest.io", "semingests") == set()
        assert {"create", "get", "list", "watch", "delete"} <= _allowed(
            role, "sparkoperator.k8s.io", "sparkapplications"
        )
        for resource in ("pods", "services", "configmaps"):
            assert {"create", "get", "list", "watch", "delete"} <= _allowed(role, "", resource)
        assert "create" in _allowed(role, "", "events")
    cluster = one(docs, "ClusterRole", "-operator-cluster")
    assert {"list"} <= _allowed(cluster, "", "nodes")
    # Cluster-wide the operator reads nodes (auto sizing), CRDs and namespaces (kopf), and may only
    # patch SemIngests (kopf's finalizer, after a namespace deletion took the Role: see the chart).
    for group, resource, verbs in _rules(cluster):
        allowed = (
            {"patch"} if (group, resource) == ("semingest.io", "semingests") else {"get", "list", "watch"}
        )
        assert verbs <= allowed, (group, resource, verbs)


@pytest.mark.parametrize(
    ("value_set", "operator_namespaces", "driver_namespaces"),
    [
        ("defaults", [NAMESPACE], [NAMESPACE]),
        ("watched-namespaces", ["lab-a", "lab-b"], ["lab-a", "lab-b"]),
        ("all-namespaces", None, [NAMESPACE, "lab-a"]),
    ],
)
def test_rights_are_bound_in_the_watched_namespaces_only(
    helm: Path, tmp_path: Path, value_set, operator_namespaces, driver_namespaces
):
    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS[value_set]))
    docs = template(helm, values_file)
    operator_bindings = [
        b for b in objects(docs, "RoleBinding") if b["metadata"]["name"].endswith("-operator")
    ]
    cluster_binding = [
        b for b in objects(docs, "ClusterRoleBinding") if b["metadata"]["name"].endswith("-operator")
    ]
    if operator_namespaces is None:
        assert operator_bindings == [] and len(cluster_binding) == 1
    else:
        assert sorted(b["metadata"]["namespace"] for b in operator_bindings) == operator_namespaces
        assert cluster_binding == []
        for binding in operator_bindings:
            assert binding["subjects"][0]["namespace"] == NAMESPACE  # the operator's own SA
    driver_accounts = [
        sa for sa in objects(docs, "ServiceAccount") if sa["metadata"]["name"] == "semingest-driver"
    ]
    assert sorted(sa["metadata"]["namespace"] for sa in driver_accounts) == sorted(driver_namespaces)


def test_existing_service_accounts_are_used_not_created(helm: Path, tmp_path: Path):
    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS["existing-service-accounts"]))
    docs = template(helm, values_file)
    assert objects(docs, "ServiceAccount") == []
    deployment = one(docs, "Deployment", "-operator")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "site-operator"
    _, config, _, _ = _operator_view(docs)
    assert config.driver_service_account == "site-driver"
    for binding in objects(docs, "RoleBinding") + objects(docs, "ClusterRoleBinding"):
        assert binding["subjects"][0]["name"] == "site-operator"


# --- database -----------------------------------------------------------------------------------


def _url_secrets(docs):
    return [s for s in objects(docs, "Secret") if s["metadata"]["name"] == "semingest-db"]


def test_no_database_objects_by_default(defaults):
    assert objects(defaults, "Secret") == [] and objects(defaults, "StatefulSet") == []


def test_database_url_secret_from_values(helm: Path, tmp_path: Path):
    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS["all-namespaces"]))
    docs = template(helm, values_file)
    secrets = _url_secrets(docs)
    assert sorted(s["metadata"]["namespace"] for s in secrets) == sorted([NAMESPACE, "lab-a"])
    assert {s["stringData"]["url"] for s in secrets} == {"mysql+pymysql://sem:pw@db:3306/sem"}
    assert objects(docs, "StatefulSet") == []


def test_bundled_mariadb_statefulset_service_and_url(helm: Path, tmp_path: Path):
    import sqlalchemy as sa

    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS["watched-namespaces"]))
    docs = template(helm, values_file)
    statefulset = one(docs, "StatefulSet", "-mariadb")
    service = one(docs, "Service", "-mariadb")
    credentials = one(docs, "Secret", "-mariadb")
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert (
        service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    )
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/lib/mysql", "/run/mysqld", "/tmp"}
    # sized for the archive (issue 17): the buffer pool holds ~200,000 images, the memory limit holds it
    assert {"--innodb-buffer-pool-size=1G", "--max-connections=300"} <= set(container["args"])
    assert container["resources"]["limits"]["memory"] == "1536Mi"
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") for e in container["env"]}
    assert env["MARIADB_PASSWORD"] == credentials["metadata"]["name"]
    # The credentials survive `helm uninstall`, like the volume, so a re-install can open the data.
    assert credentials["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    secrets = _url_secrets(docs)
    assert sorted(s["metadata"]["namespace"] for s in secrets) == ["lab-a", "lab-b"]
    urls = {s["stringData"]["url"] for s in secrets}
    assert len(urls) == 1, "every namespace's copy must carry the same password"
    url = sa.make_url(urls.pop())
    assert url.drivername == "mysql+pymysql"
    assert url.host == f"{service['metadata']['name']}.{NAMESPACE}.svc" and url.port == 3306
    assert url.username == credentials["stringData"]["user"] == "semingest"
    assert url.password == credentials["stringData"]["password"] and len(url.password) == 32
    assert url.database == credentials["stringData"]["database"] == "semingest"


def test_bundled_mariadb_uses_a_given_password_and_storage_class(helm: Path, tmp_path: Path):
    values_file = tmp_path / "v.yaml"
    values_file.write_text(
        yaml.safe_dump(
            {"database": {"bundled": {"enabled": True, "password": "s3cret-pw", "storage": {"size": "50Gi"}}}}
        )
    )
    docs = template(helm, values_file)
    (secret,) = _url_secrets(docs)
    assert ":s3cret-pw@" in secret["stringData"]["url"]
    (claim,) = one(docs, "StatefulSet", "-mariadb")["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert "storageClassName" not in claim["spec"]


# --- the schema upgrade hook Job ------------------------------------------------------------------


def _upgrade_job(docs):
    return one(docs, "Job", "-db-upgrade")


def _hooks(obj) -> set[str]:
    return set(obj["metadata"]["annotations"]["helm.sh/hook"].split(","))


def test_schema_upgrade_job_with_a_database_url_runs_before_install_and_upgrade(helm: Path, tmp_path: Path):
    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS["database-url"]))
    docs = template(helm, values_file)
    job = _upgrade_job(docs)
    hook_secret = one(docs, "Secret", "-db-upgrade")
    # Before the release's objects (and so before any ingest of the new release); the URL comes in
    # a hook Secret created first (the release's own Secret does not exist yet at pre-install).
    assert _hooks(job) == _hooks(hook_secret) == {"pre-install", "pre-upgrade"}
    weight = lambda o: int(o["metadata"]["annotations"]["helm.sh/hook-weight"])  # noqa: E731
    assert weight(hook_secret) < weight(job)
    assert hook_secret["stringData"]["url"] == VALUE_SETS["database-url"]["database"]["url"]
    for obj in (job, hook_secret):
        assert "hook-succeeded" in obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "semingest-worker:0.1.0"
    assert container["args"][:3] == ["semingest", "db", "upgrade"] and "--wait" in container["args"]
    (env,) = container["env"]
    assert env["name"] == "SEMINGEST_DATABASE_URL"
    assert env["valueFrom"]["secretKeyRef"] == {"name": hook_secret["metadata"]["name"], "key": "url"}
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False


def test_schema_upgrade_job_with_the_bundled_mariadb_runs_after_install(helm: Path, tmp_path: Path):
    import sqlalchemy as sa

    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS["bundled-mariadb"]))
    docs = template(helm, values_file)
    job = _upgrade_job(docs)
    # The server is created with the release: after install; before the objects of an upgrade.
    assert _hooks(job) == {"post-install", "pre-upgrade"}
    assert objects(docs, "Secret") and not [
        s for s in objects(docs, "Secret") if s["metadata"]["name"].endswith("-db-upgrade")
    ]
    credentials = one(docs, "Secret", "-mariadb")
    service = one(docs, "Service", "-mariadb")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    # $(VAR) references are expanded only from variables defined earlier in the list.
    assert names == ["DB_USER", "DB_PASSWORD", "SEMINGEST_DATABASE_URL"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"][:2]}
    assert refs == {
        "DB_USER": {"name": credentials["metadata"]["name"], "key": "user"},
        "DB_PASSWORD": {"name": credentials["metadata"]["name"], "key": "password"},
    }
    url = sa.make_url(container["env"][2]["value"])
    assert (url.username, url.password) == ("$(DB_USER)", "$(DB_PASSWORD)")
    assert url.host == f"{service['metadata']['name']}.{NAMESPACE}.svc" and url.database == "semingest"


def test_no_schema_upgrade_job_without_a_known_database_or_when_disabled(
    helm: Path, tmp_path: Path, defaults
):
    assert objects(defaults, "Job") == []
    values_file = tmp_path / "v.yaml"
    values_file.write_text(
        yaml.safe_dump({"database": {"url": "mysql+pymysql://u:p@db/sem", "migrate": {"enabled": False}}})
    )
    assert objects(template(helm, values_file), "Job") == []
    # Only per-namespace URLs: the tenants' users may not alter tables; the admin runs the upgrade.
    per_namespace = template(
        helm,
        None,
        "--set",
        "watch.namespaces={lab-a}",
        "--set",
        "database.namespaceUrls.lab-a=mysql+pymysql://a@db/a",
    )
    assert objects(per_namespace, "Job") == []
    assert not [s for s in objects(per_namespace, "Secret") if s["metadata"]["name"].endswith("-db-upgrade")]


# --- ServiceMonitor and NOTES -------------------------------------------------------------------


def test_service_monitor_scrapes_the_metrics_service(rendered):
    name, docs = rendered
    monitors = objects(docs, "ServiceMonitor")
    if name != "service-monitor":
        assert monitors == []
        return
    (monitor,) = monitors
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = one(docs, "Service", "-operator-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (
        endpoint["port"] in {p["name"] for p in service["spec"]["ports"]} and endpoint["path"] == "/metrics"
    )


# --- Grafana dashboard and PrometheusRule: every series they query is one the operator exports ---

# A PromQL name not followed by "(" (functions) nor part of a longer name; label matchers follow.
_SELECTOR = re.compile(r"\b(semingest_[a-z_]+)\b(?:\{([^}]*)\})?")
_GROUPING = re.compile(r"\b(?:by|on|ignoring|without)\s*\(([^)]*)\)")


def _exported() -> dict[str, set[str]]:
    """Series name -> label names, of the operator's metrics (test_operator_main checks that
    Metrics.series is what the operator really serves)."""
    from semingest_operator.metrics import Metrics

    return {name: set(labels) for name, labels in Metrics().series.items()}


def _queries(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(where, PromQL) of the dashboard's panels and variables and of the alert rules."""
    found = []
    dashboard = json.loads(one(docs, "ConfigMap", "-dashboard")["data"]["semingest.json"])
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"variable {variable['name']}", variable["definition"]))
    for group in one(docs, "PrometheusRule")["spec"]["groups"]:
        for rule in group["rules"]:
            found.append((f"alert {rule['alert']}", rule["expr"]))
    return found


@pytest.fixture(scope="module")
def monitoring(helm: Path, tmp_path_factory) -> list[dict[str, Any]]:
    values_file = tmp_path_factory.mktemp("values") / "monitoring.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS["monitoring"]))
    return template(helm, values_file)


def test_dashboard_and_alerts_query_only_what_the_operator_exports(monitoring):
    exported = _exported()
    queries = _queries(monitoring)
    used: set[str] = set()
    assert len(queries) >= 15
    for where, expr in queries:
        names = _SELECTOR.findall(expr)
        assert names, f"{where}: queries no semingest metric: {expr}"
        labels_here: set[str] = set()
        for name, matchers in names:
            assert name in exported, f"{where}: {name} is not exported by the operator ({sorted(exported)})"
            used.add(name)
            labels_here |= exported[name]
            for matcher in filter(None, (m.strip() for m in matchers.split(","))):
                label = re.split(r"[=!~]", matcher, maxsplit=1)[0].strip()
                assert label in exported[name], f"{where}: {name} has no label {label!r}"
        for grouping in _GROUPING.findall(expr):
            for label in filter(None, (g.strip() for g in grouping.split(","))):
                assert label in labels_here, f"{where}: no metric of {expr!r} has the label {label!r}"
    assert {"semingest_run_files", "semingest_last_success_timestamp_seconds"} <= used
    # what the issue asks to alert on is there
    alerts = {where for where, _ in queries if where.startswith("alert")}
    assert alerts == {
        "alert SemIngestRunFailed",
        "alert SemIngestNoRecentSuccess",
        "alert SemIngestHighFailedFileRatio",
    }


def test_the_check_catches_a_metric_the_operator_does_not_export(monitoring):
    docs = copy.deepcopy(monitoring)
    rule = one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"][0]
    rule["expr"] = rule["expr"].replace("semingest_ingest_phase", "semingest_runs")  # the old name
    with pytest.raises(AssertionError, match="semingest_runs is not exported"):
        test_dashboard_and_alerts_query_only_what_the_operator_exports(docs)
    docs = copy.deepcopy(monitoring)
    rule = one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"][0]
    rule["expr"] = rule["expr"].replace('phase="Failed"', 'state="Failed"')
    with pytest.raises(AssertionError, match="has no label 'state'"):
        test_dashboard_and_alerts_query_only_what_the_operator_exports(docs)


def test_dashboard_configmap_is_labelled_for_the_grafana_sidecar(monitoring, defaults):
    assert not objects(defaults, "PrometheusRule") and not [
        d for d in objects(defaults, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")
    ], "both are off by default"
    cm = one(monitoring, "ConfigMap", "-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "semingest"}
    dashboard = json.loads(cm["data"]["semingest.json"])
    assert dashboard["uid"] == "semingest" and dashboard["panels"]
    assert json.loads((CHART / "dashboards" / "semingest.json").read_text()) == dashboard
    rule = one(monitoring, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    ratio = next(
        r for r in rule["spec"]["groups"][0]["rules"] if r["alert"] == "SemIngestHighFailedFileRatio"
    )
    assert ratio["expr"].rstrip().endswith("> 0.25")
    assert "{{ $labels.namespace }}/{{ $labels.name }}" in ratio["annotations"]["summary"], (
        "Prometheus templates kept"
    )
    args = operator_container(monitoring)["args"]
    assert "--log-format=json" in args


def test_notes_show_a_first_semingest_that_the_crd_accepts(helm: Path):
    from semingest_api.spec import parse_spec

    result = run_helm(
        helm, "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", "--set",
        "database.bundled.enabled=true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    example = yaml.safe_load(notes.split("cat <<'YAML' | kubectl apply -f -\n", 1)[1].split("\nYAML\n", 1)[0])
    assert example["kind"] == "SemIngest" and example["metadata"]["namespace"] == NAMESPACE
    parsed = parse_spec(example["spec"])
    assert parsed.backend == "native" and parsed.database.secret_name == "semingest-db"
    assert "kubectl -n sem-system wait --for=condition=Succeeded semingest/first-ingest" in notes
    assert "kubectl -n sem-system get semingest" in notes
    assert f"rollout status deployment/{RELEASE}-semingest-operator" in notes


def test_schema_check_is_not_vacuous(defaults):
    """The strict Kubernetes schemas do catch a misspelt field in a rendered object."""
    deployment = copy.deepcopy(one(defaults, "Deployment", "-operator"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # wrong case: not a field
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_spark_pod_admission_policy_bounds_what_the_driver_may_create(helm: Path):
    docs = template(
        helm,
        None,
        "--api-versions",
        "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
        "--set",
        "security.allowedHostPaths={/data/sem}",
    )
    policy = one(docs, "ValidatingAdmissionPolicy")
    (condition,) = policy["spec"]["matchConditions"]
    assert "endsWith(':semingest-driver')" in condition["expression"]
    assert policy["spec"]["variables"] == [{"name": "hostPrefixes", "expression": '["/data/sem"]'}]
    messages = " ".join(v["message"] for v in policy["spec"]["validations"])
    assert "own ServiceAccount (semingest-driver)" in messages and "privileged" in messages
    binding = one(docs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    # Clusters without the API (Kubernetes < 1.30) get no policy rather than a failed install.
    assert objects(template(helm, None), "ValidatingAdmissionPolicy") == []


def test_network_policy_per_workload_namespace(helm: Path):
    docs = template(helm, None, "--set", "watch.namespaces={lab-a,lab-b}")
    policies = objects(docs, "NetworkPolicy")
    assert sorted(p["metadata"]["namespace"] for p in policies) == ["lab-a", "lab-b"]
    spec = policies[0]["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "semingest-operator"}}
    assert spec["ingress"] == [{"from": [{"podSelector": spec["podSelector"]}]}]
    assert objects(template(helm, None, "--set", "networkPolicy.enabled=false"), "NetworkPolicy") == []


def test_bundled_mariadb_root_password_comes_from_the_secret_not_the_log(helm: Path):
    docs = template(helm, None, "--set", "database.bundled.enabled=true")
    env = {e["name"]: e for c in pod_specs(docs) for ct in c["containers"] for e in ct.get("env", [])}
    assert "MARIADB_RANDOM_ROOT_PASSWORD" not in env  # the image would print the generated password
    assert env["MARIADB_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "root-password"


def test_per_namespace_database_credentials(helm: Path):
    docs = template(
        helm,
        None,
        "--set",
        "watch.namespaces={lab-a,lab-b}",
        "--set",
        "database.namespaceUrls.lab-a=mysql+pymysql://a:pa@db/a",
        "--set",
        "database.namespaceUrls.lab-b=mysql+pymysql://b:pb@db/b",
    )
    urls = {s["metadata"]["namespace"]: s["stringData"]["url"] for s in objects(docs, "Secret")}
    assert urls == {"lab-a": "mysql+pymysql://a:pa@db/a", "lab-b": "mysql+pymysql://b:pb@db/b"}
    missing = run_helm(helm, "template", "t", str(CHART), "--set", "watch.namespaces={lab-a,lab-b}",
                       "--set", "database.namespaceUrls.lab-a=mysql+pymysql://a@db/a")  # fmt: skip
    assert missing.returncode != 0 and "no URL for namespace lab-b" in missing.stderr


# --- the web catalogue --------------------------------------------------------------------------


def _web(helm: Path, tmp_path: Path, value_set: str) -> list[dict[str, Any]]:
    values_file = tmp_path / "v.yaml"
    values_file.write_text(yaml.safe_dump(VALUE_SETS[value_set]))
    return template(helm, values_file)


def test_no_web_catalogue_by_default(defaults):
    assert not [d for d in defaults if d["metadata"]["name"].endswith("-web")]


def test_web_catalogue_runs_serve_read_only_like_the_operator(helm: Path, tmp_path: Path, defaults):
    docs = _web(helm, tmp_path, "web-bundled")
    deployment = one(docs, "Deployment", "-web")
    service = one(docs, "Service", "-web")
    assert not objects(docs, "Ingress")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:2] == ["semingest", "serve"] and "--host" in container["args"]
    assert (
        container["image"]
        == "semingest-worker:" + yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    )
    env = {e["name"]: e for e in container["env"]}
    ref = env["SEMINGEST_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "semingest-db-readonly", "key": "url"}
    assert env["MPLCONFIGDIR"]["value"].startswith("/tmp")
    # the operator's security context, pod and container
    operator_pod = one(defaults, "Deployment", "-operator")["spec"]["template"]["spec"]
    assert pod["securityContext"] == operator_pod["securityContext"]
    assert container["securityContext"] == operator_container(defaults)["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_web_catalogue_logs_in_as_the_bundled_read_only_user(helm: Path, tmp_path: Path):
    import sqlalchemy as sa

    docs = _web(helm, tmp_path, "web-bundled")
    credentials = one(docs, "Secret", "-mariadb")["stringData"]
    reader = one(docs, "Secret", "semingest-db-readonly")["stringData"]["url"]
    writer = next(s for s in _url_secrets(docs))["stringData"]["url"]
    reader_url, writer_url = sa.make_url(reader), sa.make_url(writer)
    assert reader_url.username == credentials["readonly-user"] != writer_url.username
    assert reader_url.password == credentials["readonly-password"] != writer_url.password
    assert (reader_url.host, reader_url.database) == (writer_url.host, writer_url.database)
    script = one(docs, "ConfigMap", "-mariadb-initdb")["data"]["readonly-user.sh"]
    assert "GRANT SELECT ON" in script and "ALL" not in script and "INSERT" not in script
    (mariadb,) = one(docs, "StatefulSet", "-mariadb")["spec"]["template"]["spec"]["containers"]
    assert "/docker-entrypoint-initdb.d" in {m["mountPath"] for m in mariadb["volumeMounts"]}
    assert {"SEMINGEST_READONLY_USER", "SEMINGEST_READONLY_PASSWORD"} <= {e["name"] for e in mariadb["env"]}


def test_web_catalogue_url_image_and_ingress_from_values(helm: Path, tmp_path: Path):
    docs = _web(helm, tmp_path, "web-url-ingress")
    secret = one(docs, "Secret", "semingest-db-readonly")
    assert secret["stringData"]["url"].startswith("mysql+pymysql://reader:")
    ingress = one(docs, "Ingress", "-web")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["sem-catalogue.example.org"], "secretName": "sem-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == one(docs, "Service", "-web")["metadata"]["name"]
    (container,) = one(docs, "Deployment", "-web")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "semingest-web:0.2.0"


def test_web_catalogue_refuses_the_writers_secret(helm: Path):
    result = run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--set",
        "web.enabled=true",
        "--set",
        "web.database.secret.name=semingest-db",
    )
    assert result.returncode != 0 and "read-only user's Secret" in result.stderr
