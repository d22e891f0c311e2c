"""Which pixel size the row believes when metadata and the scale bar are both witnesses."""

from __future__ import annotations

from semingest_worker.belief import Source, believe


def test_agreeing_witnesses_keep_the_more_precise_metadata() -> None:
    b = believe(3.10059e-08, 3.1056e-08)
    assert (b.pixel_size_m, b.source) == (3.10059e-08, Source.METADATA)
    assert "agree" in b.reason


def test_a_resized_image_believes_the_bar() -> None:
    b = believe(5.825e-09, 11.7e-09)  # the frame was saved at half its scanned width
    assert (b.pixel_size_m, b.source) == (11.7e-09, Source.SCALE_BAR)
    assert "resized" in b.reason


def test_an_unexplained_disagreement_keeps_metadata_and_says_so() -> None:
    b = believe(1.8868e-06, 2.0e-06)
    assert (b.pixel_size_m, b.source) == (1.8868e-06, Source.METADATA)
    assert "disagree" in b.reason


def test_single_witnesses_and_none() -> None:
    assert believe(None, 4.7e-08).source is Source.SCALE_BAR
    only_meta = believe(2.2e-09, None, "label unreadable: the readings disagree")
    assert only_meta.source is Source.METADATA and "readings disagree" in only_meta.reason
    nothing = believe(None, None, "no data bar found")
    assert nothing.pixel_size_m is None and nothing.source is None and "no data bar" in nothing.reason
