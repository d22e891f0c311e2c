"""Which pixel size the row believes when metadata and the scale bar are both witnesses."""

from __future__ import annotations

from semingest_worker.belief import Source, believe


def test_agreeing_witnesses_keep_the_more_precise_metadata() -> None:
    b = believe(3.10059e-08, 3.1056e-08)
    assert (b.pixel_size_m, b.source) == (3.10059e-08, Source.METADATA)
    assert "confirmed by scale bar" in b.reason


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


def test_a_printed_field_is_a_third_witness() -> None:
    # no metadata: bar and printed field width agree -> the bar; they disagree -> neither
    b = believe(None, 4.1667e-07, None, 4.1699e-07)
    assert b.source is Source.SCALE_BAR and "agree" in b.reason
    b = believe(None, 4.1667e-07, None, 8.3e-07)
    assert b.pixel_size_m is None and "disagree" in b.reason
    # metadata confirmed by the printed field while the bar disagrees: metadata, and it says so
    b = believe(3.10059e-08, 3.5e-08, None, 3.0957e-08)
    assert b.source is Source.METADATA and "printed field" in b.reason
    # bar and printed field agree against the metadata: the image was resized
    b = believe(5.825e-09, 11.7e-09, None, 11.65e-09)
    assert b.source is Source.SCALE_BAR and "resized" in b.reason
    # only a printed field
    assert believe(None, None, "label unreadable", 2.233e-09).source is Source.PRINTED
