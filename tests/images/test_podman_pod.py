"""podman_pod: a pod spec's container becomes the podman run arguments a kubelet's settings mean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from podman_pod import SECCOMP_DEFAULT, PodSpecError, podman_run_args

POD = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 185,
        "runAsGroup": 185,
        "fsGroup": 185,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "volumes": [
        {"name": "source", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
        {"name": "out", "hostPath": {"path": "/srv/out"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "templates", "configMap": {"name": "t"}},
    ],
}
CONTAINER = {
    "name": "c",
    "command": ["spark-submit"],
    "args": ["--master", "local[1]", 7],
    "env": [
        {"name": "A", "value": "1"},
        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "sem-db", "key": "url"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ],
    "volumeMounts": [
        {"name": "source", "mountPath": "/data/source"},
        {"name": "out", "mountPath": "/out"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "templates", "mountPath": "/t"},
    ],
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    },
}


def test_the_whole_translation():
    if not SECCOMP_DEFAULT.is_file():
        pytest.fail(f"{SECCOMP_DEFAULT} is missing (Debian's podman installs it)")
    args = podman_run_args(
        POD,
        CONTAINER,
        image="img:1",
        host_dirs={"source": Path("/h/src"), "out": Path("/h/out"), "templates": Path("/h/t")},
        secrets={("sem-db", "url"): "sqlite:///x.db"},
        fields={"metadata.namespace": "sem"},
        extra=["--network", "host"],
    )
    assert args == [
        "--rm",
        "--user",
        "185:185",
        "--group-add",
        "185",
        "--read-only",
        "--read-only-tmpfs=false",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        f"seccomp={SECCOMP_DEFAULT}",
        "--env",
        "A=1",
        "--env",
        "DB=sqlite:///x.db",
        "--env",
        "NS=sem",
        "--volume",
        "/h/src:/data/source:ro",
        "--volume",
        "/h/out:/out:rw",
        "--mount",
        f"type=tmpfs,destination=/tmp,tmpfs-mode=1777,tmpfs-size={64 * 2**20}",
        "--volume",
        "/h/t:/t:ro",
        "--entrypoint",
        json.dumps(["spark-submit"]),
        "--network",
        "host",
        "img:1",
        "--master",
        "local[1]",
        "7",
    ]


def test_the_kubelet_refuses_root_with_run_as_non_root():
    pod = {"securityContext": {"runAsNonRoot": True, "runAsUser": 0}}
    with pytest.raises(PodSpecError, match="runAsUser 0"):
        podman_run_args(pod, {"name": "c"}, image="i")


@pytest.mark.parametrize(
    ("container", "message"),
    [
        (
            {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
            "Secret s key k",
        ),
        ({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}, "status.podIP"),
        ({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, "no such volume"),
        ({"volumeMounts": [{"name": "out", "mountPath": "/x"}]}, "no host directory given"),
    ],
)
def test_what_cannot_be_provided_is_named(container, message):
    with pytest.raises(PodSpecError, match=message):
        podman_run_args(POD, {"name": "c", **container}, image="i")
