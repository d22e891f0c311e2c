"""The catalogue in a real browser (Debian's Chromium through Playwright): search, facets, sorting
and paging, an image page with its thumbnail and scale-bar overlay, the runs page and the report.
A failing test leaves a screenshot in build/browser/."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from semingest_worker.database import create_engine

pytestmark = pytest.mark.browser


def _count(url: str, stmt: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(stmt)).scalar_one()
    engine.dispose()
    return int(value)


def _thumbnails_loaded(page) -> list[int]:
    """naturalWidth of every result thumbnail (0 = not loaded)."""
    page.wait_for_load_state("networkidle")
    return page.eval_on_selector_all("img.thumb", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")


def test_search_shows_every_image_with_thumbnails(page, base_url: str, catalogue_db: str) -> None:
    total = _count(catalogue_db, "SELECT COUNT(*) FROM images")
    page.goto(f"{base_url}/?limit=50")
    assert page.locator("#total").inner_text() == str(total)
    assert page.locator("#results tbody tr").count() == total
    widths = _thumbnails_loaded(page)
    assert len(widths) == total and all(w == 256 for w in widths), widths


def test_facet_narrows_the_results(page, base_url: str, catalogue_db: str) -> None:
    zeiss = _count(catalogue_db, "SELECT COUNT(*) FROM images WHERE vendor = 'zeiss'")
    page.goto(base_url)
    page.locator('fieldset[data-facet="vendor"] input[value="zeiss"]').check()
    page.locator("#apply").click()
    page.wait_for_url(re.compile(r"vendor=zeiss"))
    assert page.locator("#total").inner_text() == str(zeiss)
    vendors = page.locator("#results tbody tr td:nth-child(3)").all_inner_texts()
    assert vendors == ["zeiss"] * zeiss
    # a second facet on top: pixel-size agreement
    page.locator('fieldset[data-facet="agreement"] input[value="agree"]').check()
    page.locator("#apply").click()
    page.wait_for_url(re.compile(r"agreement=agree"))
    badges = page.locator("#results tbody tr .badge.agree").count()
    assert badges == int(page.locator("#total").inner_text()) > 0


def test_sort_by_a_column_and_page_through(page, base_url: str, catalogue_db: str) -> None:
    total = _count(catalogue_db, "SELECT COUNT(*) FROM images")
    page.goto(f"{base_url}/?limit=5")
    page.get_by_role("link", name=re.compile(r"^file")).click()
    page.wait_for_url(re.compile(r"sort=path"))
    seen: list[str] = []
    for _ in range(20):
        seen += page.locator("a.image-link").all_inner_texts()
        if page.locator("#next").count() == 0:
            break
        page.locator("#next").click()
        page.wait_for_load_state("domcontentloaded")
    assert len(seen) == total and seen == sorted(seen)


def test_image_page_shows_the_thumbnail_and_the_scale_bar_overlay(
    page, base_url: str, catalogue_db: str
) -> None:
    engine = create_engine(catalogue_db)
    with engine.connect() as conn:
        path = (
            conn.execute(
                sa.text(
                    "SELECT i.path FROM images i JOIN pixel_size p ON p.image_hash = i.image_hash "
                    "WHERE p.ocr_pixel_size_m IS NOT NULL AND i.vendor = 'fei' ORDER BY i.path"
                )
            )
            .scalars()
            .first()
        )
    engine.dispose()
    page.goto(base_url)
    page.fill('input[name="q"]', path.rsplit("/", 1)[1])
    page.locator("#apply").click()
    page.wait_for_url(re.compile(r"q="))
    page.locator("a.image-link").first.click()
    page.wait_for_url(re.compile(r"/images/[0-9a-f]{64}$"))
    assert page.locator("#image-path").inner_text() == path
    overlay = page.locator("svg#overlay")
    assert overlay.is_visible()
    href = page.locator("#thumbnail").get_attribute("href")
    loaded = page.evaluate(
        "href => new Promise(ok => { const i = new Image(); i.onload = () => ok(i.naturalWidth); "
        "i.onerror = () => ok(0); i.src = href; })",
        href,
    )
    assert loaded == 256
    for part in ("#databar", "#bar-box", "#label-box", "#bar-length"):
        box = page.locator(part).bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, part
    assert page.locator("line.bar-end").count() == 2
    databar = page.locator("#databar").bounding_box()
    svg_box = overlay.bounding_box()
    for part in ("#bar-box", "#label-box"):
        b = page.locator(part).bounding_box()
        assert databar["y"] - 1 <= b["y"] and b["y"] + b["height"] <= databar["y"] + databar["height"] + 1, (
            part
        )
        assert svg_box["x"] <= b["x"] and b["x"] + b["width"] <= svg_box["x"] + svg_box["width"] + 1
    assert page.locator("#pixel-size .badge").inner_text() in ("agree", "disagree")
    assert page.locator("#copies tr").count() >= 2  # header + at least the file itself
    page.locator("#run a").click()
    page.wait_for_url(re.compile(r"/runs"))
    assert page.locator("#runs tbody tr").count() == 1


def test_report_page_draws_every_figure(page, base_url: str) -> None:
    page.goto(base_url)
    page.get_by_role("link", name="Report").first.click()
    page.wait_for_url(re.compile(r"/report$"))
    figures = page.locator("figure.report-figure")
    assert figures.count() == 8
    for i in range(8):
        svg = figures.nth(i).locator("svg")
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, i
        assert svg.locator("path, use, image, text").count() > 10  # marks, glyphs, heat maps


def test_a_bad_query_string_shows_a_clear_error(page, base_url: str) -> None:
    response = page.goto(f"{base_url}/?vendor=zeiss&colour=red")
    assert response.status == 400
    assert "unknown parameter(s) 'colour'" in page.locator("#query-error").inner_text()
