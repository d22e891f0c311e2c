"""The catalogue's web application (FastAPI): HTML pages and the same queries as a JSON API.

Pages: ``/`` (search, facets, sortable keyset-paginated results), ``/images/{hash}``,
``/runs``, ``/report``; thumbnails at ``/thumbnails/{hash}``. API: ``/api/images``,
``/api/facets``, ``/api/images/{hash}``, ``/api/runs``, ``/api/report``, described by
OpenAPI at ``/openapi.json`` (browsable at ``/docs``). Every route is GET: nothing can be written
through the catalogue, and its database connections are read-only too (``readonly``).

Bad query strings (unknown parameters, bad values, a cursor that is not ours) get a 400 that
names every problem, as JSON on ``/api`` and as a page elsewhere.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at definition time.
import json
import re
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..database.engine import redact
from . import query as q
from .readonly import read_only_engine
from .report import build_report, render_report
from .templating import environment

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
FACET_TITLES = (
    ("vendor", "Vendor"),
    ("instrument", "Instrument"),
    ("detector", "Detector"),
    ("category", "Category"),
    ("status", "Status"),
    ("agreement", "Pixel-size agreement"),
    ("duplicates", "Has duplicates"),
)
COLUMNS = (
    ("path", "file"),
    ("vendor", "vendor"),
    ("", "instrument / detector"),
    ("acquired", "acquired"),
    ("pixel_size", "pixel size"),
    ("ratio", "agreement"),
    ("score", "category"),
    ("", "status"),
    ("ingested", "ingested"),
)
NUMERIC = {"pixel_size", "ratio", "score"}


def catalogue_query(
    request: Request,
    q_: Annotated[
        str | None, Query(alias="q", description="text in the path, instrument, detector or label")
    ] = None,
    vendor: Annotated[list[str] | None, Query(description="vendor (repeatable); (none) for unknown")] = None,
    instrument: Annotated[list[str] | None, Query(description="instrument model (repeatable)")] = None,
    detector: Annotated[list[str] | None, Query(description="detector (repeatable)")] = None,
    category: Annotated[
        list[str] | None, Query(description="top-1 category of the model (repeatable)")
    ] = None,
    status: Annotated[list[str] | None, Query(description="ok or failed (repeatable)")] = None,
    agreement: Annotated[
        list[str] | None, Query(description="agree, disagree, unreadable or no_metadata (repeatable)")
    ] = None,
    duplicates: Annotated[list[str] | None, Query(description="yes: has other files with its pixels")] = None,
    acquired_from: Annotated[str | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    acquired_to: Annotated[str | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    pixel_size_min_nm: Annotated[
        str | None, Query(description="pixel size (metadata, else scale bar) >= nm")
    ] = None,
    pixel_size_max_nm: Annotated[str | None, Query(description="pixel size <= nm")] = None,
    score_min: Annotated[str | None, Query(description="top-1 score >= (0..1)")] = None,
    score_max: Annotated[str | None, Query(description="top-1 score <= (0..1)")] = None,
    model: Annotated[str | None, Query(description="inference model (default: the latest run's)")] = None,
    sort: Annotated[
        str | None, Query(description="ingested, acquired, pixel_size, path, vendor, score, ratio")
    ] = None,
    order: Annotated[str | None, Query(description="asc or desc")] = None,
    limit: Annotated[str | None, Query(description=f"rows per page, 1..{q.MAX_LIMIT}")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> q.Query:
    """The validated query (the parameters above are declared for OpenAPI; the raw query string is
    what is validated, so unknown parameters are refused)."""
    return q.parse_query(request.query_params)


def create_app(database_url: str, *, engine: sa.Engine | None = None) -> FastAPI:
    engine = engine or read_only_engine(database_url)
    where = redact(database_url)
    env = environment()
    app = FastAPI(
        title="semingest catalogue",
        version="1",
        description="Read-only catalogue of ingested SEM images: search with facets, image details, runs, report.",
    )
    app.state.engine = engine
    facet_cache = q.FacetCache()

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def html(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        body = env.get_template(template).render(database=where, **context)
        return HTMLResponse(body, status_code=status_code)

    @app.exception_handler(q.QueryError)
    async def _query_error(request: Request, exc: q.QueryError) -> Response:
        if is_api(request):
            return JSONResponse({"detail": exc.problems}, status_code=400)
        empty = q.Page(rows=[], total=0, next_cursor=None, model=None)
        return html("search.html", 400, **_search_context(q.Query(), empty, {}, problems=exc.problems))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
        return JSONResponse({"detail": problems}, status_code=400)

    def connect():
        with engine.connect() as conn:
            yield conn

    Conn = Annotated[sa.Connection, Depends(connect)]
    Search = Annotated[q.Query, Depends(catalogue_query)]

    def checked_hash(image_hash: str) -> str:
        if not HASH_RE.match(image_hash):
            raise HTTPException(400, "an image is named by its 64-character hex SHA-256")
        return image_hash

    @app.get("/healthz", include_in_schema=False)
    def healthz(conn: Conn) -> dict[str, str]:
        conn.execute(sa.select(sa.literal(1))).scalar_one()  # the database answers
        return {"status": "ok"}

    # -- pages ------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(conn: Conn, query: Search) -> HTMLResponse:
        page = q.search(conn, query)
        return html("search.html", **_search_context(query, page, facet_cache.facets(conn, query)))

    @app.get("/images/{image_hash}", response_class=HTMLResponse, include_in_schema=False)
    def image_page(image_hash: str, conn: Conn) -> HTMLResponse:
        detail = q.image_detail(conn, checked_hash(image_hash))
        if detail is None:
            raise HTTPException(404, f"no image {image_hash}")
        vendor_json = json.dumps(detail.vendor_dictionary, indent=2, ensure_ascii=False, default=str)
        return html("image.html", d=detail, vendor_json=vendor_json)

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(conn: Conn) -> HTMLResponse:
        return html("runs.html", runs=q.run_list(conn))

    @app.get("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_page(conn: Conn) -> HTMLResponse:
        return HTMLResponse(render_report(build_report(conn, where), standalone=False))

    @app.get(
        "/thumbnails/{image_hash}",
        responses={200: {"content": {"image/webp": {}, "image/jpeg": {}}}},
        summary="The image's thumbnail (256 px on the long side)",
    )
    def thumbnail(image_hash: str, conn: Conn) -> Response:
        found = q.thumbnail_bytes(conn, checked_hash(image_hash))
        if found is None:
            raise HTTPException(404, f"no thumbnail for {image_hash}")
        data, fmt = found
        # keyed by the pixels' hash: the bytes for a hash never change
        return Response(data, media_type=f"image/{fmt}", headers={"Cache-Control": "public, max-age=86400"})

    # -- API ----------------------------------------------------------------------------------------
    @app.get("/api/images", summary="Search the images (keyset pagination: pass next_cursor back as cursor)")
    def api_images(conn: Conn, query: Search) -> q.Page:
        return q.search(conn, query)

    @app.get("/api/facets", summary="Facet values and counts under the other filters")
    def api_facets(conn: Conn, query: Search) -> dict[str, list[tuple[str, int]]]:
        return facet_cache.facets(conn, query)

    @app.get("/api/images/{image_hash}", summary="Everything known about one image")
    def api_image(image_hash: str, conn: Conn) -> dict[str, Any]:
        detail = q.image_detail(conn, checked_hash(image_hash))
        if detail is None:
            raise HTTPException(404, f"no image {image_hash}")
        return asdict(detail)

    @app.get("/api/runs", summary="The latest ingest runs with stage seconds and failures by reason")
    def api_runs(conn: Conn) -> list[dict[str, Any]]:
        return q.run_list(conn)

    @app.get("/api/report", summary="The numbers behind the report's pictures")
    def api_report(conn: Conn) -> dict[str, Any]:
        from .reportdata import collect

        return collect(conn).as_json()

    return app


def _search_context(
    query: q.Query, page: q.Page, facets: dict[str, list[tuple[str, int]]], problems: list[str] | None = None
) -> dict[str, Any]:
    def link(path: str = "/", **changes: Any) -> str:
        pairs = query.params(**changes)
        return path + ("?" + urlencode(pairs) if pairs else "")

    def sort_link(key: str) -> str:
        same = query.sort.value == key
        order = (
            ("asc" if query.order.value == "desc" else "desc")
            if same
            else ("asc" if key == "path" else "desc")
        )
        return link(sort=q.SortKey(key), order=q.Order(order))

    next_link = None
    if page.next_cursor:
        next_link = link() + ("&" if "?" in link() else "?") + urlencode({"cursor": page.next_cursor})
    chosen = {name: {str(v) for v in getattr(query, name)} for name, _t in FACET_TITLES}
    return {
        "query": query,
        "page": page,
        "facets": {name: facets.get(name, []) for name, _t in FACET_TITLES},
        "facet_titles": FACET_TITLES,
        "chosen": chosen,
        "columns": COLUMNS,
        "numeric": NUMERIC,
        "sort_link": sort_link,
        "first_link": link(),
        "next_link": next_link,
        "api_link": link("/api/images"),
        "model": page.model,
        "problems": problems or [],
        "default_limit": q.DEFAULT_LIMIT,
    }
