"""Run a container of a rendered pod with podman the way a kubelet would start it (test helper).

``podman_run_args(pod_spec, container, ...)`` turns a Kubernetes pod spec and one of its containers
(as the chart or the operator's renderer produce them) into ``podman run`` arguments:

* the pod's and the container's security context: runAsUser/runAsGroup (``--user``), fsGroup
  (``--group-add``), runAsNonRoot (refused here, as the kubelet refuses, when the uid is 0),
  readOnlyRootFilesystem (``--read-only``, without podman's extra tmpfs mounts: only the pod's
  volumes are writable), capabilities (``--cap-drop``/``--cap-add``), allowPrivilegeEscalation:
  false (``no-new-privileges``), privileged, seccomp RuntimeDefault (podman's default profile,
  named explicitly) or Unconfined;
* ``command``/``args`` (``command`` replaces the image's entry point, as in Kubernetes);
* ``env`` values, with ``secretKeyRef`` looked up in ``secrets`` and ``fieldRef`` in ``fields``;
* the volume mounts: emptyDir as a tmpfs (mode 1777, like an emptyDir's 0777 directory), every
  other volume (persistentVolumeClaim, hostPath, configMap) from a host directory the caller
  gives per volume name, read-only where the mount or the claim says so.

What a kubelet does that this does not: pull policy, resource limits (cgroups), probes, the
service account token and the API server's environment variables, cluster DNS, the pod network
namespace shared by its containers, fsGroup ownership changes on volumes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECCOMP_DEFAULT = Path("/usr/share/containers/seccomp.json")


class PodSpecError(Exception):
    """The pod cannot be started the way a kubelet would (the kubelet would refuse it too)."""


def _merged_security(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    pod = dict(pod_spec.get("securityContext") or {})
    own = dict(container.get("securityContext") or {})
    merged = {k: pod[k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile") if k in pod}
    merged.update(own)
    merged["fsGroup"] = pod.get("fsGroup")
    return merged


def security_args(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    sec = _merged_security(pod_spec, container)
    args: list[str] = []
    uid = sec.get("runAsUser")
    if sec.get("runAsNonRoot"):
        if uid is None:
            raise PodSpecError("runAsNonRoot without runAsUser: give the uid (the image's USER is not read)")
        if int(uid) == 0:
            raise PodSpecError("runAsNonRoot with runAsUser 0: the kubelet refuses to start it")
    if uid is not None:
        gid = sec.get("runAsGroup")
        args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    if sec.get("fsGroup") is not None:
        args += ["--group-add", str(sec["fsGroup"])]
    if sec.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]
    if sec.get("privileged"):
        args.append("--privileged")
    caps = sec.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        args += ["--cap-drop", str(cap)]
    for cap in caps.get("add") or []:
        args += ["--cap-add", str(cap)]
    if sec.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    seccomp = (sec.get("seccompProfile") or {}).get("type")
    if seccomp == "RuntimeDefault":
        if not SECCOMP_DEFAULT.is_file():
            raise PodSpecError(
                f"seccomp RuntimeDefault: podman's default profile {SECCOMP_DEFAULT} is missing"
            )
        args += ["--security-opt", f"seccomp={SECCOMP_DEFAULT}"]
    elif seccomp == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    elif seccomp is not None:
        raise PodSpecError(f"seccompProfile type {seccomp!r} is not supported here")
    return args


def env_args(
    container: Mapping[str, Any],
    secrets: Mapping[tuple[str, str], str],
    fields: Mapping[str, str],
) -> list[str]:
    args: list[str] = []
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            value = str(item["value"])
        else:
            source = item.get("valueFrom") or {}
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                key = (ref["name"], ref["key"])
                if key not in secrets:
                    raise PodSpecError(f"env {name}: Secret {key[0]} key {key[1]} was not given")
                value = secrets[key]
            elif "fieldRef" in source:
                path = source["fieldRef"]["fieldPath"]
                if path not in fields:
                    raise PodSpecError(f"env {name}: field {path} was not given")
                value = fields[path]
            else:
                raise PodSpecError(f"env {name}: unsupported valueFrom {sorted(source)}")
        args += ["--env", f"{name}={value}"]
    return args


def volume_args(
    pod_spec: Mapping[str, Any], container: Mapping[str, Any], host_dirs: Mapping[str, Path]
) -> list[str]:
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    args: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name, target = mount["name"], mount["mountPath"]
        volume = volumes.get(name)
        if volume is None:
            raise PodSpecError(f"volumeMount {name}: the pod has no such volume")
        if "emptyDir" in volume:
            size = (volume["emptyDir"] or {}).get("sizeLimit")
            opts = f"type=tmpfs,destination={target},tmpfs-mode=1777"
            if size:
                opts += f",tmpfs-size={_bytes(str(size))}"
            args += ["--mount", opts]
            continue
        if name not in host_dirs:
            raise PodSpecError(f"volume {name} ({sorted(set(volume) - {'name'})}): no host directory given")
        claim = volume.get("persistentVolumeClaim") or {}
        read_only = bool(mount.get("readOnly") or claim.get("readOnly") or "configMap" in volume)
        args += ["--volume", f"{host_dirs[name]}:{target}:{'ro' if read_only else 'rw'}"]
    return args


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def podman_run_args(
    pod_spec: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    image: str,
    host_dirs: Mapping[str, Path] | None = None,
    secrets: Mapping[tuple[str, str], str] | None = None,
    fields: Mapping[str, str] | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """Arguments for ``podman run`` (after ``run``) that start ``container`` of ``pod_spec``."""
    args = ["--rm", *security_args(pod_spec, container)]
    args += env_args(container, secrets or {}, fields or {})
    args += volume_args(pod_spec, container, host_dirs or {})
    if container.get("command"):
        args += ["--entrypoint", json.dumps(list(container["command"]))]
    args += list(extra or [])
    args.append(image)
    args += [str(a) for a in container.get("args") or []]
    return args


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the containers use the host network)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
