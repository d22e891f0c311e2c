"""The pixel size describes the SAVED pixels: each vendor's stated pixel size is checked against
its field of view, scan size and data bar rows (synthetic TIFFs written with tifffile), and a
contradiction is stored as a problem, never guessed. Also: Olympus SIS tags (non-square pixels),
the field registry (one definition of the instrument fields) and the rows it gives."""

from __future__ import annotations

import json
import os
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from semingest_worker.database import schema
from semingest_worker.database.rows import build_rows
from semingest_worker.imageio import decode_image
from semingest_worker.metadata import READERS, extract_metadata, find_sidecars
from semingest_worker.metadata.pixels import PixelEvidence, Stated, reconcile
from semingest_worker.metadata.reading import Rule, VendorReading, table
from semingest_worker.records import INSTRUMENT_FIELDS, ImageFile, ImageResult, InstrumentMeta, MetadataResult

W, H = 128, 96
PIXELS = np.random.default_rng(5).integers(0, 256, (H, W), dtype=np.uint8)


def _extract(path: Path) -> MetadataResult:
    st = os.stat(path)
    return extract_metadata(
        decode_image(path), ImageFile(str(path), st.st_size, st.st_mtime_ns, find_sidecars(str(path)))
    )


def _tiff(path: Path, tag: int, value: bytes, pixels: np.ndarray = PIXELS) -> Path:
    tifffile.imwrite(path, pixels, extratags=[(tag, 2, 0, value, True)])
    return path


# ------------------------------------------------------------------------------ Zeiss
def _zeiss(pairs: dict[str, str]) -> bytes:
    body = "\r\n".join(f"{k}\r\n{v}" for k, v in pairs.items())
    return ("0\r\n0\r\n" + body + "\r\n").encode("utf-8")


def test_zeiss_takes_the_pixel_size_that_agrees_with_the_field_not_the_first(tmp_path: Path) -> None:
    # A 256 x 192 scan stored at 128 x 96: AP_PIXEL_SIZE (the scan's) 5 nm, the stored image's 10 nm.
    field = {"AP_WIDTH": "Width = 1.280 µm", "AP_HEIGHT": "Height = 960.0 nm"}
    for first, second in (("10.00 nm", "5.000 nm"), ("5.000 nm", "10.00 nm")):
        pairs = {
            "AP_IMAGE_PIXEL_SIZE": f"Image Pixel Size = {first}",
            "AP_PIXEL_SIZE": f"Pixel Size = {second}",
        }
        result = _extract(_tiff(tmp_path / "z.tif", 34118, _zeiss({**pairs, **field})))
        meta = result.instrument
        assert result.problems == () and meta.pixel_size_m == 10e-9
        key = "AP_IMAGE_PIXEL_SIZE" if first == "10.00 nm" else "AP_PIXEL_SIZE"
        assert meta.provenance["pixel_size_m"] == (
            f"{key}: agrees with AP_WIDTH / image width = 1.28 µm / 128 px = 10 nm"
        )
        assert meta.pixel_size_y_m == 10e-9  # AP_HEIGHT / 96 rows: square


def test_zeiss_rescaled_save_without_image_pixel_size(tmp_path: Path) -> None:
    """Only the scan's AP_PIXEL_SIZE, and the image is a 2x downscale: field / saved width."""
    pairs = {
        "AP_PIXEL_SIZE": "Pixel Size = 5.000 nm",
        "AP_WIDTH": "Width = 1.280 µm",
        "AP_HEIGHT": "Height = 960.0 nm",
    }
    meta = _extract(_tiff(tmp_path / "z.tif", 34118, _zeiss(pairs))).instrument
    assert meta.pixel_size_m == pytest.approx(10e-9, rel=1e-12)
    assert "AP_PIXEL_SIZE = 5 nm describes a 256 x 192 px scan" in meta.provenance["pixel_size_m"]
    store = {
        "AP_PIXEL_SIZE": "Pixel Size = 5.000 nm",
        "AP_WIDTH": "Width = 1.280 µm",
        "DP_IMAGE_STORE": "Store resolution = 256 * 192",
    }
    meta = _extract(_tiff(tmp_path / "s.tif", 34118, _zeiss(store))).instrument
    assert meta.pixel_size_m == pytest.approx(10e-9, rel=1e-12)
    assert "is for the 256 px wide scan (DP_IMAGE_STORE)" in meta.provenance["pixel_size_m"]


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        (  # no scan size makes 7 nm and 1.28 µm / 128 px agree
            {
                "AP_PIXEL_SIZE": "Pixel Size = 7.000 nm",
                "AP_WIDTH": "Width = 1.280 µm",
                "AP_HEIGHT": "Height = 960.0 nm",
            },
            "inconsistent metadata: pixel size AP_PIXEL_SIZE = 7 nm but AP_WIDTH / image width = 1.28 µm / 128 px "
            "= 10 nm (1.43x) and no scan size reconciles them; no pixel size stored",
        ),
        (  # a 256-px scan, but the height says the rows are not a 2x downscale of it (rows appended?)
            {
                "AP_PIXEL_SIZE": "Pixel Size = 5.000 nm",
                "AP_WIDTH": "Width = 1.280 µm",
                "AP_HEIGHT": "Height = 800.0 nm",
            },
            "inconsistent metadata: pixel size AP_PIXEL_SIZE = 5 nm but AP_WIDTH / image width = 1.28 µm / 128 px "
            "= 10 nm (2x) and no scan size reconciles them; no pixel size stored",
        ),
    ],
)
def test_zeiss_irreconcilable_pixel_size_is_refused(
    tmp_path: Path, pairs: dict[str, str], problem: str
) -> None:
    result = _extract(_tiff(tmp_path / "z.tif", 34118, _zeiss(pairs)))
    assert result.instrument.pixel_size_m is None
    assert result.problems == (problem,)
    assert result.instrument.raw["AP_PIXEL_SIZE"] == pairs["AP_PIXEL_SIZE"].split("= ")[1]


# ------------------------------------------------------------------------------ FEI / Thermo
def _fei(scan: str, image: str = "", bar: str = "") -> bytes:
    text = (
        "[Beam]\r\nHV=5000\r\nScan=EScan\r\n\r\n"
        f"[Scan]\r\n{scan}\r\n\r\n"
        f"[Image]\r\n{image}\r\n\r\n"
        f"[PrivateFei]\r\n{bar}\r\n"
    )
    return text.encode("ascii")


def test_fei_rescaled_save_uses_the_field_over_the_saved_width(tmp_path: Path) -> None:
    # Scanned 256 x 192 at 4.5 nm (field 1.152 µm x 0.864 µm), saved 128 x 96.
    scan = "PixelWidth=4.5e-009\r\nPixelHeight=4.5e-009\r\nHorFieldsize=1.152e-006\r\nVerFieldsize=8.64e-007"
    result = _extract(_tiff(tmp_path / "f.tif", 34682, _fei(scan, "ResolutionX=256\r\nResolutionY=192")))
    meta = result.instrument
    assert result.problems == ()
    assert meta.pixel_size_m == pytest.approx(9e-9) and meta.pixel_size_y_m == pytest.approx(9e-9)
    assert meta.provenance["pixel_size_m"].startswith(
        "[Scan] HorFieldsize / image width: 1.152 µm / 128 px = 9 nm"
    )
    assert "is for the 256 px wide scan ([Image] ResolutionX)" in meta.provenance["pixel_size_m"]


def test_fei_pixel_width_contradicting_the_field_is_refused(tmp_path: Path) -> None:
    scan = "PixelWidth=4.5e-009\r\nHorFieldsize=1e-006"
    result = _extract(_tiff(tmp_path / "f.tif", 34682, _fei(scan, "ResolutionX=128")))
    assert result.instrument.pixel_size_m is None
    assert result.problems == (
        "inconsistent metadata: pixel size [Scan] PixelWidth = 4.5 nm but [Scan] HorFieldsize / image width "
        "= 1 µm / 128 px = 7.812 nm (1.74x) and no scan size reconciles them; no pixel size stored",
    )


def test_fei_databar_rows_from_the_resolution_when_the_header_says_zero(tmp_path: Path) -> None:
    # 80 scan rows + a 16-row bar, DatabarHeight=0 (as Thermo Fisher xT writes it).
    scan = "PixelWidth=5e-009\r\nPixelHeight=5e-009\r\nHorFieldsize=6.4e-007\r\nVerFieldsize=4e-007"
    result = _extract(
        _tiff(tmp_path / "f.tif", 34682, _fei(scan, "ResolutionX=128\r\nResolutionY=80", "DatabarHeight=0"))
    )
    meta = result.instrument
    assert result.problems == () and meta.databar_height_px == 16
    assert meta.provenance["databar_height_px"] == (
        "image height - [Image] ResolutionY: 96 - 80 rows ([PrivateFei] DatabarHeight = 0 disagrees)"
    )
    assert meta.pixel_size_y_m == 5e-9  # VerFieldsize / 80 scan rows, not / 96 image rows


def test_fei_non_square_pixels_store_both(tmp_path: Path) -> None:
    scan = "PixelWidth=5e-009\r\nPixelHeight=7.5e-009\r\nHorFieldsize=6.4e-007\r\nVerFieldsize=7.2e-007"
    meta = _extract(
        _tiff(tmp_path / "f.tif", 34682, _fei(scan, "ResolutionX=128\r\nResolutionY=96"))
    ).instrument
    assert (meta.pixel_size_m, meta.pixel_size_y_m) == (5e-9, 7.5e-9)


def test_fei_pixel_height_contradicting_the_field_is_refused(tmp_path: Path) -> None:
    scan = "PixelWidth=5e-009\r\nPixelHeight=5e-009\r\nHorFieldsize=6.4e-007\r\nVerFieldsize=9.6e-007"
    result = _extract(_tiff(tmp_path / "f.tif", 34682, _fei(scan, "ResolutionX=128\r\nResolutionY=96")))
    assert result.instrument.pixel_size_m == 5e-9 and result.instrument.pixel_size_y_m is None
    assert result.problems == (
        "inconsistent metadata: pixel height [Scan] PixelHeight = 5 nm but [Scan] VerFieldsize / scan rows "
        "= 960 nm / 96 = 10 nm; no pixel height stored",
    )


def test_fei_image_cropped_below_the_scan_keeps_its_pixel_size(tmp_path: Path) -> None:
    """Fewer rows than the scan at the scan's width: a crop (noted), not a contradiction."""
    scan = "PixelWidth=5e-009\r\nHorFieldsize=6.4e-007"
    result = _extract(_tiff(tmp_path / "f.tif", 34682, _fei(scan, "ResolutionX=128\r\nResolutionY=120")))
    assert result.problems == () and result.instrument.pixel_size_m == 5e-9  # the width agrees with the field
    assert result.instrument.databar_height_px is None
    assert result.instrument.provenance["databar_height_px"] == (
        "not stored: the image has 96 rows, fewer than the scan's [Image] ResolutionY = 120 rows "
        "at this width (cropped)"
    )


# ------------------------------------------------------------------------------ TESCAN
def _tescan(lines: str) -> bytes:
    return b"\x00\x01binary header\x00" + lines.encode("ascii") + b"\x00"


def test_tescan_non_square_pixels_and_strip_rows(tmp_path: Path) -> None:
    blob = _tescan("Device=VEGA\nPixelSizeX=2e-08\nPixelSizeY=3e-08\nImageStripSize=16\nHV=10000\n")
    tifffile.imwrite(tmp_path / "t.tif", PIXELS, extratags=[(50431, 1, len(blob), blob, True)])
    result = _extract(tmp_path / "t.tif")
    meta = result.instrument
    assert result.problems == ()
    assert (meta.pixel_size_m, meta.pixel_size_y_m, meta.databar_height_px) == (2e-8, 3e-8, 16)
    assert (
        meta.provenance["pixel_size_m"]
        == "PixelSizeX: not cross-checked: no field width or scan width stated"
    )


def test_tescan_strip_taller_than_the_image_is_a_problem(tmp_path: Path) -> None:
    blob = _tescan("Device=VEGA\nPixelSizeX=2e-08\nImageStripSize=120\nHV=10000\n")
    tifffile.imwrite(tmp_path / "t.tif", PIXELS, extratags=[(50431, 1, len(blob), blob, True)])
    result = _extract(tmp_path / "t.tif")
    assert result.instrument.databar_height_px is None
    assert result.problems == ("inconsistent metadata: ImageStripSize = 120 rows, image height 96",)


# ------------------------------------------------------------------------------ JEOL
def test_jeol_rows_contradicting_the_rescale_refuse_the_pixel_size(tmp_path: Path) -> None:
    """$CM_FULL_SIZE 256 x 192 saved 128 wide would have 96 scan rows; 60 rows is no uniform rescale."""
    Image.fromarray(PIXELS[:60]).save(tmp_path / "j.tif")
    (tmp_path / "j.txt").write_text(
        "$CM_FORMAT JEOL-SEM\n$CM_FULL_SIZE 256 192\n$$SM_MICRON_BAR 100\n$$SM_MICRON_MARKER 1um\n",
        encoding="ascii",
    )
    result = _extract(tmp_path / "j.tif")
    assert result.instrument.pixel_size_m is None
    assert result.problems == (
        "inconsistent metadata: the image has 60 rows, fewer than the scan's $CM_FULL_SIZE = 192 rows at this width",
        "pixel size $$SM_MICRON_MARKER / $$SM_MICRON_BAR x $CM_FULL_SIZE / image width not stored: "
        "the image is not a uniform rescale of the scan",
    )


def test_jeol_bar_rows_below_the_full_frame(tmp_path: Path) -> None:
    Image.fromarray(PIXELS).save(tmp_path / "j.tif")
    (tmp_path / "j.txt").write_text(
        "$CM_FORMAT JEOL-SEM\n$CM_FULL_SIZE 128 80\n$$SM_MICRON_BAR 50\n$$SM_MICRON_MARKER 1um\n",
        encoding="ascii",
    )
    meta = _extract(tmp_path / "j.tif").instrument
    assert meta.pixel_size_m == pytest.approx(2e-8, rel=1e-12) and meta.databar_height_px == 16


# ------------------------------------------------------------------------------ Olympus SIS
def _sis_tiff(path: Path, x: float, y: float, exponent: int = -9, magnification: float = 5000.0) -> Path:
    """A TIFF with an OlympusSIS structure (tag 33560) in the layout tifffile decodes."""
    header = struct.pack("<4s6xhhhhh6x32sH", b"SIS0", 7, 14, 21, 4, 99, b"sample 7", 1)
    entry_at = len(header)
    record = struct.pack(
        "<10xhdd8xd2x34s32s",
        exponent,
        x / 10.0**exponent,
        y / 10.0**exponent,
        magnification,
        b"SEM",
        b"SE image",
    )

    def blob(record_offset: int) -> bytes:
        return header + struct.pack("<hhI", 1, 1, record_offset) + record

    tifffile.imwrite(path, PIXELS, extratags=[(33560, 1, len(blob(0)), blob(0), True)])
    data = bytearray(path.read_bytes())
    start = data.index(b"SIS0")
    data[start : start + len(blob(0))] = blob(start + entry_at + 8)  # offsets are absolute
    path.write_bytes(bytes(data))
    return path


def test_olympus_sis_non_square_pixels(tmp_path: Path) -> None:
    result = _extract(_sis_tiff(tmp_path / "sis.tif", x=12.5e-9, y=13.75e-9))
    meta = result.instrument
    assert result.problems == ()
    assert (meta.vendor, meta.source) == ("olympus_sis", "tiff:33560")
    assert meta.pixel_size_m == pytest.approx(12.5e-9, rel=1e-12)
    assert meta.pixel_size_y_m == pytest.approx(13.75e-9, rel=1e-12)
    assert (meta.magnification, meta.detector) == (5000.0, "SEM")
    assert meta.acquired_at == datetime(1999, 5, 21, 14, 7)
    assert meta.provenance["pixel_size_y_m"] == "pixelsizey: not cross-checked: no field height stated"
    json.dumps(meta.raw)


def test_olympus_sis_uncalibrated_and_undecodable(tmp_path: Path) -> None:
    zero = _extract(_sis_tiff(tmp_path / "zero.tif", x=0.0, y=0.0, magnification=0.0))
    assert (
        zero.problems == () and zero.instrument.pixel_size_m is None and zero.instrument.magnification is None
    )
    tifffile.imwrite(tmp_path / "bad.tif", PIXELS, extratags=[(33560, 1, 8, b"notSIS00", True)])
    bad = _extract(tmp_path / "bad.tif")
    assert bad.instrument.vendor == "olympus_sis" and bad.instrument.pixel_size_m is None
    assert bad.problems == (
        "undecodable vendor metadata: Olympus SIS tags 33560/33471 hold no structure tifffile can decode",
    )


# ------------------------------------------------------------------------------ the field registry
def test_pixel_reconciliation_is_pure_and_general() -> None:
    """Any vendor's evidence: a 3x rescale of a 300-px scan is reconciled by its stated width."""
    ev = PixelEvidence(
        x=(Stated("px", 1e-9),), field_width=Stated("fw", 300e-9), scan_width=Stated("sw", 300.0)
    )
    decision = reconcile(ev, 100, 80)
    assert decision.x is not None and decision.x.value == pytest.approx(3e-9) and decision.problems == ()
    assert reconcile(ev, 0, 80).problems == ("image size 0 x 80 px: no pixel size",)


def test_instrument_fields_are_one_definition() -> None:
    columns = [c.name for c in schema.instrument_meta.columns]
    assert columns[: len(INSTRUMENT_FIELDS) + 1] == ["image_hash", *INSTRUMENT_FIELDS]  # in their order
    assert list(INSTRUMENT_FIELDS)[-2:] == ["pixel_size_y_m", "provenance"]  # new fields go at the end
    with pytest.raises(ValueError, match="not a vendor field"):
        table(pixel_size=Rule(("X",), float))  # a typo in a mapping table fails at import
    with pytest.raises(ValueError, match="not a vendor field"):
        VendorReading("v", None).set("vendor", "x", "k")
    assert [reader.name for reader in READERS] == [
        "zeiss", "fei", "tescan", "olympus_sis", "jeol", "hitachi", "tescan",
    ]  # fmt: skip


def test_instrument_row_has_every_field_and_the_provenance_as_json() -> None:
    meta = InstrumentMeta(
        vendor="fei",
        pixel_size_m=5e-9,
        pixel_size_y_m=7.5e-9,
        databar_height_px=16,
        provenance={"pixel_size_m": "[Scan] PixelWidth: agrees with ..."},
    )
    result = ImageResult(
        file=ImageFile("/x.tif", 1, 1), run_id="r", status="ok", image_hash="h" * 64, width=W, height=H,
        metadata=MetadataResult(exif={}, instrument=meta),
    )  # fmt: skip
    row = build_rows(result, model_id=None, written_at=datetime(2026, 1, 1)).dependents["instrument_meta"]
    assert set(row) >= {"image_hash", *INSTRUMENT_FIELDS}  # every field has its value
    assert (row["pixel_size_m"], row["pixel_size_y_m"], row["databar_height_px"]) == (5e-9, 7.5e-9, 16)
    assert json.loads(row["provenance"]) == meta.provenance and row["raw"] is None
