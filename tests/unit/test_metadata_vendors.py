"""Vendor readers: the real corpus files (values as in MANIFEST.md) and synthetic vendor tags and
sidecars built here with tifffile, including absurd, unparseable and non-UTF-8 metadata."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from semingest_worker.imageio import decode_image
from semingest_worker.metadata import extract_metadata, find_sidecars
from semingest_worker.metadata.units import parse_length_m
from semingest_worker.records import ImageFile, MetadataResult

PIXELS = np.random.default_rng(7).integers(0, 256, (96, 128), dtype=np.uint8)


def _extract(path: Path | str) -> MetadataResult:
    path = str(path)
    st = os.stat(path)
    result = extract_metadata(
        decode_image(path), ImageFile(path, st.st_size, st.st_mtime_ns, find_sidecars(path))
    )
    json.dumps(result.instrument.raw)  # the raw vendor dictionary is always JSON-safe
    return result


def _tiff(path: Path, tag: int, value: bytes, dtype: int = 2, pixels: np.ndarray = PIXELS) -> Path:
    tifffile.imwrite(path, pixels, extratags=[(tag, dtype, len(value) if dtype != 2 else 0, value, True)])
    return path


# ------------------------------------------------------------------------------ real corpus
# The MANIFEST's metadata pixel sizes. They are parsed, not measured: compared to 1e-9 relative.
MANIFEST_PIXEL_SIZES = {
    "zeiss_1k_databar.tif": ("zeiss", 2.615e-6),  # AP_PIXEL_SIZE "Pixel Size = 2.615 µm"
    "fei_helios_8bit_databar.tif": ("fei", 3.3724e-006),  # [Scan] PixelWidth=3.3724e-006
    "fei_helios_16bit_databar.tif": ("fei", 3.3724e-006),
    "zeiss_nvision_black_databar.tif": ("zeiss", 5.860e-9),  # "Pixel Size = 5.860 nm"
    "tescan_amber_databar.tif": ("tescan", 4.537772e-09),  # PixelSizeX=4.537772e-09
    "fei_quanta_databar.tif": ("fei", 3.10059e-08),  # [Scan] PixelWidth=3.10059e-08
    # $$SM_MICRON_MARKER 100um over $$SM_MICRON_BAR 101 px at $CM_FULL_SIZE 1280 wide, saved
    # 1280 wide; the MANIFEST prints it rounded as 9.901e-07.
    "jeol_jxa_databar.tif": ("jeol", 100e-6 / 101),
    "zeiss_auriga_white_databar.tif": ("zeiss", 2.233e-9),  # AP_IMAGE_PIXEL_SIZE 2.233 nm
    "zeiss_geminisem_rgb_nobar.tif": ("zeiss", 111.6e-9),  # AP_IMAGE_PIXEL_SIZE 111.6 nm
    "thermo_scios_databar.tif": ("fei", 2.69792e-07),  # [Scan] PixelWidth=2.69792e-07
    "tescan_mira3_ruler_databar.tif": ("tescan", 2.5012e-6),  # PixelSizeX=2.5012e-6
    "jeol_jsm7001f_databar.tif": ("jeol", 100e-6 / 53),  # 1.8868e-06 in the MANIFEST
}
# The MANIFEST's files without vendor metadata: no pixel size from metadata, and no problem.
MANIFEST_WITHOUT_METADATA = (
    "hitachi_su3500_ruler.jpg",
    "jeol_sei_databar_a.jpg",
    "jeol_sei_databar_b.jpg",
    "fei_quanta_imagej_resaved_databar.tif",
    "philips_xl30_overlay_databar_a.tif",
    "philips_xl30_overlay_databar_b.tif",
    "hitachi_s3400_half_size_strip.png",
    "hitachi_s4800_text_on_image.tif",
)


def test_real_files_metadata_pixel_sizes_equal_the_manifest(sem_corpus: Path) -> None:
    for name, (vendor, expected) in MANIFEST_PIXEL_SIZES.items():
        result = _extract(sem_corpus / name)
        assert result.problems == (), name
        assert result.instrument.vendor == vendor, name
        assert result.instrument.pixel_size_m == pytest.approx(expected, rel=1e-9), name
        assert "pixel_size_m" in result.instrument.provenance, name
    assert f"{100e-6 / 101:.3e}" == "9.901e-07"  # the MANIFEST's rounded JEOL figures
    assert f"{100e-6 / 53:.4e}" == "1.8868e-06"
    for name in MANIFEST_WITHOUT_METADATA:
        result = _extract(sem_corpus / name)
        assert result.instrument.pixel_size_m is None and result.problems == (), name


def test_real_files_every_pixel_size_agrees_with_the_field_of_view(sem_corpus: Path) -> None:
    """Where the vendor states the field, the stored pixel is it over the saved width (1 %)."""
    checked = 0
    for name in MANIFEST_PIXEL_SIZES:
        result = _extract(sem_corpus / name)
        width = decode_image(sem_corpus / name).width
        raw = result.instrument.raw
        field = raw.get("AP_WIDTH") or raw.get("Scan", {}).get("HorFieldsize")
        if field is None:
            continue
        field_m = parse_length_m(field) if "AP_WIDTH" in raw else float(field)
        assert result.instrument.pixel_size_m == pytest.approx(field_m / width, rel=0.01), name
        checked += 1
    assert checked == 8  # 5 Zeiss-free: 4 FEI/Thermo + 4 Zeiss files state their field


def test_real_zeiss_512px_is_a_rescaled_save_and_says_so(sem_corpus: Path) -> None:
    """AP_PIXEL_SIZE 5.825 nm is for the 1024 px scan (AP_WIDTH 5.965 µm / 1024); the file is a
    2x downscaled 512 x 384 save, so its pixels are AP_WIDTH / 512 (the 200 nm bar over ~17 px
    agrees). The stored value is that, with the reason, not the 2x-off AP_PIXEL_SIZE."""
    result = _extract(sem_corpus / "zeiss_512px.tif")
    meta = result.instrument
    assert result.problems == ()
    assert meta.pixel_size_m == pytest.approx(5.965e-6 / 512, rel=1e-12)
    assert meta.pixel_size_y_m == meta.pixel_size_m  # AP_HEIGHT 4.474 µm / 384 rows agrees
    why = meta.provenance["pixel_size_m"]
    assert why.startswith("AP_WIDTH / image width: 5.965 µm / 512 px = 11.65 nm")
    assert "AP_PIXEL_SIZE = 5.825 nm describes a 1024 x 768 px scan" in why
    assert meta.raw["AP_PIXEL_SIZE"] == "5.825 nm"  # the stated value stays in raw


def test_real_thermo_databar_height_from_resolution_not_the_zero_header(sem_corpus: Path) -> None:
    meta = _extract(sem_corpus / "thermo_scios_databar.tif").instrument
    assert meta.raw["PrivateFei"]["DatabarHeight"] == "0"
    assert meta.databar_height_px == 68  # 1092 rows - [Image] ResolutionY 1024
    assert meta.provenance["databar_height_px"] == (
        "image height - [Image] ResolutionY: 1092 - 1024 rows ([PrivateFei] DatabarHeight = 0 disagrees)"
    )
    assert meta.pixel_size_y_m == 2.69792e-07  # [Scan] PixelHeight = VerFieldsize / 1024 rows


def test_real_bar_rows_and_pixel_heights(sem_corpus: Path) -> None:
    expected = {  # file: (databar rows, pixel height)
        "fei_quanta_databar.tif": (59, 3.10059e-08),
        "fei_helios_8bit_databar.tif": (29, 3.3724e-06),
        "tescan_mira3_ruler_databar.tif": (120, 2.5012e-6),  # ImageStripSize; PixelSizeY
        "tescan_amber_databar.tif": (179, 4.537772e-09),
        "jeol_jsm7001f_databar.tif": (64, None),  # 1024 rows - $CM_FULL_SIZE 960; no height stated
        "zeiss_1k_databar.tif": (None, 2.615e-6),  # no rows appended; AP_HEIGHT / 768 agrees
    }
    for name, (bar, height) in expected.items():
        meta = _extract(sem_corpus / name).instrument
        assert (meta.databar_height_px, meta.pixel_size_y_m) == (bar, height), name


def test_real_hitachi_jpeg_has_no_metadata(sem_corpus: Path) -> None:
    result = _extract(sem_corpus / "hitachi_su3500_ruler.jpg")
    assert result.instrument.vendor is None and result.instrument.pixel_size_m is None
    assert result.problems == () and result.exif == {}


def test_real_zeiss_fields(sem_corpus: Path) -> None:
    merlin = _extract(sem_corpus / "zeiss_1k_databar.tif").instrument
    assert (merlin.model, merlin.detector, merlin.source) == ("Merlin", "HE-SE2", "tiff:34118")
    assert merlin.accelerating_voltage_v == 25000.0  # AP_ACTUALKV "EHT = 25.00 kV"
    assert merlin.working_distance_m == pytest.approx(0.014808)  # AP_WD "WD = 14.808 mm"
    assert merlin.magnification == 105.0  # AP_MAG "Mag =    105 X"
    assert merlin.acquired_at == datetime(2015, 12, 23, 9, 40, 32)
    assert merlin.raw["AP_FIB_PIXEL_SIZE"] == "0.0 fm" and merlin.raw["AP_PIXEL_SIZE"] == "2.615 µm"
    ultra = _extract(sem_corpus / "zeiss_512px.tif").instrument
    assert ultra.model == "ULTRA 55"  # from "Serial No. = ULTRA 55-36-06" (no DP_SEM)
    assert ultra.magnification == 50000.0  # "Mag =  50.00 K X"
    nvision = _extract(sem_corpus / "zeiss_nvision_black_databar.tif").instrument
    assert (nvision.model, nvision.accelerating_voltage_v) == ("NVision 40", 1000.0)


def test_real_fei_fields(sem_corpus: Path) -> None:
    quanta = _extract(sem_corpus / "fei_quanta_databar.tif").instrument
    assert (quanta.model, quanta.detector, quanta.source) == ("Quanta FEG", "ETD", "tiff:34682")
    assert quanta.databar_height_px == 59
    assert quanta.accelerating_voltage_v == 10000.0
    assert quanta.working_distance_m == pytest.approx(0.0104771)
    assert quanta.magnification == pytest.approx(0.127 / 3.175e-5)  # MagCanvasRealWidth / HFW
    assert quanta.acquired_at == datetime(2021, 1, 25, 10, 51, 1)
    assert quanta.raw["Scan"]["PixelWidth"] == "3.10059e-008"
    helios = _extract(sem_corpus / "fei_helios_16bit_databar.tif").instrument
    assert helios.model == 'Helios NanoLab" 660'  # a quote inside a value survives verbatim
    assert helios.databar_height_px == 29
    assert helios.acquired_at == datetime(2016, 6, 13, 17, 6, 40)  # "05:06:40 PM"


def test_real_tescan_and_jeol_fields(sem_corpus: Path) -> None:
    amber = _extract(sem_corpus / "tescan_amber_databar.tif").instrument
    assert (amber.model, amber.detector, amber.source) == ("TESCAN AMBER", "E-T", "tiff:50431")
    assert amber.accelerating_voltage_v == 1000.0 and amber.working_distance_m == 0.003847444
    assert amber.magnification == pytest.approx(59999.85148301)
    assert amber.acquired_at == datetime(2023, 3, 24, 8, 8, 25)
    jxa = _extract(sem_corpus / "jeol_jxa_databar.tif").instrument
    assert jxa.source == str(sem_corpus / "jeol_jxa_databar.txt")
    assert (jxa.model, jxa.detector, jxa.magnification) == ("8530F", "SEI", 95.0)
    assert jxa.accelerating_voltage_v == 7000.0  # $CM_ACCEL_VOLT 7.00 (kV)
    assert jxa.working_distance_m == pytest.approx(0.01052)  # $$SM_WD 10.52 (mm)
    assert jxa.acquired_at == datetime(2020, 8, 31, 15, 32, 31)
    assert jxa.raw["$$SM_MICRON_MARKER"] == "100um"


# ------------------------------------------------------------------------------ Zeiss, synthetic
def zeiss_text(pixel_size: str = "Pixel Size = 2.615 µm", kv: str = "EHT = 25.00 kV", extra: str = "") -> str:
    pairs = [
        ("DP_DETECTOR_CHANNEL", "Signal A = InLens"),
        ("AP_FIB_PIXEL_SIZE", "FIB Pixel Size = 0.0 fm"),  # traps before the real entry
        ("AP_AR_PIXEL_SIZE", "Argon Pixel Size = 0.0 fm"),
        ("AP_PIXEL_SIZE", pixel_size),
        ("AP_MAG", "Mag =  1.50 K X"),
        ("AP_WD", "WD =  5.2 mm"),
        ("AP_ACTUALKV", kv),
        ("DP_SEM", "Sem = Sigma"),
        ("AP_TIME", "Time :14:05:09"),
        ("AP_DATE", "Date :3 Feb 2021"),
    ]
    body = "\r\n".join(f"{k}\r\n{v}" for k, v in pairs)
    return "0\r\n0\r\n0\r\n2.6e-006\r\n1.0e+002\r\n" + extra + body + "\r\n\x00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pixel Size = 2.615 µm", 2.615e-6),
        ("Pixel Size = 2.615 um", 2.615e-6),
        ("Pixel Size = 2.615 \u03bcm", 2.615e-6),  # Greek mu instead of the micro sign
        ("Pixel Size = 5.825 nm", 5.825e-9),
        ("Pixel Size = 812.5 pm", 812.5e-12),
        ("Pixel Size = 0.0021 mm", 2.1e-6),
    ],
)
def test_zeiss_pixel_size_units_selected_by_key(tmp_path: Path, text: str, expected: float) -> None:
    for encoding in ("latin-1", "utf-8"):
        data = zeiss_text(text).encode(encoding, "replace" if encoding == "latin-1" else "strict")
        if "\u03bc" in text and encoding == "latin-1":
            continue  # not representable in latin-1
        result = _extract(_tiff(tmp_path / f"z_{encoding}.tif", 34118, data))
        assert result.problems == ()
        assert result.instrument.pixel_size_m == pytest.approx(expected, rel=1e-12)


def test_zeiss_synthetic_fields(tmp_path: Path) -> None:
    meta = _extract(_tiff(tmp_path / "z.tif", 34118, zeiss_text().encode("latin-1"))).instrument
    assert (meta.vendor, meta.model, meta.detector) == ("zeiss", "Sigma", "InLens")
    assert (meta.magnification, meta.accelerating_voltage_v) == (1500.0, 25000.0)
    assert meta.working_distance_m == pytest.approx(5.2e-3)
    assert meta.acquired_at == datetime(2021, 2, 3, 14, 5, 9)


def test_zeiss_absurd_pixel_size_and_negative_voltage(tmp_path: Path) -> None:
    data = zeiss_text("Pixel Size = 1e+030 m", "EHT = -5.00 kV").encode("latin-1")
    result = _extract(_tiff(tmp_path / "absurd.tif", 34118, data))
    assert result.problems == (
        "absurd metadata: pixel size AP_PIXEL_SIZE = 1e+30 m outside [1e-12, 0.01]",
        "absurd metadata: accelerating voltage AP_ACTUALKV = -5000 V outside [0, 1e+06]",
    )
    meta = result.instrument
    assert meta.pixel_size_m is None and meta.accelerating_voltage_v is None
    assert meta.magnification == 1500.0 and meta.model == "Sigma"  # everything else is kept
    assert "pixel_size_m" not in meta.provenance and meta.provenance["magnification"] == "AP_MAG"


def test_zeiss_unparseable_value(tmp_path: Path) -> None:
    data = zeiss_text("Pixel Size = n/a").encode("latin-1")
    result = _extract(_tiff(tmp_path / "bad.tif", 34118, data))
    assert result.problems == (
        "unparseable metadata: AP_PIXEL_SIZE = 'n/a' (expected a length such as '2.615 µm')",
    )
    assert result.instrument.pixel_size_m is None


@pytest.mark.parametrize("dtype", [2, 7])  # as ASCII and as UNDEFINED bytes
def test_non_utf8_garbage_in_zeiss_and_fei_tags(tmp_path: Path, dtype: int) -> None:
    garbage = bytes(np.random.default_rng(3).integers(128, 256, 700, dtype=np.uint8)) + b"\xc3\x28\xff"
    zeiss = _extract(_tiff(tmp_path / "z.tif", 34118, garbage, dtype))
    assert zeiss.instrument.vendor == "zeiss" and zeiss.instrument.pixel_size_m is None
    assert len(zeiss.problems) == 1
    assert zeiss.problems[0].startswith(
        "undecodable vendor metadata: tag 34118 (Zeiss) has no AP_/DP_/SV_ key lines"
    )
    fei = _extract(_tiff(tmp_path / "f.tif", 34682, garbage, dtype))
    assert fei.instrument.vendor == "fei" and fei.instrument.pixel_size_m is None
    assert len(fei.problems) == 1
    assert fei.problems[0].startswith(
        "undecodable vendor metadata: tag 34682 (FEI) has no [Section] key=value text"
    )
    assert zeiss.exif["image_width"] == 128  # the standard tags are kept


# ------------------------------------------------------------------------------ FEI, synthetic
def fei_text(hv: str = "15000", pixel: str = "4.5e-009", user_text: str = "") -> str:
    return (
        "[User]\r\nDate=12/31/2022\r\nTime=11:59:58 PM\r\nUser=supervisor\r\n"
        f"UserText={user_text}\r\n\r\n"
        "[System]\r\nType=SEM\r\nSystemType=Apreo 2 S\r\n\r\n"
        f"[Beam]\r\nHV={hv}\r\nScan=EScan\r\n\r\n"
        "[EBeam]\r\nHV=15000\r\nHFW=5.76e-007\r\nWD=0.0041\r\n\r\n"  # 128 px x 4.5 nm
        f"[Scan]\r\nPixelWidth={pixel}\r\nPixelHeight={pixel}\r\n\r\n"
        "[Stage]\r\nWorkingDistance=0.00401\r\n\r\n"
        "[Image]\r\nMagCanvasRealWidth=0.00576\r\n\r\n"
        "[Detectors]\r\nNumber=1\r\nName=T1\r\n\r\n"
        "[PrivateFei]\r\nDatabarHeight=86\r\n"
    )


def test_fei_synthetic_fields(tmp_path: Path) -> None:
    sql = "Robert'); DROP TABLE images;-- µ"
    meta = _extract(_tiff(tmp_path / "f.tif", 34682, fei_text(user_text=sql).encode("utf-8"))).instrument
    assert (meta.vendor, meta.model, meta.detector, meta.source) == ("fei", "Apreo 2 S", "T1", "tiff:34682")
    assert meta.pixel_size_m == 4.5e-9 and meta.accelerating_voltage_v == 15000.0
    assert meta.working_distance_m == 0.00401 and meta.databar_height_px == 86
    assert meta.magnification == pytest.approx(10000.0)
    assert meta.acquired_at == datetime(2022, 12, 31, 23, 59, 58)
    assert meta.raw["User"]["UserText"] == sql  # stored verbatim (the database binds parameters)


def test_fei_negative_voltage_is_absurd_rest_kept(tmp_path: Path) -> None:
    result = _extract(_tiff(tmp_path / "f.tif", 34682, fei_text(hv="-5000").encode("ascii")))
    assert result.problems == (
        "absurd metadata: accelerating voltage [Beam] HV = -5000 V outside [0, 1e+06]",
    )
    assert result.instrument.accelerating_voltage_v is None
    assert result.instrument.pixel_size_m == 4.5e-9


# ------------------------------------------------------------------------------ TESCAN, synthetic
def tescan_blob(pixel: str = "0.000000012") -> bytes:
    rng = np.random.default_rng(11)
    thumbnail = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8))
    thumbnail += b"\nnoise=1\n" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)) + b"\xff\xd9"
    main = (
        "AccFrames=4\nDate=2022-05-06\nDevice=TESCAN MIRA\nDeviceModel=S6123\nMagnification=25000.5\n"
        f"PixelSizeX={pixel}\nPixelSizeY={pixel}\nSerialNumber=116-0123\nTime=13:14:15\nUserName=op\n"
    ).encode()
    sem = b"Detector=SE\nHV=20000.0\nWD=0.0091\n"
    return (
        struct_header(len(thumbnail))
        + thumbnail
        + b"\xaa\x01\x00\x00\x02\x00"
        + main
        + b"\x00v\x04\x00\x00\x03\x00"
        + sem
        + b"\x00\x02\x00\x00\x00"
    )


def struct_header(n: int) -> bytes:
    return n.to_bytes(4, "little") + b"\x01\x00\x00\x00"


def test_tescan_blob_text_found_after_binary_thumbnail(tmp_path: Path) -> None:
    meta = _extract(_tiff(tmp_path / "t.tif", 50431, tescan_blob(), dtype=1)).instrument
    assert (meta.vendor, meta.model, meta.detector, meta.source) == (
        "tescan",
        "TESCAN MIRA",
        "SE",
        "tiff:50431",
    )
    assert meta.pixel_size_m == 1.2e-8 and meta.accelerating_voltage_v == 20000.0
    assert meta.working_distance_m == 0.0091 and meta.magnification == 25000.5
    assert meta.acquired_at == datetime(2022, 5, 6, 13, 14, 15)
    assert "noise" not in meta.raw  # a lone key=value line inside the thumbnail is not metadata


def test_tescan_blob_without_text_and_absurd_value(tmp_path: Path) -> None:
    empty = _extract(_tiff(tmp_path / "t0.tif", 50431, b"\x01\x02" * 500, dtype=1))
    assert empty.problems == (
        "undecodable vendor metadata: tag 50431 (TESCAN) has no key=value text (1000 bytes)",
    )
    absurd = _extract(_tiff(tmp_path / "t1.tif", 50431, tescan_blob(pixel="7"), dtype=1))
    assert absurd.problems == (
        "absurd metadata: pixel size PixelSizeX = 7 m outside [1e-12, 0.01]",
        "absurd metadata: pixel height PixelSizeY = 7 m outside [1e-12, 0.01]",
    )


def test_tescan_hdr_sidecar(tmp_path: Path) -> None:
    Image.fromarray(PIXELS).save(tmp_path / "scan 01.tif")
    (tmp_path / "scan 01-tif.hdr").write_text(
        "[MAIN]\r\nDevice=VEGA3\r\nPixelSizeX=2.5e-07\r\nDate=2019-01-02\r\nTime=03:04:05\r\n"
        "[SEM]\r\nHV=30000\r\nWD=0.015\r\nMagnification=500\r\n",
        encoding="ascii",
    )
    meta = _extract(tmp_path / "scan 01.tif").instrument
    assert (meta.vendor, meta.model, meta.pixel_size_m) == ("tescan", "VEGA3", 2.5e-7)
    assert meta.source == str(tmp_path / "scan 01-tif.hdr")
    assert (meta.accelerating_voltage_v, meta.working_distance_m, meta.magnification) == (
        30000.0,
        0.015,
        500.0,
    )


# ------------------------------------------------------------------------------ JEOL, synthetic
def jeol_sidecar(full: str = "2560 1920", marker: str = "5um", bar: str = "120") -> str:
    return (
        "$CM_FORMAT JEOL-SEM\n$CM_VERSION 1.0\n$CM_INSTRUMENT JSM-7800F\n$CM_SIGNAL_NAME LED\n"
        "$CM_ACCEL_VOLT 15.00\n$$SM_WD 10.0\n$CM_MAG 5000\n$CM_DATE 2019/11/05\n$CM_TIME 10:11:12\n"
        f"$CM_FULL_SIZE {full}\n$$SM_MICRON_BAR {bar}\n$$SM_MICRON_MARKER {marker}\n"
    )


def test_jeol_pixel_size_rescaled_from_full_frame_to_saved_width(tmp_path: Path) -> None:
    Image.fromarray(PIXELS).save(tmp_path / "img.tif")  # saved 128 px wide
    (tmp_path / "img.txt").write_text(jeol_sidecar(full="256 192"), encoding="ascii")
    meta = _extract(tmp_path / "img.tif").instrument
    assert meta.vendor == "jeol" and meta.source == str(tmp_path / "img.txt")
    assert meta.pixel_size_m == pytest.approx(5e-6 / 120 * 2, rel=1e-12)  # 256 full / 128 saved
    assert (meta.model, meta.detector, meta.magnification) == ("JSM-7800F", "LED", 5000.0)
    assert meta.accelerating_voltage_v == 15000.0 and meta.working_distance_m == pytest.approx(0.01)
    assert meta.acquired_at == datetime(2019, 11, 5, 10, 11, 12)
    (tmp_path / "img.txt").write_text(jeol_sidecar(full="128 96", marker="100nm", bar="80"), encoding="ascii")
    assert _extract(tmp_path / "img.tif").instrument.pixel_size_m == pytest.approx(100e-9 / 80, rel=1e-12)


def test_jeol_bad_marker(tmp_path: Path) -> None:
    Image.fromarray(PIXELS).save(tmp_path / "img.bmp")
    (tmp_path / "img.TXT").write_text(jeol_sidecar(bar="0"), encoding="ascii")
    result = _extract(tmp_path / "img.bmp")
    assert result.instrument.vendor == "jeol" and result.instrument.pixel_size_m is None
    assert result.problems == (
        "unparseable metadata: $$SM_MICRON_MARKER / $$SM_MICRON_BAR = '5um' / '0' "
        "(expected a length over a positive pixel count)",
    )


# ------------------------------------------------------------------------------ Hitachi, synthetic
HITACHI = (
    "[SemImageFile]\r\nInstructName=SU3500\r\nSerialNumber=350012-07\r\nDataNumber=042\r\n"
    "SampleName=fibre µ-mat\r\nFormat=jpg\r\nImageName=fibre_042.jpg\r\nDate=2018/08/06\r\n"
    "Time=10:53:22\r\nDataSize={w}x{h}\r\nPixelSize=99.21875\r\nSignalName=SE(UL)\r\n"
    "AcceleratingVoltage=15000 Volt\r\nDecelerationVoltage=0 Volt\r\nMagnification=1000\r\n"
    "WorkingDistance=8100 um\r\nMicronMarker=10000\r\nCondition=Vacc=15.0kV Mag=x1.00k WD=8.1mm\r\n"
)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp1252", "utf-8-sig"])
def test_hitachi_sidecar_in_any_encoding(tmp_path: Path, encoding: str) -> None:
    Image.fromarray(np.stack([PIXELS] * 3, axis=-1)).save(tmp_path / "fibre_042.jpg")
    (tmp_path / "fibre_042.txt").write_bytes(HITACHI.format(w=128, h=96).encode(encoding))
    meta = _extract(tmp_path / "fibre_042.jpg").instrument
    assert (meta.vendor, meta.model, meta.detector) == ("hitachi", "SU3500", "SE(UL)")
    assert meta.pixel_size_m == pytest.approx(99.21875e-9, rel=1e-12)
    assert meta.accelerating_voltage_v == 15000.0 and meta.working_distance_m == pytest.approx(8.1e-3)
    assert meta.magnification == 1000.0 and meta.acquired_at == datetime(2018, 8, 6, 10, 53, 22)
    assert meta.raw["SemImageFile"]["SampleName"] == "fibre µ-mat"


def test_hitachi_pixel_size_rescaled_and_condition_fallback(tmp_path: Path) -> None:
    Image.fromarray(PIXELS).save(tmp_path / "a.png")
    text = HITACHI.format(w=256, h=192).replace("AcceleratingVoltage=15000 Volt\r\n", "")
    (tmp_path / "a.txt").write_text(text, encoding="utf-16")
    meta = _extract(tmp_path / "a.png").instrument
    assert meta.pixel_size_m == pytest.approx(99.21875e-9 * 2, rel=1e-12)  # DataSize 256, saved 128
    assert meta.accelerating_voltage_v == 15000.0  # from "Condition=Vacc=15.0kV ..."


# ------------------------------------------------------------------------------ unknown vendors
def test_unknown_vendor_keeps_private_tags_raw(tmp_path: Path) -> None:
    tifffile.imwrite(
        tmp_path / "imagej.tif",
        PIXELS,
        imagej=True,
        resolution=(1 / 0.05, 1 / 0.05),
        metadata={"unit": "micron"},
        extratags=[(65000, 1, 6, b"\x00\xffab\x01\x02", True), (65001, 2, 0, b"x" * 50_000, True)],
    )
    result = _extract(tmp_path / "imagej.tif")
    meta = result.instrument
    assert meta.vendor is None and meta.pixel_size_m is None and meta.source is None
    assert result.problems == ()
    assert meta.raw["tiff:65000"] == "00ff61620102"  # binary -> hex
    assert meta.raw["tiff:65001"].startswith("x" * 4096 + "...[truncated")  # huge -> truncated
    assert "tiff:34118" not in meta.raw and result.exif["image_description"].startswith("ImageJ=")


def test_unrecognised_and_unreadable_sidecars(tmp_path: Path) -> None:
    Image.fromarray(PIXELS).save(tmp_path / "a.tif")
    (tmp_path / "a.txt").write_text("lab notebook: nice sample\n")
    assert _extract(tmp_path / "a.tif").instrument.vendor is None
    image = decode_image(tmp_path / "a.tif")
    missing = str(tmp_path / "gone.txt")
    result = extract_metadata(image, ImageFile(str(tmp_path / "a.tif"), 1, 1, (missing,)))
    assert result.problems == (f"cannot read sidecar {missing}: No such file or directory",)


def test_vendor_tag_wins_over_sidecar(tmp_path: Path) -> None:
    _tiff(tmp_path / "z.tif", 34118, zeiss_text().encode("latin-1"))
    (tmp_path / "z.txt").write_text(jeol_sidecar(), encoding="ascii")
    meta = _extract(tmp_path / "z.tif").instrument
    assert meta.vendor == "zeiss" and meta.pixel_size_m == 2.615e-6


def test_mangled_vendor_text_never_raises(tmp_path: Path) -> None:
    """Deterministic fuzzing of every reader's input: the result is data plus problems, never a crash."""
    rng = np.random.default_rng(99)
    alphabet = b"=\r\n[]$ .-e0123456789xXkKmun\xb5"

    def mangle(data: bytes) -> bytes:
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 25))):
            pos = int(rng.integers(0, len(out)))
            choice = rng.integers(0, 4)
            if choice == 0:
                out[pos] = int(rng.integers(0, 256))
            elif choice == 1:
                out[pos] = alphabet[int(rng.integers(0, len(alphabet)))]
            elif choice == 2:
                del out[pos : pos + int(rng.integers(1, 20))]
            else:
                out[pos:pos] = [b"1e999", b"-5", b"nan", b"\x00", b"="][int(rng.integers(0, 5))]
        return bytes(out) or b"x"

    tags = {34118: zeiss_text().encode("latin-1"), 34682: fei_text().encode("ascii"), 50431: tescan_blob()}
    sidecars = {
        "jeol": jeol_sidecar().encode("ascii"),
        "hitachi": HITACHI.format(w=128, h=96).encode("utf-16"),
    }
    problems = 0
    for _ in range(60):
        for tag, text in tags.items():
            result = _extract(_tiff(tmp_path / "v.tif", tag, mangle(text), dtype=1))
            problems += bool(result.problems)
        for name, text in sidecars.items():
            Image.fromarray(PIXELS).save(tmp_path / f"{name}.tif")
            (tmp_path / f"{name}.txt").write_bytes(mangle(text))
            problems += bool(_extract(tmp_path / f"{name}.tif").problems)
    assert problems > 20  # the mangling does produce reasons, not silence
