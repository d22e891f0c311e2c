"""A small async Kubernetes REST client (aiohttp, which kopf already brings) for the few calls
the operator makes: create, get, list, delete objects of a run, and list nodes."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from semingest_api.spec import KIND, PLURAL

if TYPE_CHECKING:
    import kopf

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

# kind -> (apiVersion path prefix, plural)
_PLURALS = {
    "Pod": "pods",
    "Service": "services",
    "ConfigMap": "configmaps",
    "Node": "nodes",
    "SparkApplication": "sparkapplications",
    KIND: PLURAL,
}


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def temporary(self) -> bool:
        """Worth retrying: server errors, throttling, expired credentials, a write conflict."""
        return self.status >= 500 or self.status in (401, 408, 429) or self.reason == "Conflict"


def collection_path(api_version: str, plural: str, namespace: str | None) -> str:
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


def object_path(api_version: str, kind: str, namespace: str | None, name: str) -> str:
    return f"{collection_path(api_version, _PLURALS[kind], namespace)}/{name}"


class KubeApi:
    """Bearer-token (or client-certificate) client for one API server."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | bool | None = None,
    ):
        self.server = server.rstrip("/")
        self._token = token
        self._token_file = token_file
        self._ssl: ssl.SSLContext | bool = True if ssl_context is None else ssl_context  # True: verify
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def in_cluster(cls) -> KubeApi | None:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        token_file = SERVICE_ACCOUNT_DIR / "token"
        if not host or not port or not token_file.is_file():
            return None
        ctx = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
        host = f"[{host}]" if ":" in host else host
        return cls(f"https://{host}:{port}", token_file=token_file, ssl_context=ctx)

    @classmethod
    def from_connection(cls, info: kopf.ConnectionInfo) -> KubeApi:
        """From a kopf.ConnectionInfo (what kopf's login handlers return)."""
        ctx: ssl.SSLContext | bool | None = None
        if info.server.startswith("https"):
            if info.insecure:
                ctx = False
            else:
                ctx = ssl.create_default_context(
                    cafile=os.fspath(info.ca_path) if info.ca_path else None,
                    cadata=info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data,
                )
                if info.certificate_path and info.private_key_path:
                    ctx.load_cert_chain(os.fspath(info.certificate_path), os.fspath(info.private_key_path))
        return cls(info.server, token=info.token, ssl_context=ctx)

    def _headers(self) -> dict[str, str]:
        token = self._token
        if self._token_file is not None:
            token = Path(self._token_file).read_text().strip()  # kubelet rotates it
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {**self._headers(), "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            async with self._session.request(
                method,
                self.server + path,
                json=body,
                params=params,
                headers=headers,
                ssl=self._ssl,
            ) as resp:
                text = await resp.text()
                data = _json_or_none(text)
                if resp.status >= 400:
                    # an unknown resource type gets a plain-text "404 page not found", not a Status
                    message = data.get("message") if isinstance(data, dict) else text.strip()[:200]
                    reason = data.get("reason") if isinstance(data, dict) else None
                    raise ApiError(resp.status, reason or resp.reason or "", message or "")
                return data if isinstance(data, dict) else {}
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise ApiError(503, "Unavailable", f"{method} {path}: {exc!r}") from exc

    async def get(self, path: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(self, path: str, label_selector: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Items matching the labels (also filtered here: not every server filters)."""
        params = (
            {"labelSelector": ",".join(f"{k}={v}" for k, v in label_selector.items())}
            if label_selector
            else None
        )
        items = (await self.request("GET", path, params=params)).get("items") or []
        if label_selector:
            items = [
                i
                for i in items
                if all(
                    ((i.get("metadata") or {}).get("labels") or {}).get(k) == v
                    for k, v in label_selector.items()
                )
            ]
        return items

    async def create(self, manifest: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the object; (object, False) when it already existed (409): creation is idempotent."""
        meta = manifest["metadata"]
        path = collection_path(manifest["apiVersion"], _PLURALS[manifest["kind"]], meta.get("namespace"))
        try:
            return await self.request("POST", path, body=manifest), True
        except ApiError as exc:
            if exc.status != 409:
                raise
        existing = await self.get(f"{path}/{meta['name']}")
        return existing or dict(manifest), False

    async def patch_status(
        self, path: str, status: Mapping[str, Any], *, resource_version: str | None
    ) -> dict[str, Any]:
        """Merge-patch the object's status subresource. With ``resource_version`` the API server
        applies it only to that version of the object (409 Conflict when it changed since)."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return await self.request(
            "PATCH", f"{path}/status", body=body, content_type="application/merge-patch+json"
        )

    async def delete(self, path: str) -> bool:
        """Delete in the background (dependents too); False when it was already gone."""
        try:
            await self.request("DELETE", path, body={"propagationPolicy": "Background"})
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _json_or_none(text: str) -> Any:
    """The body as JSON; None when it is empty or not JSON."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
