"""The scale-bar reader on the real files of the shared corpus (``$SEMINGEST_SHARED/sem-corpus``).

Expected pixel sizes are the metadata pixel sizes listed in the corpus MANIFEST (truth data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semingest_worker.scalebar import ScaleBarInput, content_rows, read_scale_bars

# MANIFEST metadata pixel sizes (m) of the files that have a data bar.
METADATA_PIXEL_SIZE = {
    "zeiss_1k_databar.tif": 2.614514e-06,  # AP_PIXEL_SIZE "Pixel Size = 2.615 µm"
    "fei_helios_8bit_databar.tif": 3.3724e-06,
    "fei_helios_16bit_databar.tif": 3.3724e-06,
    "zeiss_nvision_black_databar.tif": 5.859541e-09,
    "tescan_amber_databar.tif": 4.537772e-09,
    "fei_quanta_databar.tif": 3.10059e-08,
    "jeol_jxa_databar.tif": 9.901e-07,  # 100 µm over $$SM_MICRON_BAR 101 px at 1280 wide
}
VENDOR = {"zeiss": "zeiss", "fei": "fei", "tescan": "tescan", "jeol": "jeol", "hitachi": "hitachi"}

# Hitachi truth, found by examining hitachi_su3500_ruler.jpg: its ruler has 11 white ticks
# (4 px wide, 12 px tall) at x = 895, 930, ..., 1248, i.e. 10 divisions and 353 px between the
# centres of the end ticks; the label "10.0µm" is the whole ruler (one division is ~35 px).
# Independently, the info line says X3.50k, and Hitachi's magnification refers to a 127 mm wide
# frame (1280 px here): 10 µm * 3500 / 127 mm * 1280 px = 352.8 px.
HITACHI_RULER_PX = 10e-6 * 3500 / 0.127 * 1280


def _gray(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        if im.mode.startswith("I;16"):
            return np.asarray(im).astype(np.uint16)
        return np.asarray(im.convert("L"))


@pytest.fixture(scope="module")
def readings(sem_corpus: Path) -> dict[str, object]:
    names = [*METADATA_PIXEL_SIZE, "zeiss_512px.tif", "hitachi_su3500_ruler.jpg"]
    items = [ScaleBarInput(_gray(sem_corpus / n), vendor=VENDOR.get(n.split("_")[0])) for n in names]
    return dict(zip(names, read_scale_bars(items), strict=True))


@pytest.mark.parametrize("name", list(METADATA_PIXEL_SIZE))
def test_ocr_pixel_size_within_3_percent_of_metadata(readings: dict, name: str) -> None:
    reading = readings[name]
    assert reading.pixel_size_m is not None, reading.reason
    assert reading.pixel_size_m == pytest.approx(METADATA_PIXEL_SIZE[name], rel=0.03)
    assert reading.reason is None


def test_labels_read_as_the_manifest_lists_them(readings: dict) -> None:
    got = {n: (r.value, r.unit) for n, r in readings.items() if r.value is not None}
    assert got["zeiss_1k_databar.tif"] == (200.0, "µm")
    assert got["fei_helios_8bit_databar.tif"] == (500.0, "µm")
    assert got["fei_helios_16bit_databar.tif"] == (500.0, "µm")
    assert got["zeiss_nvision_black_databar.tif"] == (1.0, "µm")
    assert got["tescan_amber_databar.tif"] == (2.0, "µm")
    assert got["fei_quanta_databar.tif"] == (10.0, "µm")
    assert got["jeol_jxa_databar.tif"] == (100.0, "µm")


def test_styles_are_told_apart(readings: dict) -> None:
    assert readings["zeiss_1k_databar.tif"].style == "zeiss_light"
    assert readings["zeiss_nvision_black_databar.tif"].style == "zeiss_black"
    assert readings["fei_quanta_databar.tif"].style == "fei"
    assert readings["tescan_amber_databar.tif"].style == "tescan"
    assert readings["jeol_jxa_databar.tif"].style == "jeol"
    assert readings["hitachi_su3500_ruler.jpg"].style == "ruler"


def test_hitachi_ruler_label_is_the_whole_ruler(readings: dict) -> None:
    reading = readings["hitachi_su3500_ruler.jpg"]
    assert (reading.value, reading.unit) == (10.0, "µm")
    assert reading.bar_px == pytest.approx(HITACHI_RULER_PX, rel=0.01)  # not one 35 px division
    assert reading.pixel_size_m == pytest.approx(10e-6 / HITACHI_RULER_PX, rel=0.03)


def test_zeiss_512px_gives_no_pixel_size_and_says_why(readings: dict) -> None:
    # The MANIFEST lists no data bar for this file, but it is a 2x downscaled Zeiss frame whose
    # light data bar holds a "200 nm" bar only 17 px long (its AP_PIXEL_SIZE, 5.825 nm, is for
    # the 1024 px original: AP_WIDTH 5.965 µm / 1024). A 17 px bar cannot give 3 %: no guess.
    reading = readings["zeiss_512px.tif"]
    assert reading.pixel_size_m is None
    assert reading.reason and "too short" in reading.reason


def test_16bit_helios_reads_like_the_8bit_one(readings: dict) -> None:
    a, b = readings["fei_helios_8bit_databar.tif"], readings["fei_helios_16bit_databar.tif"]
    assert (a.bar_px, a.value, a.unit, a.pixel_size_m) == (b.bar_px, b.value, b.unit, b.pixel_size_m)


def test_resaved_copies_without_tags_or_hints_read_the_same(sem_corpus: Path, tmp_path: Path) -> None:
    """ImageJ-style re-saves: tags stripped, palette turned into RGB, 8-bit widened to 16-bit."""
    src = sem_corpus / "zeiss_nvision_black_databar.tif"
    with Image.open(src) as im:
        im.convert("RGB").save(tmp_path / "resaved.png")
    with Image.open(tmp_path / "resaved.png") as im:
        assert "tiff" not in (im.format or "").lower()
        rgb_gray = np.asarray(im.convert("L"))
    wide = _gray(sem_corpus / "fei_quanta_databar.tif").astype(np.uint16) * 257
    quanta_hint = ScaleBarInput(
        _gray(sem_corpus / "fei_quanta_databar.tif"), vendor="fei", databar_height_px=59
    )
    got = read_scale_bars([ScaleBarInput(rgb_gray), ScaleBarInput(wide), quanta_hint])
    assert got[0].pixel_size_m == pytest.approx(
        METADATA_PIXEL_SIZE["zeiss_nvision_black_databar.tif"], rel=0.03
    )
    assert got[1].pixel_size_m == pytest.approx(METADATA_PIXEL_SIZE["fei_quanta_databar.tif"], rel=0.03)
    assert got[2].pixel_size_m == pytest.approx(METADATA_PIXEL_SIZE["fei_quanta_databar.tif"], rel=0.03)


def test_content_rows_stop_at_the_data_bar(sem_corpus: Path) -> None:
    assert content_rows(_gray(sem_corpus / "fei_quanta_databar.tif")) == 943 - 59  # DatabarHeight=59
    assert content_rows(_gray(sem_corpus / "fei_helios_8bit_databar.tif")) == 442  # [Image] ResolutionY
    assert content_rows(_gray(sem_corpus / "zeiss_1k_databar.tif")) == 691
    assert content_rows(_gray(sem_corpus / "hitachi_su3500_ruler.jpg")) == 960  # no bar: all rows


@pytest.fixture(scope="module")
def no_metadata(sem_corpus: Path) -> dict[str, object]:
    """Files read as a new user's exports would be: no vendor hint, no metadata pixel size."""
    names = [
        "zeiss_auriga_white_databar.tif",
        "jeol_sei_databar_b.jpg",
        "philips_xl30_overlay_databar_a.tif",
        "fei_quanta_imagej_resaved_databar.tif",
        "thermo_scios_databar.tif",
        "tescan_mira3_ruler_databar.tif",
    ]
    return dict(
        zip(names, read_scale_bars([ScaleBarInput(_gray(sem_corpus / n)) for n in names]), strict=True)
    )


def test_the_zeiss_100_nm_label_misread_as_400_or_700_nm_is_refused(no_metadata: dict) -> None:
    reading = no_metadata["zeiss_auriga_white_databar.tif"]
    assert reading.pixel_size_m is None
    assert "disagree" in reading.reason or "too few" in reading.reason


def test_jeol_magnification_next_to_the_bar_is_not_the_label(no_metadata: dict) -> None:
    reading = no_metadata["jeol_sei_databar_b.jpg"]  # "X2,000" sits as close to the bar as "10µm"
    assert (reading.value, reading.unit) == (10.0, "µm")
    assert reading.pixel_size_m == pytest.approx(10e-6 / 213, rel=0.03)


def test_xl30_bar_overlaid_inside_the_frame_is_found(no_metadata: dict) -> None:
    reading = no_metadata["philips_xl30_overlay_databar_a.tif"]
    assert reading.style == "overlay" and (reading.value, reading.unit) == (2.0, "µm")
    assert reading.pixel_size_m == pytest.approx(2e-6 / 162, rel=0.03)


def test_printed_field_width_is_a_second_witness(no_metadata: dict) -> None:
    reading = no_metadata["fei_quanta_imagej_resaved_databar.tif"]  # "HFW" over "427 µm"
    assert reading.printed_field and "427" in reading.printed_field
    assert reading.printed_pixel_size_m == pytest.approx(427e-6 / 1024, rel=1e-3)
    assert reading.printed_pixel_size_m == pytest.approx(reading.pixel_size_m, rel=0.03)
    scios = no_metadata["thermo_scios_databar.tif"]  # "HFW" over "414 µm", label in the bar's gap
    assert scios.printed_pixel_size_m == pytest.approx(414e-6 / 1536, rel=1e-3)
    assert scios.pixel_size_m == pytest.approx(2.69792e-07, rel=0.03)


def test_tescan_ruler_in_a_table_cell_is_measured_tick_to_tick(no_metadata: dict) -> None:
    reading = no_metadata["tescan_mira3_ruler_databar.tif"]
    assert reading.style == "ruler" and (reading.value, reading.unit) == (500.0, "µm")
    assert reading.pixel_size_m == pytest.approx(2.5012e-06, rel=0.03)


def test_the_scale_bar_stage_reports_the_rows_above_the_data_bar(readings: dict, sem_corpus: Path) -> None:
    # inference crops to the data bar's first row from here instead of searching for it again
    assert readings["fei_quanta_databar.tif"].geometry.databar_rows[0] == 943 - 59
    assert readings["fei_helios_8bit_databar.tif"].geometry.databar_rows[0] == 442
    assert readings["zeiss_1k_databar.tif"].geometry.databar_rows[0] == 691
    for name, reading in readings.items():
        rows = reading.geometry.databar_rows if reading.geometry is not None else None
        if rows is not None:
            assert rows[0] == content_rows(_gray(sem_corpus / name)), name
