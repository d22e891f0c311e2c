"""The scale-bar stage says where it looked: on the real files of the shared corpus, every
reading with a bar has a geometry whose measured ends are the bar's length apart and lie on the
bar, inside the image (and inside the data bar when there is one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from semingest_worker import imageio
from semingest_worker.scalebar import ScaleBarInput, read_scale_bars

IMAGES = (".tif", ".jpg", ".png", ".bmp")


def test_geometry_of_every_corpus_reading(sem_corpus: Path) -> None:
    files = sorted(p for p in sem_corpus.iterdir() if p.suffix.lower() in IMAGES)
    decoded = [imageio.decode_image(p) for p in files]
    readings = read_scale_bars([ScaleBarInput(gray=d.gray()) for d in decoded])
    measured = 0
    for path, image, reading in zip(files, decoded, readings, strict=True):
        g = reading.geometry
        if reading.pixel_size_m is not None:
            assert g is not None and g.bar_box and g.label_box and g.bar_ends, path.name
        if g is None:
            continue
        for box in (g.bar_box, g.label_box):
            if box:
                x0, y0, x1, y1 = box
                assert 0 <= x0 <= x1 < image.width and 0 <= y0 <= y1 < image.height, (path.name, box)
        if g.databar_rows:
            top, bottom = g.databar_rows
            assert 0 <= top < bottom <= image.height
            for box in (g.bar_box, g.label_box):
                if box:
                    assert top <= box[1] and box[3] < bottom, (path.name, box, g.databar_rows)
        if g.bar_ends and reading.bar_px is not None:
            assert g.bar_ends[1] - g.bar_ends[0] == pytest.approx(reading.bar_px), path.name
            assert g.bar_box[0] - 1 <= g.bar_ends[0] and g.bar_ends[1] <= g.bar_box[2] + 1, path.name
            measured += 1
    assert measured >= 8
