"""Ground truth of the shared corpus (``$SEMINGEST_SHARED/sem-corpus``), one row per MANIFEST file.

The one definition used by ``make accuracy`` (``bench/accuracy.py``) and by the regression test
(``tests/unit/test_scalebar_manifest.py``). Values come from the MANIFEST; where the MANIFEST has
no pixel size (images without vendor metadata) the true pixel size was found by examining the
pixels (the bar's drawn length, edge to edge, in the saved image) and checked against the
printed magnification or field width, as noted per row.

``metadata_m`` is the pixel size of the SAVED pixels that the vendor metadata must give (None:
the file has no such metadata). ``bar_m`` is the pixel size the scale bar must give within 3 %
(None: the file has no data bar or ruler, so any OCR pixel size is a false read). ``label`` is
the scale label as printed.

``expect_ocr`` is the regression floor for the scale-bar reader: ``"read"`` means the bar must be
read within 3 % (it is today); ``"refuse"`` means a refusal with a reason is accepted (never a
wrong value). A file may move from "refuse" to "read"; never back, never to a wrong value.
"""

from __future__ import annotations

from dataclasses import dataclass

OCR_TOLERANCE = 0.03  # a scale-bar pixel size within 3 % of the truth is right
METADATA_TOLERANCE = 1e-3  # metadata is exact up to its printed precision (4 significant digits)


@dataclass(frozen=True)
class Truth:
    vendor: str  # the row of the per-vendor table
    metadata_m: float | None
    bar_m: float | None
    label: tuple[float, str] | None
    expect_ocr: str  # "read" or "refuse"
    note: str = ""


CORPUS: dict[str, Truth] = {
    "zeiss_1k_databar.tif": Truth("zeiss", 2.615e-06, 2.615e-06, (200.0, "µm"), "read"),
    "zeiss_512px.tif": Truth(
        "zeiss",
        5.965e-06 / 512,
        5.965e-06 / 512,
        (200.0, "nm"),
        "refuse",
        "2x downscaled frame: AP_PIXEL_SIZE (5.825 nm) describes the 1024 px scan; the saved pixels "
        "are AP_WIDTH 5.965 µm / 512. Its 200 nm bar is ~17 px: too short for 3 %",
    ),
    "fei_helios_8bit_databar.tif": Truth("fei/thermo", 3.3724e-06, 3.3724e-06, (500.0, "µm"), "read"),
    "fei_helios_16bit_databar.tif": Truth("fei/thermo", 3.3724e-06, 3.3724e-06, (500.0, "µm"), "read"),
    "zeiss_nvision_black_databar.tif": Truth("zeiss", 5.860e-09, 5.860e-09, (1.0, "µm"), "read"),
    "tescan_amber_databar.tif": Truth("tescan", 4.537772e-09, 4.537772e-09, (2.0, "µm"), "read"),
    "fei_quanta_databar.tif": Truth("fei/thermo", 3.10059e-08, 3.10059e-08, (10.0, "µm"), "read"),
    "jeol_jxa_databar.tif": Truth("jeol", 9.901e-07, 9.901e-07, (100.0, "µm"), "read"),
    "hitachi_su3500_ruler.jpg": Truth(
        "hitachi",
        None,
        10e-6 / (10e-6 * 3500 / 0.127 * 1280),
        (10.0, "µm"),
        "read",
        "11 ticks, 353 px between the end ticks' centres; X3.50k over Hitachi's 127 mm frame agrees",
    ),
    "zeiss_auriga_white_databar.tif": Truth(
        "zeiss",
        2.233e-09,
        2.233e-09,
        (100.0, "nm"),
        "refuse",
        "the bar also prints 'Pixel Size = 2.233 nm' (a second witness)",
    ),
    "zeiss_geminisem_rgb_nobar.tif": Truth("zeiss", 1.116e-07, None, None, "refuse"),
    "thermo_scios_databar.tif": Truth(
        "fei/thermo", 2.69792e-07, 2.69792e-07, (100.0, "µm"), "read", "printed HFW 414 µm / 1536"
    ),
    "tescan_mira3_ruler_databar.tif": Truth(
        "tescan", 2.5012e-06, 2.5012e-06, (500.0, "µm"), "read", "printed View field 2.56 mm / 1024"
    ),
    "jeol_jsm7001f_databar.tif": Truth("jeol", 1.8868e-06, 1.8868e-06, (100.0, "µm"), "read"),
    "jeol_sei_databar_a.jpg": Truth(
        "jeol",
        None,
        1e-6 / 36.5,
        (1.0, "µm"),
        "read",
        "bar drawn 37 px (x 960..996 on row 970): 36 px between the end columns' centres (JEOL's "
        "own convention, see jsm7001f: drawn 54, $$SM_MICRON_BAR 53), 37 edge to edge; the truth "
        "is taken between the two (±1.4 %). X3,500 with JEOL's factor 1.06 gives 2.695e-08",
    ),
    "jeol_sei_databar_b.jpg": Truth(
        "jeol",
        None,
        10e-6 / 212.5,
        (10.0, "µm"),
        "read",
        "bar drawn 213 px (x 784..996 on row 970), 212 between the end columns' centres; X2,000 "
        "with the factor 1.06 gives 4.717e-08",
    ),
    "fei_quanta_imagej_resaved_databar.tif": Truth(
        "fei/thermo",
        None,
        427e-6 / 1024,
        (100.0, "µm"),
        "read",
        "printed HFW 427 µm / 1024 px; the bar gives ~4.12e-07 (1.2 % apart)",
    ),
    "philips_xl30_overlay_databar_a.tif": Truth(
        "philips", None, 2e-6 / 162, (2.0, "µm"), "read", "bar drawn 162 px (x 290..451 on row 430)"
    ),
    "philips_xl30_overlay_databar_b.tif": Truth(
        "philips", None, 10e-6 / 150, (10.0, "µm"), "read", "bar drawn 150 px (x 290..439 on row 430)"
    ),
    "hitachi_s3400_half_size_strip.png": Truth(
        "hitachi",
        None,
        0.127 / 500 / 1280 * 2,
        (100.0, "µm"),
        "read",
        "x500 over Hitachi's 127 mm frame at the native 1280 px, saved at half size; ruler 252 px",
    ),
    "hitachi_s4800_text_on_image.tif": Truth(
        "hitachi",
        None,
        0.127 / 1000 / 1280,
        (50.0, "µm"),
        "read",
        "x1.00k over Hitachi's 127 mm frame; ruler 504 px",
    ),
}
