"""Sidecar discovery (same stem, .txt any case, TESCAN .hdr) and INI parsing."""

from __future__ import annotations

import os
from pathlib import Path

from semingest_worker.metadata import find_sidecars
from semingest_worker.metadata.sidecars import parse_ini, read_sidecar_text


def test_same_stem_txt_in_any_case(tmp_path: Path) -> None:
    for name in ("a.tif", "a.TXT", "b.jpg", "b.txt", "c.tif", "other.txt", "a.tif.bak"):
        (tmp_path / name).write_bytes(b"x")
    assert find_sidecars(str(tmp_path / "a.tif")) == (str(tmp_path / "a.TXT"),)
    assert find_sidecars(str(tmp_path / "b.jpg")) == (str(tmp_path / "b.txt"),)
    assert find_sidecars(str(tmp_path / "c.tif")) == ()
    assert find_sidecars(str(tmp_path / "b.txt")) == ()  # a sidecar has no sidecars


def test_tescan_hdr_and_odd_names(tmp_path: Path) -> None:
    odd = "x'; DROP TABLE images; --"
    for name in (f"{odd}.tif", f"{odd}-tif.hdr", "d.png", "d.hdr"):
        (tmp_path / name).write_bytes(b"x")
    assert find_sidecars(str(tmp_path / f"{odd}.tif")) == (str(tmp_path / f"{odd}-tif.hdr"),)
    assert find_sidecars(str(tmp_path / "d.png")) == (str(tmp_path / "d.hdr"),)


def test_directory_listing_is_refreshed_when_the_directory_changes(tmp_path: Path) -> None:
    (tmp_path / "e.tif").write_bytes(b"x")
    assert find_sidecars(str(tmp_path / "e.tif")) == ()
    (tmp_path / "e.txt").write_bytes(b"x")
    st = os.stat(tmp_path)
    os.utime(tmp_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse-mtime filesystems
    assert find_sidecars(str(tmp_path / "e.tif")) == (str(tmp_path / "e.txt"),)


def test_missing_directory() -> None:
    assert find_sidecars("/nonexistent/dir/img.tif") == ()


def test_read_sidecar_text_encodings(tmp_path: Path) -> None:
    for encoding in ("utf-16", "utf-16-le", "utf-8", "utf-8-sig", "cp1252"):
        (tmp_path / "s.txt").write_bytes("PixelSize=2.5 µm\r\n".encode(encoding))
        assert read_sidecar_text(str(tmp_path / "s.txt")) == "PixelSize=2.5 µm\r\n", encoding


def test_parse_ini() -> None:
    text = "top=1\n[A]\nk=v=w\n; comment\nk=second\n[B]\n  x = 2 \nnot a pair\n"
    assert parse_ini(text) == {"": {"top": "1"}, "A": {"k": "v=w"}, "B": {"x": "2"}}
