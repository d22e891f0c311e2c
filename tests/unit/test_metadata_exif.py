"""EXIF_COLUMNS (the exif_meta table's columns) and typed exif_values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import tifffile
from PIL import ExifTags, Image, TiffImagePlugin, TiffTags
from sqlalchemy.dialects.mysql.reserved_words import RESERVED_WORDS_MARIADB, RESERVED_WORDS_MYSQL
from sqlalchemy.dialects.sqlite.base import SQLiteIdentifierPreparer

from semingest_worker.imageio import DecodedImage, decode_image
from semingest_worker.metadata import EXIF_COLUMNS, exif_values
from semingest_worker.metadata.exif import ExifColumn, _build_columns, typed_value

GREY = np.random.default_rng(1).integers(0, 256, (32, 40), dtype=np.uint8)
BY_NAME = {c.name: c for c in EXIF_COLUMNS}


def test_columns_are_a_fixed_sql_safe_list() -> None:
    names = [c.name for c in EXIF_COLUMNS]
    assert len(names) == len(set(names)) and len({c.tag for c in EXIF_COLUMNS}) == len(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,63}", n) for n in names)
    assert 150 < len(names) < 400
    reserved = set(SQLiteIdentifierPreparer.reserved_words) | RESERVED_WORDS_MYSQL | RESERVED_WORDS_MARIADB
    assert not reserved & set(names)
    assert not {"image_hash", "id", "path"} & set(names)  # the table's own columns
    assert _build_columns() == EXIF_COLUMNS  # deterministic
    assert [c.tag for c in EXIF_COLUMNS] == sorted(c.tag for c in EXIF_COLUMNS)
    known = set(TiffTags.TAGS_V2) | set(ExifTags.TAGS)
    assert {c.tag for c in EXIF_COLUMNS} <= known


def test_columns_skip_layout_and_binary_tags_and_type_the_rest() -> None:
    tags = {c.tag for c in EXIF_COLUMNS}
    for layout in (273, 279, 324, 325, 320, 347, 34665, 34853, 37500, 34675, 50839):
        assert layout not in tags
    kinds = {name: BY_NAME[name].kind for name in BY_NAME}
    assert kinds["image_width"] == kinds["orientation"] == kinds["iso_speed_ratings"] == "int"
    assert kinds["x_resolution"] == kinds["exposure_time"] == kinds["f_number"] == "float"
    assert kinds["make"] == kinds["date_time"] == kinds["bits_per_sample"] == kinds["xmp"] == "text"
    assert {"exposure_index_37397", "exposure_index_41493"} <= set(BY_NAME)  # same name, two tags


def test_tiff_tags_become_typed_values(tmp_path: Path) -> None:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[271] = "Carl Zeiss"
    ifd[305] = "SmartSEM 6.0 µ".encode("latin-1")  # non-UTF-8 bytes in an ASCII tag
    ifd.tagtype[305] = 2
    ifd[270] = "x'); DROP TABLE exif_meta; --"
    ifd[274] = 1
    ifd[282] = TiffImagePlugin.IFDRational(300, 1)
    ifd[283] = TiffImagePlugin.IFDRational(1, 3)
    ifd[296] = 2
    Image.fromarray(np.stack([GREY] * 3, axis=-1)).save(tmp_path / "t.tif", tiffinfo=ifd)
    values = exif_values(decode_image(tmp_path / "t.tif"))
    assert values["make"] == "Carl Zeiss"
    assert values["software"] == "SmartSEM 6.0 µ"
    assert values["image_description"] == "x'); DROP TABLE exif_meta; --"
    assert values["orientation"] == 1 and isinstance(values["orientation"], int)
    assert values["x_resolution"] == 300.0 and isinstance(values["x_resolution"], float)
    assert values["y_resolution"] == 1 / 3
    assert values["bits_per_sample"] == "[8, 8, 8]"  # multi-value -> JSON text
    assert (values["image_width"], values["image_length"]) == (40, 32)
    for absent in ("artist", "copyright", "date_time", "exposure_time", "strip_offsets"):
        assert absent not in values  # absent tags are not in the dict (NULL), never placeholders
    assert all(v not in ("", None, "None", "N/A") for v in values.values())
    json.dumps(values)


def test_jpeg_exif_ifd0_and_exif_ifd(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Hitachi"
    exif[0x0110] = "SU3500"
    exif[0x0132] = "2018:08:06 10:53:22"
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = TiffImagePlugin.IFDRational(1, 50)  # ExposureTime
    sub[0x9286] = b"ASCII\x00\x00\x00fibre sample"  # UserComment with its charset prefix
    sub[0x9000] = b"0232"  # ExifVersion (UNDEFINED bytes)
    sub[0x8827] = 400  # ISOSpeedRatings
    Image.fromarray(np.stack([GREY] * 3, axis=-1)).save(tmp_path / "c.jpg", exif=exif)
    img = decode_image(tmp_path / "c.jpg")
    assert img.tiff_tags == {}
    values = exif_values(img)
    assert (values["make"], values["model"], values["date_time"]) == (
        "Hitachi",
        "SU3500",
        "2018:08:06 10:53:22",
    )
    assert values["exposure_time"] == 0.02
    assert values["user_comment"] == "fibre sample"
    assert values["exif_version"] == "0232"
    assert values["iso_speed_ratings"] == 400


def test_typed_value_edge_cases() -> None:
    int_col = ExifColumn("orientation", 274, "int")
    float_col = ExifColumn("x_resolution", 282, "float")
    text_col = ExifColumn("image_description", 270, "text")
    assert typed_value(int_col, (1, 2)) is None  # two values cannot go in one int column
    assert typed_value(int_col, (3,)) == 3
    assert typed_value(int_col, 2.5) is None
    assert typed_value(float_col, TiffImagePlugin.IFDRational(1, 0)) is None  # n/0
    assert typed_value(float_col, float("nan")) is None
    assert typed_value(float_col, "72") == 72.0
    assert typed_value(text_col, b"\x00\x01\xfe\xff") == "0001feff"  # binary -> hex
    assert typed_value(text_col, "a\x00b\x07c  ") == "abc"  # control characters dropped
    assert typed_value(text_col, "x" * 20_000).endswith("...[truncated 4000 chars]")
    assert typed_value(ExifColumn("xp_title", 40091, "text"), "Tïtle".encode("utf-16-le")) == "Tïtle"


def test_no_tags_no_values() -> None:
    img = DecodedImage(GREY, "L", "BMP", 40, 32, 1, "h")
    assert exif_values(img) == {}


def test_tifffile_written_tags(tmp_path: Path) -> None:
    tifffile.imwrite(
        tmp_path / "t.tif", GREY, description="hello", software="tifffile", datetime="2020:01:02 03:04:05"
    )
    values = exif_values(decode_image(tmp_path / "t.tif"))
    assert values["image_description"] == "hello" and values["software"] == "tifffile"
    assert values["date_time"] == "2020:01:02 03:04:05"
