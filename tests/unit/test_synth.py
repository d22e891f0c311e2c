"""The synthetic SEM image generator: determinism, duplicates, vendor tags and sidecars that
read back to the known pixel size, and the bad inputs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semingest_worker import synth

UNIT = {"fm": 1e-15, "pm": 1e-12, "nm": 1e-9, "µm": 1e-6, "mm": 1e-3}


def _pixels(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[synth.SyntheticImage]:
    return synth.generate_corpus(
        tmp_path_factory.mktemp("synth"), 28, seed=11, styles=synth.STYLES, duplicate_fraction=0.15, workers=1
    )


def test_generation_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = synth.generate_corpus(tmp_path / "a", 8, seed=4, styles=synth.STYLES, workers=1)
    b = synth.generate_corpus(tmp_path / "b", 8, seed=4, styles=synth.STYLES, workers=2)  # pool: same files
    c = synth.generate_corpus(tmp_path / "c", 8, seed=5, styles=synth.STYLES, workers=1)
    for x, y in zip(a, b, strict=True):
        assert (x.style, x.pixel_size_m, x.bar_px, x.label_text) == (
            y.style,
            y.pixel_size_m,
            y.bar_px,
            y.label_text,
        )
        assert Path(x.path).read_bytes() == Path(y.path).read_bytes()
    assert [x.pixel_size_m for x in a] != [x.pixel_size_m for x in c]


def test_images_differ_from_each_other(corpus) -> None:
    originals = [img for img in corpus if img.duplicate_of is None]
    tops = {_pixels(img.path)[:300].tobytes() for img in originals}
    assert len(tops) == len(originals)


def test_count_sizes_and_duplicates(corpus) -> None:
    assert len(corpus) == 28
    dups = [img for img in corpus if img.duplicate_of]
    assert len(dups) == round(28 * 0.15)
    for img in corpus:
        with Image.open(img.path) as im:
            assert im.size == (1024, 768)
    for dup in dups:
        assert Path(dup.path).parent.name == "duplicates"
        assert Path(dup.path).read_bytes() != Path(dup.duplicate_of).read_bytes()  # other container/tags
        with Image.open(dup.path) as a, Image.open(dup.duplicate_of) as b:
            assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))  # same pixels


def test_label_value_over_bar_px_is_the_pixel_size(corpus) -> None:
    for img in corpus:
        m = re.match(r"([\d.]+) ?(nm|µm)$", img.label_text)
        assert m, img.label_text
        assert img.pixel_size_m == pytest.approx(float(m.group(1)) * UNIT[m.group(2)] / img.bar_px, rel=1e-12)
        assert 0.1 * 1024 - 1 <= img.bar_px <= 0.3 * 1024 + 1


def _zeiss_pixel_size(text: str) -> float:
    m = re.search(r"\r\nAP_PIXEL_SIZE\r\nPixel Size = ([\d.]+) (fm|pm|nm|µm|mm)\r\n", text)
    assert m
    return float(m.group(1)) * UNIT[m.group(2)]


def test_vendor_tags_and_sidecars_read_back_to_the_pixel_size(corpus) -> None:
    seen = set()
    for img in (i for i in corpus if i.duplicate_of is None):
        seen.add(img.style)
        path = Path(img.path)
        with Image.open(path) as im:
            tags = im.tag_v2 if hasattr(im, "tag_v2") else {}
            if img.style.startswith("zeiss"):
                text = tags[34118]
                # the traps come first; AP_PIXEL_SIZE carries 4 significant digits
                assert text.index("FIB Pixel Size = 0.0 fm") < text.index("AP_PIXEL_SIZE")
                assert "Argon Pixel Size = 0.0 fm" in text
                assert _zeiss_pixel_size(text) == pytest.approx(img.pixel_size_m, rel=1e-3)
                for key in (
                    "AP_MAG",
                    "AP_WD",
                    "AP_ACTUALKV",
                    "DP_DETECTOR_CHANNEL",
                    "AP_DATE",
                    "AP_TIME",
                    "SV_SERIAL_NUMBER",
                ):
                    assert f"\r\n{key}\r\n" in text
            elif img.style.startswith("fei"):
                text = tags[34682]
                scan = text[text.index("[Scan]") :]
                width = float(re.search(r"PixelWidth=(\S+)", scan).group(1))
                assert width == pytest.approx(img.pixel_size_m, rel=1e-5)
                bar = int(re.search(r"DatabarHeight=(\d+)", text).group(1))
                assert bar == round(768 * (0.05 if img.style == "fei" else 0.09))
                assert int(re.search(r"ResolutionY=(\d+)", text).group(1)) == 768 - bar
                assert (
                    re.search(r"\[Beam\]\r\nHV=\d+", text)
                    and "[Stage]" in text
                    and "WorkingDistance=" in text
                )
            elif img.style == "tescan":
                blob = bytes(tags[50431])
                assert tags[271].startswith("TESCAN")
                size = float(re.search(rb"PixelSizeX=([\d.eE+-]+)", blob).group(1))
                assert size == pytest.approx(img.pixel_size_m, rel=1e-9)
            elif img.style == "jeol":
                side = path.with_suffix(".txt").read_text(encoding="ascii")
                bar = int(re.search(r"\$\$SM_MICRON_BAR (\d+)", side).group(1))
                value, unit = re.search(r"\$\$SM_MICRON_MARKER ([\d.]+)(nm|um)", side).groups()
                full_w = int(re.search(r"\$CM_FULL_SIZE (\d+) \d+", side).group(1))
                size = float(value) * UNIT["µm" if unit == "um" else unit] / bar * full_w / im.size[0]
                assert size == pytest.approx(img.pixel_size_m, rel=1e-9)
            elif img.style == "hitachi":
                assert im.format == "JPEG" and im.mode == "RGB"
                side = path.with_suffix(".txt").read_text(encoding="utf-16")
                nm = float(re.search(r"PixelSize=([\d.]+)", side).group(1))
                assert nm * 1e-9 == pytest.approx(img.pixel_size_m, rel=1e-5)
    assert seen == set(synth.STYLES)


def test_bad_inputs_are_written_with_expected_reasons(tmp_path: Path) -> None:
    bad = synth.write_bad_inputs(tmp_path)
    names = {Path(p).name: reason for p, reason in bad.items()}
    assert names["zero_byte.tif"] == "empty" and Path(tmp_path / "bad" / "zero_byte.tif").stat().st_size == 0
    assert names["x'; DROP TABLE images; --.tif"] == "ok"
    assert {"truncated", "not an image", "decompression bomb", "pixel size", "34118", "no data bar"} <= set(
        bad.values()
    )
    for path in bad:
        assert Path(path).exists()
    bomb = tmp_path / "bad" / "decompression_bomb.tif"
    assert bomb.stat().st_size < 1024
    with pytest.raises(Image.DecompressionBombError):
        Image.open(bomb)
    with pytest.raises(OSError):
        with Image.open(tmp_path / "bad" / "truncated.tif") as im:
            im.load()
    with Image.open(tmp_path / "bad" / "absurd_pixel_size.tif") as im:
        assert "Pixel Size = 1e+030 m" in im.tag_v2[34118]
    with Image.open(tmp_path / "bad" / "garbage_tag_34118.tif") as im:
        raw = im.tag_v2[34118]
        raw = raw if isinstance(raw, bytes) else str(raw).encode("latin-1", "replace")
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    assert not list((tmp_path / "bad").glob("_src*"))
