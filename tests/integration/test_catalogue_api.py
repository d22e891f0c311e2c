"""The catalogue's JSON API on both databases (the same rows copied into SQLite and MariaDB):
keyset pagination, facets and filters against SQL, image details and thumbnails, hostile query
strings (clear 400s), and that nothing can be written through it."""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from catalogue_data import MODEL_ID, classify, copy_database, ingest_sample
from fastapi.testclient import TestClient
from mariadb_databases import mariadb_database
from PIL import Image

from semingest_worker.catalogue.app import create_app
from semingest_worker.catalogue.query import MULTI_FACETS, SINGLE_PARAMS
from semingest_worker.catalogue.vocab import Order, SortKey
from semingest_worker.database import create_engine, queries

pytestmark = pytest.mark.mariadb


@pytest.fixture(scope="module")
def sample_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("catalogue")
    url = f"sqlite:///{root / 'catalogue.db'}"
    ingest_sample(root, url)
    classify(url)
    return url


@pytest.fixture(scope="module")
def sample_mariadb(sample_sqlite: str, mariadb_server: str) -> Iterator[str]:
    with mariadb_database(mariadb_server, "semingest_cat") as url:
        copy_database(sample_sqlite, url)
        yield url


@pytest.fixture(params=["sqlite", "mariadb"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"sample_{request.param}")


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    app = create_app(url)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _sql(url: str, stmt: str, **params: object) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(stmt), params)]
    engine.dispose()
    return rows


def _all_hashes(url: str) -> set[str]:
    return {h for (h,) in _sql(url, "SELECT image_hash FROM images")}


def _walk(client: TestClient, **params: str) -> list[dict]:
    rows: list[dict] = []
    cursor = None
    for _ in range(100):
        query = dict(params) | ({"cursor": cursor} if cursor else {})
        r = client.get("/api/images", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("pagination did not end")


SORT_FIELD = {
    SortKey.INGESTED: "ingested_at",
    SortKey.ACQUIRED: "acquired_at",
    SortKey.PATH: "path",
    SortKey.VENDOR: "vendor",
    SortKey.SCORE: "score",
    SortKey.RATIO: "ratio",
}


@pytest.mark.parametrize("sort", list(SortKey))
@pytest.mark.parametrize("order", list(Order))
def test_keyset_pages_return_every_image_once_in_order(client: TestClient, url: str, sort, order) -> None:
    rows = _walk(client, sort=sort.value, order=order.value, limit="4")
    hashes = [r["image_hash"] for r in rows]
    assert len(hashes) == len(set(hashes)) and set(hashes) == _all_hashes(url)
    total = client.get("/api/images", params={"limit": "1"}).json()["total"]
    assert total == len(hashes)
    if sort is SortKey.PIXEL_SIZE:
        values = [r["pixel_size_m"] if r["pixel_size_m"] is not None else r["ocr_pixel_size_m"] for r in rows]
    else:
        values = [r[SORT_FIELD[sort]] for r in rows]
    known = [v for v in values if v is not None]
    assert values == known + [None] * (len(values) - len(known)), "NULLs sort last"
    assert known == sorted(known, reverse=order is Order.DESC)
    assert len(known) > 1


def test_facet_counts_equal_the_database(client: TestClient, url: str) -> None:
    facets = client.get("/api/facets").json()
    vendors = {
        (v if v is not None else "(none)"): n
        for v, n in _sql(url, "SELECT vendor, COUNT(*) FROM images GROUP BY vendor")
    }
    assert dict(facets["vendor"]) == vendors
    assert len(vendors) >= 5
    status = dict(_sql(url, "SELECT status, COUNT(*) FROM images GROUP BY status"))
    assert dict(facets["status"]) == status
    instruments = Counter(
        m if m is not None else "(none)"
        for (m,) in _sql(
            url, "SELECT m.model FROM images i LEFT JOIN instrument_meta m ON m.image_hash = i.image_hash"
        )
    )
    assert dict(facets["instrument"]) == dict(instruments)
    categories = Counter(
        c if c is not None else "(none)"
        for (c,) in _sql(
            url,
            "SELECT f.top1_label FROM images i LEFT JOIN inference f ON f.image_hash = i.image_hash "
            "AND f.model_id = :model",
            model=MODEL_ID,
        )
    )
    assert dict(facets["category"]) == dict(categories)
    agreement: Counter = Counter()
    for ocr, ratio in _sql(
        url,
        "SELECT p.ocr_pixel_size_m, p.ratio FROM images i LEFT JOIN pixel_size p ON p.image_hash = i.image_hash",
    ):
        if ocr is None:
            agreement["unreadable"] += 1
        elif ratio is None:
            agreement["no_metadata"] += 1
        else:
            agreement["agree" if abs(ratio - 1) <= 0.03 else "disagree"] += 1
    assert dict(facets["agreement"]) == dict(agreement)
    assert agreement["agree"] > 0 and agreement["unreadable"] > 0
    dup = _sql(
        url,
        "SELECT COUNT(*) FROM images i WHERE EXISTS "
        "(SELECT 1 FROM image_files f WHERE f.image_hash = i.image_hash AND f.path <> i.path)",
    )[0][0]
    assert dict(facets["duplicates"]).get("yes", 0) == dup > 0


def test_a_facet_filter_keeps_its_own_values_and_narrows_the_others(client: TestClient, url: str) -> None:
    facets = client.get("/api/facets", params={"vendor": "zeiss"}).json()
    assert len(facets["vendor"]) >= 5  # the chosen facet still lists every vendor
    zeiss = _sql(url, "SELECT COUNT(*) FROM images WHERE vendor = 'zeiss'")[0][0]
    assert sum(n for _s, n in facets["status"]) == zeiss


def test_filters_match_the_database(client: TestClient, url: str) -> None:
    def hashes(**params: str) -> set[str]:
        return {r["image_hash"] for r in _walk(client, limit="200", **params)}

    assert hashes(vendor="zeiss") == {
        h for (h,) in _sql(url, "SELECT image_hash FROM images WHERE vendor = 'zeiss'")
    }
    both = hashes(vendor=["zeiss", "fei"])  # type: ignore[arg-type]
    assert both == {h for (h,) in _sql(url, "SELECT image_hash FROM images WHERE vendor IN ('zeiss', 'fei')")}
    unreadable = hashes(agreement="unreadable")
    assert unreadable == {
        h
        for (h,) in _sql(
            url,
            "SELECT i.image_hash FROM images i LEFT JOIN pixel_size p ON p.image_hash = i.image_hash "
            "WHERE p.ocr_pixel_size_m IS NULL",
        )
    }
    assert hashes(duplicates="yes") == {
        h
        for (h,) in _sql(
            url,
            "SELECT DISTINCT i.image_hash FROM images i JOIN image_files f ON f.image_hash = i.image_hash "
            "AND f.path <> i.path",
        )
    }
    acquired = [
        (h, date.fromisoformat(str(a)[:10]))
        for h, a in _sql(
            url, "SELECT image_hash, acquired_at FROM instrument_meta WHERE acquired_at IS NOT NULL"
        )
    ]
    days = sorted({d for _h, d in acquired})
    lo, hi = days[1], days[-2]
    assert hashes(acquired_from=str(lo), acquired_to=str(hi)) == {h for h, d in acquired if lo <= d <= hi}
    sizes = _sql(
        url,
        "SELECT i.image_hash, COALESCE(m.pixel_size_m, p.ocr_pixel_size_m) FROM images i "
        "LEFT JOIN instrument_meta m ON m.image_hash = i.image_hash "
        "LEFT JOIN pixel_size p ON p.image_hash = i.image_hash",
    )
    assert hashes(pixel_size_min_nm="5", pixel_size_max_nm="500") == {
        h for h, s in sizes if s is not None and 5e-9 <= s <= 500e-9
    }
    scored = _sql(
        url,
        "SELECT image_hash, top1_label, top1_score FROM inference WHERE model_id = :model",
        model=MODEL_ID,
    )
    label = Counter(lab for _h, lab, _s in scored if lab).most_common(1)[0][0]
    assert hashes(category=label, score_min="0.5") == {
        h for h, lab, s in scored if lab == label and s is not None and s >= 0.5
    }
    name = _sql(url, "SELECT path FROM images ORDER BY path")[0][0].rsplit("/", 1)[1]
    found = _walk(client, q=name)
    assert found and all(name in r["path"] for r in found)


def test_image_detail_and_thumbnail(client: TestClient, url: str) -> None:
    h, path, width, height = _sql(
        url,
        "SELECT i.image_hash, i.path, i.width, i.height FROM images i JOIN image_files f "
        "ON f.image_hash = i.image_hash AND f.path <> i.path ORDER BY i.image_hash",
    )[0]
    body = client.get(f"/api/images/{h}").json()
    assert body["image"]["path"] == path
    copies = sorted(p for (p,) in _sql(url, "SELECT path FROM image_files WHERE image_hash = :h", h=h))
    assert sorted(c["path"] for c in body["copies"]) == copies and len(copies) >= 2
    assert sum(c["canonical"] for c in body["copies"]) == 1
    assert body["run"]["id"] == "run-catalogue-test"
    assert body["thumbnail"]["width"] == 256
    r = client.get(f"/thumbnails/{h}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(r.content))
    assert thumb.format == "JPEG" and thumb.size == (256, round(256 * height / width))


def test_scale_bar_geometry_lies_in_the_data_bar(client: TestClient, url: str) -> None:
    rows = _sql(
        url, "SELECT image_hash FROM pixel_size WHERE ocr_pixel_size_m IS NOT NULL ORDER BY image_hash"
    )
    checked = 0
    for (h,) in rows:
        body = client.get(f"/api/images/{h}").json()
        g = body["thumbnail"]["geometry"]
        bar_px = body["pixel_size"]["scale_bar_px"]
        assert g["bar_box"] and g["label_box"] and g["bar_ends"]
        assert g["bar_ends"][1] - g["bar_ends"][0] == pytest.approx(bar_px, abs=1e-6)
        assert g["bar_box"][0] - 1 <= g["bar_ends"][0] < g["bar_ends"][1] <= g["bar_box"][2] + 1
        if g["databar_rows"]:
            top, bottom = g["databar_rows"]
            assert top <= g["bar_box"][1] <= g["bar_box"][3] < bottom
            assert top <= g["label_box"][1] <= g["label_box"][3] < bottom
        checked += 1
    assert checked >= 5


HOSTILE_TEXT = [
    "' OR '1'='1",
    "x'; DROP TABLE images; --",
    '" UNION SELECT path_key FROM image_files --',
    "%",
    "_",
    "\\",
    "\U0001f52c µm",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_sql_looking_text_is_only_ever_text(client: TestClient, url: str, text: str) -> None:
    before = _sql(url, "SELECT COUNT(*) FROM images")[0][0]
    for name in ("vendor", "instrument", "detector", "category"):
        r = client.get("/api/images", params={name: text})
        assert r.status_code == 200 and r.json()["total"] == 0, (name, r.text)
    found = _walk(client, q=text, limit="200")  # a literal substring: % and _ are no wildcards
    for row in found:
        assert any(text in (row[k] or "") for k in ("path", "instrument", "detector")), row
    expected = sum(1 for (p,) in _sql(url, "SELECT path FROM images") if text in p)
    assert len(found) >= expected
    other_model = client.get("/api/images", params={"model": text, "limit": "200"}).json()
    assert other_model["total"] == before and all(r["category"] is None for r in other_model["rows"])
    assert _sql(url, "SELECT COUNT(*) FROM images")[0][0] == before


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"bogus": "1"}, "unknown parameter(s) 'bogus'"),
        ({"vendor": "zeiss", "colour": "red"}, "'colour'"),
        ({"limit": "99999999999999999999999"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "A" * 7000}, "cursor is longer"),
        ({"cursor": base64.urlsafe_b64encode(json.dumps([1, "x"]).encode()).decode()}, "cursor"),
        ({"sort": "image_hash; DROP TABLE images"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"status": "deleted"}, "status"),
        ({"agreement": "maybe"}, "agreement"),
        ({"acquired_from": "yesterday"}, "acquired_from"),
        ({"pixel_size_min_nm": "nan"}, "pixel_size_min_nm"),
        ({"pixel_size_max_nm": "1e999"}, "pixel_size_max_nm"),
        ({"score_min": "2"}, "score_min"),
        ({"q": "x" * 1000}, "q is longer"),
        ({"sort": ["path", "vendor"]}, "sort given 2 times"),
    ],
)
def test_bad_query_strings_get_a_clear_400(client: TestClient, params: dict, needle: str) -> None:
    for route in ("/api/images", "/api/facets"):
        r = client.get(route, params=params)
        assert r.status_code == 400, (route, r.text)
        assert needle in " ".join(r.json()["detail"]), r.json()
    page = client.get("/", params=params)
    assert page.status_code == 400 and "This search cannot be run" in page.text
    assert needle.replace("'", "&#39;") in page.text


def test_a_cursor_for_another_sort_order_is_refused(client: TestClient) -> None:
    cursor = client.get("/api/images", params={"sort": "path", "limit": "2"}).json()["next_cursor"]
    r = client.get("/api/images", params={"sort": "score", "cursor": cursor})
    assert r.status_code == 400 and "cursor" in r.json()["detail"][0]


def test_bad_image_names(client: TestClient) -> None:
    assert client.get("/api/images/not-a-hash").status_code == 400
    assert client.get("/images/' OR 1=1").status_code == 400
    assert client.get("/api/images/" + "0" * 64).status_code == 404
    assert client.get("/thumbnails/" + "0" * 64).status_code == 404
    assert client.get("/thumbnails/../../etc/passwd").status_code == 404


ROUTES = ["/", "/runs", "/report", "/api/images", "/api/facets", "/api/runs", "/api/report"]


def test_nothing_can_be_written_through_the_catalogue(client: TestClient, url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        before = queries.content_digests(conn)
    some = _sql(url, "SELECT image_hash FROM images ORDER BY image_hash")[0][0]
    for route in [*ROUTES, f"/images/{some}", f"/api/images/{some}", f"/thumbnails/{some}"]:
        assert client.get(route).status_code == 200, route
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.request(method, route, json={"path": "x"}).status_code == 405, (method, route)
    # and the catalogue's own connections refuse writes, whatever a bug might try
    with client.app.state.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(sa.text("DELETE FROM images"))
        conn.commit()
    with engine.connect() as conn:
        assert queries.content_digests(conn) == before
    engine.dispose()


def test_every_page_renders(client: TestClient) -> None:
    for route in ("/", "/runs", "/report", "/?sort=score&order=asc&vendor=zeiss", "/?agreement=unreadable"):
        r = client.get(route)
        assert r.status_code == 200 and "<html" in r.text, route
    runs = client.get("/api/runs").json()
    assert runs[0]["id"] == "run-catalogue-test"
    assert runs[0]["stage_seconds"]["thumbnails"] > 0
    reasons = dict(runs[0]["failures_by_reason"])
    assert reasons["empty file (N bytes)"] == 1 and reasons["truncated TIFF"] == 1


def test_openapi_describes_the_queries(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for route in ("/api/images", "/api/facets", "/api/images/{image_hash}", "/api/runs", "/api/report"):
        assert "get" in spec["paths"][route] and set(spec["paths"][route]) == {"get"}
    names = {p["name"] for p in spec["paths"]["/api/images"]["get"]["parameters"]}
    assert names == set(MULTI_FACETS) | set(SINGLE_PARAMS)


def test_both_databases_give_the_same_answers(sample_sqlite: str, sample_mariadb: str) -> None:
    answers = []
    for url in (sample_sqlite, sample_mariadb):
        app = create_app(url)
        with TestClient(app) as c:
            answers.append(
                (
                    _walk(c, sort="path", order="asc", limit="7"),
                    c.get("/api/facets").json(),
                    c.get(
                        "/api/images", params={"sort": "score", "agreement": "agree", "limit": "200"}
                    ).json(),
                )
            )
        app.state.engine.dispose()
    assert answers[0] == answers[1]


def test_serve_refuses_a_database_without_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from semingest_worker.cli import main

    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    assert main(["serve", "--db", f"sqlite:///{empty}", "--port", "1"]) == 1
    assert "lacks the table(s)" in capsys.readouterr().err
