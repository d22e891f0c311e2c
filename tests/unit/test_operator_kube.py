"""KubeApi against a local HTTP server answering as kube-apiserver does, plain-text 404s included."""

from __future__ import annotations

import pytest
from aiohttp import web

from semingest_operator.kube import ApiError, KubeApi


@pytest.fixture
async def server():
    async def unknown_resource(_: web.Request) -> web.Response:
        # what kube-apiserver answers for a resource type it does not serve (no SparkApplication CRD)
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")

    async def missing_pod(_: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "Status", "status": "Failure", "reason": "NotFound", "message": 'pods "x" not found'},
            status=404,
        )

    async def pods(_: web.Request) -> web.Response:
        return web.json_response({"kind": "PodList", "items": [{"metadata": {"name": "a"}}]})

    app = web.Application()
    app.router.add_get(
        "/apis/sparkoperator.k8s.io/v1beta2/namespaces/sem/sparkapplications", unknown_resource
    )
    app.router.add_get("/api/v1/namespaces/sem/pods/x", missing_pod)
    app.router.add_get("/api/v1/namespaces/sem/pods", pods)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api = KubeApi(f"http://127.0.0.1:{port}", token="t")
    yield api
    await api.close()
    await runner.cleanup()


async def test_a_plain_text_404_is_an_api_error_not_a_json_error(server):
    """Found against a real kube-apiserver: pruning old runs lists SparkApplications, which a
    cluster without the spark-operator answers with text; the operator skips that kind."""
    with pytest.raises(ApiError) as err:
        await server.list("/apis/sparkoperator.k8s.io/v1beta2/namespaces/sem/sparkapplications")
    assert err.value.status == 404 and "404 page not found" in str(err.value)
    assert await server.get("/api/v1/namespaces/sem/pods/x") is None
    assert [p["metadata"]["name"] for p in await server.list("/api/v1/namespaces/sem/pods")] == ["a"]
