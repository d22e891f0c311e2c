"""Regression over every MANIFEST file of the shared corpus, through the whole per-image pipeline
(``process_partition`` into SQLite, as ``make accuracy`` runs it): a file whose scale bar is read
today must stay read within 3 %; any other file may be refused, with a reason, but a wrong pixel
size is never stored. Truth and floors: ``tests/sem_corpus_truth.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from accuracy import run_pipeline, score  # noqa: E402
from sem_corpus_truth import CORPUS  # noqa: E402


@pytest.fixture(scope="module")
def rows(sem_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return run_pipeline(sem_corpus, tmp_path_factory.mktemp("accuracy"))


def test_every_manifest_file_is_ingested(rows: dict) -> None:
    assert set(CORPUS) <= set(rows), sorted(set(CORPUS) - set(rows))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_scale_bar_is_right_or_refused_with_a_reason(rows: dict, name: str) -> None:
    truth, row = CORPUS[name], rows[name]
    s = score(name, truth, row)
    assert s.ocr != "wrong", f"{name}: a wrong pixel size was stored: {row}"
    if truth.expect_ocr == "read":
        assert s.ocr == "right", f"{name} regressed: {row.get('reason')}"
    if s.ocr in ("refused", "no-bar"):
        assert row["reason"], f"{name}: refused without a reason"
    if s.ocr == "right" and truth.label is not None:
        assert (row["scale_bar_value"], row["scale_bar_unit"]) == truth.label


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_metadata_pixel_size_is_exact(rows: dict, name: str) -> None:
    s = score(name, CORPUS[name], rows[name])
    assert s.metadata in ("exact", "none"), f"{name}: metadata {s.metadata} ({s.metadata_m})"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_row_says_which_pixel_size_is_believed_and_why(rows: dict, name: str) -> None:
    row = rows[name]
    assert row["believed_reason"]
    if row["believed_pixel_size_m"] is not None:
        assert row["believed_source"] in ("metadata", "scale_bar", "printed_field")
        witnesses = (row["ocr_pixel_size_m"], row["metadata_pixel_size_m"], row["printed_pixel_size_m"])
        assert row["believed_pixel_size_m"] in witnesses
    if row["scale_bar_px"] is not None:
        assert row["scale_bar_px_uncertainty"] > 0


def test_a_short_bar_is_measured_and_refused_only_by_its_uncertainty(rows: dict) -> None:
    # the 512 px Zeiss frame: a 17 px bar, 2 x 0.5 px / 17 px = 5.9 % > 3 %
    row = rows["zeiss_512px.tif"]
    assert row["ocr_pixel_size_m"] is None
    assert "too short" in row["reason"] and row["scale_bar_px_uncertainty"] == pytest.approx(0.5)
