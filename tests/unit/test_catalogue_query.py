"""Query strings for the catalogue: validation, cursors, links (no database needed)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from semingest_worker.catalogue.query import (
    KNOWN_PARAMS,
    Query,
    QueryError,
    decode_cursor,
    encode_cursor,
    parse_query,
)
from semingest_worker.catalogue.vocab import Agreement, Order, SortKey, reason_class

H = "ab" * 32


def test_a_full_query_is_parsed_to_types() -> None:
    q = parse_query(
        {
            "vendor": ["zeiss", "fei", "zeiss"],
            "agreement": "disagree",
            "acquired_from": "2020-01-31",
            "pixel_size_max_nm": "12.5",
            "score_min": "0.25",
            "sort": "acquired",
            "order": "asc",
            "limit": "20",
            "q": "fibre",
        }
    )
    assert q.vendor == ("zeiss", "fei") and q.agreement == (Agreement.DISAGREE,)
    assert q.acquired_from == date(2020, 1, 31) and q.pixel_size_max_nm == 12.5 and q.score_min == 0.25
    assert (q.sort, q.order, q.limit, q.q) == (SortKey.ACQUIRED, Order.ASC, 20, "fibre")


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(QueryError) as err:
        parse_query({"page": "999999999999", "limit": "500", "status": "gone", "order": "up"})
    text = str(err.value)
    for needle in ("unknown parameter(s) 'page'", "limit", "status", "order"):
        assert needle in text


@pytest.mark.parametrize("sort", list(SortKey))
def test_cursors_round_trip_for_every_sort_key(sort: SortKey) -> None:
    value = {
        SortKey.INGESTED: datetime(2026, 1, 2, 3, 4, 5),
        SortKey.ACQUIRED: datetime(2019, 5, 6),
        SortKey.PIXEL_SIZE: 2.5e-9,
        SortKey.SCORE: 0.75,
        SortKey.RATIO: 1.01,
    }.get(sort, "/data/a'; DROP TABLE x; --/ü.tif")
    assert decode_cursor(encode_cursor(value, H), sort) == (value, H)
    assert decode_cursor(encode_cursor(None, H), sort) == (None, H)


@pytest.mark.parametrize(
    ("value", "sort"),
    [("yesterday", SortKey.ACQUIRED), ("1e3", SortKey.SCORE), (True, SortKey.RATIO), (["x"], SortKey.PATH)],
)
def test_cursors_with_values_of_the_wrong_type_are_refused(value, sort) -> None:
    with pytest.raises(QueryError, match="cursor"):
        decode_cursor(encode_cursor(value, H), sort)


def test_cursor_needs_a_hex_hash() -> None:
    with pytest.raises(QueryError, match="cursor"):
        decode_cursor(encode_cursor(1.0, "not-a-hash"), SortKey.SCORE)


def test_links_keep_the_query_and_drop_the_cursor() -> None:
    q = parse_query({"vendor": ["zeiss", "fei"], "sort": "path", "cursor": encode_cursor("/a", H)})
    assert q.cursor == ("/a", H)
    pairs = q.params(order=Order.ASC)
    assert ("vendor", "zeiss") in pairs and ("vendor", "fei") in pairs
    assert ("sort", "path") in pairs and ("order", "asc") in pairs
    assert all(name in KNOWN_PARAMS and name != "cursor" for name, _v in pairs)
    assert Query().params() == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("truncated TIFF: file has 10 bytes but ...", "truncated TIFF"),
        ("empty file (0 bytes)", "empty file (N bytes)"),
        ("metadata: ValueError: x; inference: too small", "metadata"),
        (None, "unknown"),
    ],
)
def test_failure_reasons_lose_their_particulars(error, reason) -> None:
    assert reason_class(error) == reason
