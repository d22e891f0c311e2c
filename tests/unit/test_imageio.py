"""imageio: decoding TIFF/JPEG/PNG/BMP, canonical pixels, content hash, and every bad input."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, TiffImagePlugin

from semingest_worker.imageio import (
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    ImageDecodeError,
    _raw_strips,
    decode_image,
)

RNG = np.random.default_rng(42)
GREY8 = RNG.integers(0, 256, (48, 64), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (48, 64), dtype=np.uint16)
RGB8 = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _reason(path: Path, **kw) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, **kw)
    return info.value.reason


def _grey_palette_image(arr: np.ndarray) -> Image.Image:
    im = Image.fromarray(arr).convert("P")
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    return im


# ------------------------------------------------------------------------------ formats, modes
def test_8bit_grey_tiff_png_bmp_jpeg(tmp_path: Path) -> None:
    for name in ("g.tif", "g.png", "g.bmp"):
        Image.fromarray(GREY8).save(tmp_path / name)
        img = decode_image(tmp_path / name)
        assert (img.mode, img.width, img.height, img.page_count) == ("L", 64, 48, 1)
        assert img.pixels.dtype == np.uint8 and img.pixels.shape == (48, 64)
        assert np.array_equal(img.pixels, GREY8)
    assert decode_image(tmp_path / "g.tif").format == "TIFF"
    assert decode_image(tmp_path / "g.png").format == "PNG"
    assert decode_image(tmp_path / "g.bmp").format == "BMP"
    Image.fromarray(GREY8).save(tmp_path / "g.jpg", quality=90)
    jpg = decode_image(tmp_path / "g.jpg")
    assert (jpg.format, jpg.mode, jpg.pixels.shape) == ("JPEG", "L", (48, 64))


def test_16bit_grey_little_and_big_endian_tiff_and_png(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "le.tif", GREY16)
    tifffile.imwrite(tmp_path / "be.tif", GREY16, byteorder=">")
    Image.fromarray(GREY16).save(tmp_path / "g16.png")
    images = [decode_image(tmp_path / n) for n in ("le.tif", "be.tif", "g16.png")]
    assert [i.mode for i in images] == ["I;16", "I;16B", "I;16"]
    for img in images:
        assert img.pixels.dtype == np.dtype("uint16") and img.pixels.dtype.isnative
        assert np.array_equal(img.pixels, GREY16)
        assert img.gray() is img.pixels  # already 2-D uint16: no copy
    assert len({i.image_hash for i in images}) == 1


def test_rgb_tiff_png_bmp_jpeg_and_rgba_drops_alpha(tmp_path: Path) -> None:
    for name in ("c.tif", "c.png", "c.bmp"):
        Image.fromarray(RGB8).save(tmp_path / name)
        img = decode_image(tmp_path / name)
        assert img.mode == "RGB" and img.pixels.shape == (48, 64, 3)
        assert np.array_equal(img.pixels, RGB8)
    Image.fromarray(RGB8).convert("RGBA").save(tmp_path / "a.png")
    rgba = decode_image(tmp_path / "a.png")
    assert rgba.mode == "RGBA" and np.array_equal(rgba.pixels, RGB8)
    assert rgba.image_hash == decode_image(tmp_path / "c.png").image_hash
    Image.fromarray(RGB8).save(tmp_path / "c.jpg")
    assert decode_image(tmp_path / "c.jpg").pixels.shape == (48, 64, 3)


def test_grey_palette_is_mapped_through_its_palette(tmp_path: Path) -> None:
    inverted = _grey_palette_image(GREY8)
    inverted.putpalette([v for i in range(256) for v in (255 - i,) * 3])
    inverted.save(tmp_path / "inv.tif")
    img = decode_image(tmp_path / "inv.tif")
    assert img.mode == "P" and img.pixels.ndim == 2
    assert np.array_equal(img.pixels, 255 - GREY8)


def test_palette_with_a_used_colour_entry_becomes_rgb(tmp_path: Path) -> None:
    idx = GREY8.copy()
    idx[0, :10] = 9  # entry 9 is red, like Zeiss SmartSEM's annotation colours
    palette = [v for i in range(256) for v in (i, i, i)]
    palette[27:30] = [255, 0, 0]
    im = Image.fromarray(idx).convert("P")
    im.putpalette(palette)
    im.save(tmp_path / "colour.tif")
    img = decode_image(tmp_path / "colour.tif")
    assert img.pixels.shape == (48, 64, 3)
    assert tuple(img.pixels[0, 0]) == (255, 0, 0)
    assert img.gray().shape == (48, 64) and img.gray()[0, 0] == 76  # ITU-R 601 luminance of red
    assert np.array_equal(img.rgb8(), img.pixels)


def test_bilevel_becomes_0_and_255(tmp_path: Path) -> None:
    Image.fromarray(GREY8 > 128).save(tmp_path / "b.tif", compression="group4")
    img = decode_image(tmp_path / "b.tif")
    assert img.mode == "1" and set(np.unique(img.pixels)) <= {0, 255}
    assert np.array_equal(img.pixels == 255, GREY8 > 128)


def test_multipage_tiff_takes_first_page_and_counts_pages(tmp_path: Path) -> None:
    pages = np.stack([GREY8, 255 - GREY8, GREY8 // 2])
    tifffile.imwrite(tmp_path / "multi.tif", pages, photometric="minisblack")
    img = decode_image(tmp_path / "multi.tif")
    assert img.page_count == 3
    assert np.array_equal(img.pixels, GREY8)


def test_16bit_rgb_and_float64_tiff_are_read_natively_via_tifffile(tmp_path: Path) -> None:
    rgb16 = RNG.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb16)
    img = decode_image(tmp_path / "rgb16.tif")
    assert img.pixels.dtype == np.uint16 and np.array_equal(img.pixels, rgb16)
    assert img.gray().dtype == np.uint16 and img.rgb8().dtype == np.uint8
    tifffile.imwrite(tmp_path / "f64.tif", GREY16.astype(np.float64))
    f64 = decode_image(tmp_path / "f64.tif")
    assert f64.pixels.dtype == np.float32 and np.array_equal(f64.pixels, GREY16.astype(np.float32))
    assert f64.gray().dtype == np.uint16


def test_rgb8_stretches_16bit_by_its_actual_range() -> None:
    a = np.array([[1000, 2000], [3000, 1000]], dtype=np.uint16)
    img = DecodedImage(a, "I;16", "TIFF", 2, 2, 1, "x")
    rgb = img.rgb8()
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[1, 0, 0] == 255 and rgb[0, 1, 0] in (127, 128)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
    flat = DecodedImage(np.full((2, 2), 7, np.uint16), "I;16", "TIFF", 2, 2, 1, "x")
    assert not flat.rgb8().any()


def test_pixels_are_read_only(tmp_path: Path) -> None:
    Image.fromarray(GREY8).save(tmp_path / "g.tif")
    img = decode_image(tmp_path / "g.tif")
    with pytest.raises(ValueError):
        img.pixels[0, 0] = 1


# ------------------------------------------------------------------------------ content hash
def test_hash_is_of_pixels_not_of_file_compression_or_tags(tmp_path: Path) -> None:
    im = Image.fromarray(GREY8)
    im.save(tmp_path / "raw.tif")
    im.save(tmp_path / "lzw.tif", compression="tiff_lzw")
    im.save(tmp_path / "deflate.tif", compression="tiff_adobe_deflate")
    im.save(tmp_path / "packbits.tif", compression="packbits")
    tagged = TiffImagePlugin.ImageFileDirectory_v2()
    tagged[270] = "re-saved by ImageJ"
    im.save(tmp_path / "tagged.tif", tiffinfo=tagged)
    im.save(tmp_path / "g.png")
    im.save(tmp_path / "g.bmp")
    _grey_palette_image(GREY8).save(tmp_path / "palette.tif")  # Zeiss-style palette file
    names = [
        "raw.tif",
        "lzw.tif",
        "deflate.tif",
        "packbits.tif",
        "tagged.tif",
        "g.png",
        "g.bmp",
        "palette.tif",
    ]
    hashes = {decode_image(tmp_path / n).image_hash for n in names}
    assert len(hashes) == 1
    (h,) = hashes
    assert len(h) == 64 and int(h, 16) >= 0

    changed = GREY8.copy()
    changed[5, 5] ^= 1
    Image.fromarray(changed).save(tmp_path / "changed.tif")
    Image.fromarray(GREY8.reshape(64, 48)).save(tmp_path / "reshaped.tif")  # same bytes, other shape
    Image.fromarray(GREY8.astype(np.uint16)).save(tmp_path / "wider.png")  # same values, other dtype
    for other in ("changed.tif", "reshaped.tif", "wider.png"):
        assert decode_image(tmp_path / other).image_hash != h, other


# ------------------------------------------------------------------------------ bad inputs
def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.tif").write_bytes(b"")
    assert _reason(tmp_path / "empty.tif") == "empty file (0 bytes)"


def test_text_file_named_tif(tmp_path: Path) -> None:
    (tmp_path / "notes.tif").write_text("hello, this is not a TIFF")
    assert (
        _reason(tmp_path / "notes.tif") == "not an image: unrecognised format (first bytes b'hello, this ')"
    )


def test_other_image_formats_are_named(tmp_path: Path) -> None:
    Image.fromarray(GREY8).save(tmp_path / "x.gif")
    (tmp_path / "x.tif").write_bytes((tmp_path / "x.gif").read_bytes())
    assert _reason(tmp_path / "x.tif") == "unsupported image format: GIF (supported: TIFF, JPEG, PNG, BMP)"


def test_truncated_tiff_names_the_missing_bytes(tmp_path: Path) -> None:
    Image.fromarray(np.tile(GREY8, (4, 4))).save(tmp_path / "full.tif")
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "half.tif").write_bytes(data[: len(data) // 2])
    reason = _reason(tmp_path / "half.tif")
    assert reason.startswith(f"truncated TIFF: file has {len(data) // 2} bytes but its image data extends")
    (tmp_path / "header.tif").write_bytes(data[:6])
    assert _reason(tmp_path / "header.tif").startswith("truncated TIFF: header ends early (file has 6 bytes")


def test_truncated_jpeg_and_png(tmp_path: Path) -> None:
    big = np.tile(RGB8, (8, 8, 1))
    Image.fromarray(big).save(tmp_path / "full.jpg")
    Image.fromarray(big).save(tmp_path / "full.png")
    for name, fmt in (("full.jpg", "JPEG"), ("full.png", "PNG")):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[: len(data) // 2])
        assert _reason(tmp_path / f"cut_{name}").startswith(f"truncated {fmt}: ")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert _reason(tmp_path / "absent.tif") == "cannot read file: No such file or directory"
    assert _reason(tmp_path) == "not a regular file: a directory"


def _bomb_tiff(width: int, height: int) -> bytes:
    entries = [
        (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
        (273, 4, 200), (277, 3, 1), (278, 4, height), (279, 4, width * height),
    ]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, typ, val in entries:
        ifd += struct.pack("<HHI", tag, typ, 1) + (
            struct.pack("<HH", val, 0) if typ == 3 else struct.pack("<I", val)
        )
    head = b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
    return head + bytes(200 - len(head)) + bytes(64)


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_fails_fast_without_allocating(tmp_path: Path) -> None:
    (tmp_path / "bomb.tif").write_bytes(_bomb_tiff(40000, 40000))
    (tmp_path / "bomb.png").write_bytes(_bomb_png(40000, 40000))
    before = Image.MAX_IMAGE_PIXELS
    tracemalloc.start()
    try:
        tiff_reason = _reason(tmp_path / "bomb.tif")
        png_reason = _reason(tmp_path / "bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = "decompression bomb: declares 40000x40000 = 1.6e9 pixels, limit 2.0e8"
    assert tiff_reason == expected and png_reason == expected
    assert peak < 2_000_000  # a decoded 40000x40000 image would be 1.6 GB
    assert Image.MAX_IMAGE_PIXELS == before  # Pillow's process-global limit is not touched
    assert DEFAULT_MAX_PIXELS == 200_000_000


def test_max_pixels_is_per_call(tmp_path: Path) -> None:
    Image.fromarray(GREY8).save(tmp_path / "g.tif")
    assert _reason(tmp_path / "g.tif", max_pixels=1000) == (
        "decompression bomb: declares 64x48 = 3.1e3 pixels, limit 1.0e3"
    )
    assert decode_image(tmp_path / "g.tif", max_pixels=64 * 48).width == 64


def test_does_not_depend_on_pillows_global_pixel_limit(tmp_path: Path, monkeypatch) -> None:
    Image.fromarray(GREY8).save(tmp_path / "g.tif")
    Image.fromarray(GREY8).save(tmp_path / "g.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert np.array_equal(decode_image(tmp_path / "g.tif").pixels, GREY8)
    assert np.array_equal(decode_image(tmp_path / "g.png").pixels, GREY8)


@pytest.mark.parametrize(
    "name",
    [
        "x'; DROP TABLE images; --.tif",
        'quote"d name.tif',
        "semi;colon's.tif",
        "µm scale ✓.tif",
        "-leading dash.tif",
    ],
)
def test_file_names_with_quotes_semicolons_and_sql(tmp_path: Path, name: str) -> None:
    Image.fromarray(GREY8).save(tmp_path / name)
    assert np.array_equal(decode_image(str(tmp_path / name)).pixels, GREY8)


# ------------------------------------------------------------------------------ real corpus
CORPUS = {
    "zeiss_1k_databar.tif": ("TIFF", "P", 1024, 768, (768, 1024)),
    "zeiss_512px.tif": ("TIFF", "P", 512, 384, (384, 512, 3)),  # uses a green annotation entry
    "fei_helios_8bit_databar.tif": ("TIFF", "L", 512, 471, (471, 512)),
    "fei_helios_16bit_databar.tif": ("TIFF", "I;16", 512, 471, (471, 512)),
    "zeiss_nvision_black_databar.tif": ("TIFF", "P", 1024, 768, (768, 1024)),
    "tescan_amber_databar.tif": ("TIFF", "I;16", 1536, 1331, (1331, 1536)),
    "fei_quanta_databar.tif": ("TIFF", "L", 1024, 943, (943, 1024)),
    "jeol_jxa_databar.tif": ("TIFF", "P", 1280, 1024, (1024, 1280)),
    "hitachi_su3500_ruler.jpg": ("JPEG", "RGB", 1280, 960, (960, 1280, 3)),
}


def test_real_corpus_files_decode(sem_corpus: Path) -> None:
    hashes = set()
    for name, (fmt, mode, width, height, shape) in CORPUS.items():
        img = decode_image(sem_corpus / name)
        assert (img.format, img.mode, img.width, img.height, img.pixels.shape) == (
            fmt,
            mode,
            width,
            height,
            shape,
        )
        assert img.page_count == 1
        assert img.gray().shape == (height, width) and img.gray().dtype in (np.uint8, np.uint16)
        assert img.rgb8().shape == (height, width, 3) and img.rgb8().dtype == np.uint8
        assert bool(img.tiff_tags) == (fmt == "TIFF")
        hashes.add(img.image_hash)
    assert len(hashes) == len(CORPUS)
    assert 34118 in decode_image(sem_corpus / "zeiss_1k_databar.tif").tiff_tags


# ------------------------------------------------------------------------------ raw-strip fast path
def _pillow_reference(path: Path) -> np.ndarray:
    im = Image.open(path)
    if im.mode == "P":
        pal = np.asarray(im.getpalette(), np.uint8).reshape(-1, 3)
        rgb = pal[np.asarray(im)]
        grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
        return rgb[..., 0] if grey else rgb
    return np.asarray(im).astype(np.asarray(im).dtype.newbyteorder("="))


def test_uncompressed_strips_read_directly_equal_pillows_decoding(tmp_path: Path) -> None:
    colour = _grey_palette_image(GREY8)
    colour.putpalette([v for i in range(256) for v in ((i, 0, 0) if i == GREY8[0, 0] else (i, i, i))])
    cases = {
        "l.tif": lambda p: tifffile.imwrite(p, GREY8, rowsperstrip=1),
        "le16.tif": lambda p: tifffile.imwrite(p, GREY16, rowsperstrip=3),
        "be16.tif": lambda p: tifffile.imwrite(p, GREY16, rowsperstrip=1, byteorder=">"),
        "rgb.tif": lambda p: tifffile.imwrite(p, RGB8, rowsperstrip=5),
        "grey_palette.tif": lambda p: _grey_palette_image(255 - GREY8).save(p),
        "colour_palette.tif": lambda p: colour.save(p),
    }
    for name, write in cases.items():
        write(tmp_path / name)
        img = decode_image(tmp_path / name)
        reference = _pillow_reference(tmp_path / name)
        assert img.pixels.dtype == reference.dtype and np.array_equal(img.pixels, reference), name
        data = (tmp_path / name).read_bytes()
        parsed = TiffImagePlugin.TiffImageFile(io.BytesIO(data))
        assert _raw_strips(parsed, dict(parsed.tag_v2), data) is not None, name  # the fast path ran
    assert decode_image(tmp_path / "colour_palette.tif").pixels.shape == (48, 64, 3)


def test_strips_out_of_file_order_are_decoded_correctly(tmp_path: Path) -> None:
    a = np.arange(16, dtype=np.uint8).reshape(4, 4)
    strip0, strip1 = a[:2].tobytes(), a[2:].tobytes()
    data_at = 8 + 2 + 12 * 9 + 4
    entries = [
        (256, 3, 1, 4), (257, 3, 1, 4), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 2, data_at + 16), (277, 3, 1, 1), (278, 3, 1, 2), (279, 4, 2, data_at + 24),
    ]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    body = strip1 + strip0  # strip 1 stored before strip 0
    arrays = struct.pack("<II", data_at + 8, data_at) + struct.pack("<II", 8, 8)  # offsets, counts
    (tmp_path / "swapped.tif").write_bytes(
        b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + body + arrays
    )
    assert np.array_equal(decode_image(tmp_path / "swapped.tif").pixels, a)
    data = (tmp_path / "swapped.tif").read_bytes()
    parsed = TiffImagePlugin.TiffImageFile(io.BytesIO(data))
    assert _raw_strips(parsed, dict(parsed.tag_v2), data) is None  # Pillow decoded it


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "corrupt EXIF"/"tag data" notes
def test_corrupted_files_only_ever_raise_decode_errors(tmp_path: Path) -> None:
    """Deterministic fuzzing: flipped bytes and cuts in every supported layout."""
    writers = {
        "l.tif": lambda p: tifffile.imwrite(p, GREY8, rowsperstrip=4),
        "lzw.tif": lambda p: Image.fromarray(GREY8).save(p, compression="tiff_lzw"),
        "g16.tif": lambda p: tifffile.imwrite(p, GREY16, byteorder=">"),
        "p.tif": lambda p: _grey_palette_image(GREY8).save(p),
        "rgb16.tif": lambda p: tifffile.imwrite(p, RNG.integers(0, 65536, (8, 9, 3), dtype=np.uint16)),
        "c.jpg": lambda p: Image.fromarray(RGB8).save(p),
        "c.png": lambda p: Image.fromarray(RGB8).save(p),
        "p.bmp": lambda p: _grey_palette_image(GREY8).save(p),
    }
    rng = np.random.default_rng(2024)
    outcomes = {"decoded": 0, "rejected": 0}
    for name, write in writers.items():
        write(tmp_path / name)
        original = (tmp_path / name).read_bytes()
        for case in range(40):
            data = bytearray(original)
            if case % 4 == 3:
                data = data[: int(rng.integers(1, len(data)))]
            else:
                span = 300 if case % 2 else len(data)  # headers or anywhere
                for pos in rng.integers(0, min(span, len(data)), int(rng.integers(1, 12))):
                    data[pos] = int(rng.integers(0, 256))
            path = tmp_path / f"fuzz_{name}"
            path.write_bytes(bytes(data))
            try:
                img = decode_image(path)
            except ImageDecodeError as exc:
                assert exc.reason and not exc.reason.startswith("cannot decode"), exc.reason
                outcomes["rejected"] += 1
                continue
            assert img.pixels.shape[:2] == (img.height, img.width) and img.pixels.size
            assert img.gray().ndim == 2 and img.rgb8().shape == (img.height, img.width, 3)
            outcomes["decoded"] += 1
    assert outcomes["decoded"] > 50 and outcomes["rejected"] > 50
