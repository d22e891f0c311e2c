"""A real Kubernetes control plane for the tests: etcd, kube-apiserver and kube-controller-manager
built from their upstream Go modules (``make control-plane``, tools/controlplane/), started on
loopback with free ports. No kubelet and no scheduler: pods are accepted and stay Pending unless a
test patches their status (as admin) the way a kubelet would.

    with ControlPlane.start(workdir) as cp:
        cp.kubectl("get", "ns")                                # as admin (system:masters)
        token = cp.create_token("sem", "semingest-driver")     # TokenRequest, like kubectl create token
        cp.kubeconfig_for_token(token, path)                   # a kubeconfig for that identity
        status, body = cp.request("PATCH", "/api/v1/...", body, token=token)

A component that does not start raises ControlPlaneError with its last log lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .pki import Pki, create_pki

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
BUILD_SCRIPT = REPO / "tools" / "controlplane" / "build.sh"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")
# The controllers a cluster without nodes needs for these tests.
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
)
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LOG_TAIL_LINES = 40


class ControlPlaneError(RuntimeError):
    """A component could not be built or started (the message holds its last log lines)."""


def tool(name: str) -> str:
    """A binary from the project's .tools/bin, else from PATH."""
    local = TOOLS_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ControlPlaneError(
            f"{name} is neither in {TOOLS_BIN} nor on PATH (make setup / make control-plane)"
        )
    return found


def ensure_built(log_dir: Path) -> dict[str, str]:
    """The control-plane binaries, built with tools/controlplane/build.sh when one is missing."""
    if not all((TOOLS_BIN / c).is_file() for c in COMPONENTS):
        log = log_dir / "build.log"
        with log.open("wb") as out:
            proc = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise ControlPlaneError(f"`make control-plane` failed ({proc.returncode}):\n{tail(log)}")
    return {c: str(TOOLS_BIN / c) for c in COMPONENTS}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text[-lines:])


@dataclass
class Process:
    """A child process in its own process group, its output in a log file."""

    name: str
    argv: Sequence[str]
    log: Path
    env: Mapping[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - our own binaries and arguments
                list(self.argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.popen.returncode if self.popen else None
            raise ControlPlaneError(f"{self.name} exited ({code}); last log lines:\n{tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash: no clean-up by the process)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; the process group goes with it."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):  # children left in the group
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


def wait_for(
    check: Any, timeout: float, what: str, interval: float = 0.2, *, process: Process | None = None
) -> Any:
    """Poll ``check()`` until truthy; ``process`` must stay alive meanwhile."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive()
        try:
            value = check()
            if value:
                return value
        except (OSError, AssertionError, KeyError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    detail = f"\nlast log lines of {process.name}:\n{tail(process.log)}" if process else ""
    raise ControlPlaneError(
        f"timed out after {timeout:.0f}s waiting for {what} (last error: {last!r}){detail}"
    )


@dataclass
class ControlPlane:
    workdir: Path
    pki: Pki
    server: str
    admin_kubeconfig: Path
    processes: list[Process]

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def start(cls, workdir: Path) -> Iterator[ControlPlane]:
        workdir.mkdir(parents=True, exist_ok=True)
        logs = workdir / "logs"
        logs.mkdir(exist_ok=True)
        binaries = ensure_built(logs)
        pki = create_pki(workdir / "pki")
        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        server = f"https://127.0.0.1:{api_port}"
        admin = workdir / "admin.kubeconfig"
        write_kubeconfig(admin, server, pki.ca.cert, user="admin", cert=pki.admin.cert, key=pki.admin.key)
        kcm_kubeconfig = workdir / "kube-controller-manager.kubeconfig"
        write_kubeconfig(
            kcm_kubeconfig,
            server,
            pki.ca.cert,
            user="system:kube-controller-manager",
            cert=pki.controller_manager.cert,
            key=pki.controller_manager.key,
        )
        cp = cls(workdir, pki, server, admin, [])
        try:
            etcd_url = f"http://127.0.0.1:{etcd_port}"
            etcd = cp._spawn(
                "etcd",
                [
                    binaries["etcd"],
                    "--name=default",
                    f"--data-dir={workdir / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync=true",  # a throw-away store: no fsync on a shared disk
                    "--listen-metrics-urls=",
                ],
            )
            wait_for(lambda: _http_ok(f"{etcd_url}/health"), 60, "etcd /health", process=etcd)
            api = cp._spawn(
                "kube-apiserver",
                [
                    binaries["kube-apiserver"],
                    f"--etcd-servers={etcd_url}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    f"--cert-dir={workdir / 'apiserver-certs'}",
                    f"--tls-cert-file={pki.serving.cert}",
                    f"--tls-private-key-file={pki.serving.key}",
                    f"--client-ca-file={pki.ca.cert}",
                    "--authorization-mode=Node,RBAC",
                    f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                    f"--service-account-key-file={pki.sa_public_key}",
                    f"--service-account-signing-key-file={pki.sa_private_key}",
                    "--service-cluster-ip-range=10.0.0.0/24",
                    "--allow-privileged=true",
                    "--profiling=false",
                    "--endpoint-reconciler-type=none",
                ],
            )
            wait_for(cp.ready, 120, "kube-apiserver /readyz", interval=0.5, process=api)
            kcm = cp._spawn(
                "kube-controller-manager",
                [
                    binaries["kube-controller-manager"],
                    f"--kubeconfig={kcm_kubeconfig}",
                    "--leader-elect=false",
                    "--secure-port=0",
                    f"--controllers={','.join(CONTROLLERS)}",
                    f"--service-account-private-key-file={pki.sa_private_key}",
                    f"--root-ca-file={pki.ca.cert}",
                    # Each controller with its own ServiceAccount and bootstrap role (as kubeadm
                    # does): the manager's own identity may not delete pods or namespace content.
                    "--use-service-account-credentials=true",
                    "--concurrent-gc-syncs=5",
                ],
            )
            # The serviceaccount controller gives every namespace its "default" ServiceAccount.
            wait_for(
                lambda: cp.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
                90,
                "kube-controller-manager (the default ServiceAccount)",
                interval=0.5,
                process=kcm,
            )
            yield cp
        finally:
            cp.stop()

    def _spawn(self, name: str, argv: list[str]) -> Process:
        proc = Process(name, argv, self.workdir / "logs" / f"{name}.log").start()
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def check_alive(self) -> None:
        for proc in self.processes:
            proc.check_alive()

    def component(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def ready(self) -> bool:
        status, _ = self.request("GET", "/readyz")
        return status == 200

    # -- talking to it ---------------------------------------------------------------------------
    def ssl_context(self, *, client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        if client_cert:
            ctx.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, Any]:
        """(HTTP status, decoded JSON body) as admin, or as the bearer of ``token``."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = f"Bearer {token}"
        ctx = self.ssl_context(client_cert=token is None)
        # 429 "storage is (re)initializing" (a CRD just established) asks to retry after a while, as
        # client-go does by itself.
        for _ in range(20):
            req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)  # noqa: S310
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:  # noqa: S310
                    raw = resp.read()
                    status = resp.status
            except urllib.error.HTTPError as exc:
                raw, status = exc.read(), exc.code
                if status == 429:
                    time.sleep(float(exc.headers.get("Retry-After") or 1))
                    continue
            break
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        input: str | None = None,  # noqa: A002 - subprocess's name
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        return run_tool(
            [tool("kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args],
            input=input,
            check=check,
            timeout=timeout,
        )

    def helm(
        self, *args: str, check: bool = True, timeout: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        return run_tool(
            [tool("helm"), f"--kubeconfig={self.admin_kubeconfig}", *args],
            check=check,
            timeout=timeout,
            env={
                **os.environ,
                "HELM_CACHE_HOME": str(self.workdir / "helm"),
                "HELM_CONFIG_HOME": str(self.workdir / "helm"),
            },
        )

    def apply(self, manifest: Mapping[str, Any] | Sequence[Mapping[str, Any]] | str) -> None:
        """``kubectl apply`` (server-side) of a manifest, a list of them, or YAML text, as admin."""
        if not isinstance(manifest, str):
            docs = [manifest] if isinstance(manifest, Mapping) else list(manifest)
            manifest = yaml.safe_dump_all([dict(d) for d in docs])
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest)

    def get(self, path: str, *, token: str | None = None) -> dict[str, Any] | None:
        status, body = self.request("GET", path, token=token)
        if status == 404:
            return None
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def wait_crd_established(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        """The CRD once its Established condition is True (kubectl wait fails while a new CRD has
        no conditions yet)."""

        def established() -> dict[str, Any] | None:
            crd = self.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = ((crd or {}).get("status") or {}).get("conditions") or []
            ok = any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
            return crd if ok else None

        return wait_for(established, timeout, f"CRD {name} to be Established")

    def create_namespace(self, name: str) -> None:
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def create_token(self, namespace: str, service_account: str, duration: str = "2h") -> str:
        """A token of the ServiceAccount, issued by the API server (TokenRequest)."""
        out = self.kubectl("create", "token", service_account, "-n", namespace, f"--duration={duration}")
        return out.stdout.strip()

    def kubeconfig_for_token(self, token: str, path: Path, *, namespace: str = "default") -> Path:
        write_kubeconfig(path, self.server, self.pki.ca.cert, user="token", token=token, namespace=namespace)
        return path


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback etcd
        return resp.status == 200


def run_tool(
    argv: list[str],
    *,
    input: str | None = None,  # noqa: A002
    check: bool = True,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(  # noqa: S603
        argv, input=input, capture_output=True, text=True, timeout=timeout, env=dict(env) if env else None
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv[:4])} ... exited {proc.returncode}\nstdout: {proc.stdout[-2000:]}\n"
            f"stderr: {proc.stderr[-2000:]}"
        )
    return proc


def write_kubeconfig(
    path: Path,
    server: str,
    ca: Path,
    *,
    user: str,
    cert: Path | None = None,
    key: Path | None = None,
    token: str | None = None,
    namespace: str = "default",
) -> None:
    credentials: dict[str, str] = {}
    if cert and key:
        credentials = {"client-certificate": str(cert), "client-key": str(key)}
    if token:
        credentials["token"] = token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user, "namespace": namespace}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
