"""Issue 13, items 1, 5, 6, 7, 11: hostile files are refused fast, in bounded memory, with a
reason, and different images never share a hash."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hostile_inputs import (
    complex_pair,
    fifo,
    float64_pair,
    huge_tag_tiff,
    many_pages_tiff,
    many_samples_tiff,
    uint64_pair,
)

from semingest_worker.files import NotRegularFileError, file_kind, open_regular
from semingest_worker.imageio import DEFAULT_MAX_BYTES, ImageDecodeError, decode_image
from semingest_worker.tiffwalk import walk_tiff


def _reason(path: Path, **kw) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, **kw)
    return info.value.reason


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "x.tif")
    outcome: list[str] = []
    # A daemon thread: where open() blocks (no writer, ever), the test fails instead of hanging.
    worker = threading.Thread(target=lambda: outcome.append(_reason(pipe)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "decode_image blocked on a FIFO"
    assert outcome == ["not a regular file: a FIFO (named pipe)"]
    with pytest.raises(NotRegularFileError) as info:
        open_regular(pipe)
    assert info.value.kind == "a FIFO (named pipe)"


def test_character_device_and_socket_kinds(tmp_path: Path) -> None:
    assert _reason(Path("/dev/null")) == "not a regular file: a character device"
    assert file_kind(stat.S_IFSOCK) == "a socket"
    assert file_kind(stat.S_IFBLK) == "a block device"


def test_link_to_fifo_is_refused(tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "pipe")
    (tmp_path / "link.tif").symlink_to(pipe)
    assert _reason(tmp_path / "link.tif") == "not a regular file: a FIFO (named pipe)"


def test_samples_are_counted_not_only_pixels(tmp_path: Path) -> None:
    # 300x300 pixels pass any pixel limit, but 8000 samples each would be 720 MB decoded.
    path = many_samples_tiff(tmp_path / "samples.tif", samples=8000, side=300)
    assert os.path.getsize(path) < 4096
    reason = _reason(path)
    assert reason.startswith("decompression bomb: declares 300x300 pixels of 8000 sample(s) x 1 byte(s)")
    assert f"limit {DEFAULT_MAX_BYTES / 1e8:.1f}e8" in reason


def test_byte_limit_is_configurable(tmp_path: Path) -> None:
    import numpy as np
    import tifffile

    path = tmp_path / "rgb16.tif"
    tifffile.imwrite(path, np.zeros((100, 100, 4), np.uint16), photometric="rgb")
    assert decode_image(path).width == 100  # 80 kB decoded: fine by default
    assert _reason(path, max_bytes=50_000).startswith(
        "decompression bomb: declares 100x100 pixels of 4 sample(s) x 2"
    )


def test_huge_tag_payload_is_refused_before_reading(tmp_path: Path) -> None:
    path = huge_tag_tiff(tmp_path / "sparse.tif", payload=1 << 30)
    assert os.path.getsize(path) > 1 << 30  # a 1 GiB sparse file: a few kB on disk
    code = textwrap.dedent(
        f"""
        from semingest_worker.imageio import ImageDecodeError, decode_image
        try:
            decode_image({str(path)!r})
        except ImageDecodeError as exc:
            print(exc.reason)
        # VmHWM: this process's peak since exec (ru_maxrss would carry the forking parent's)
        with open("/proc/self/status") as status:
            print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    reason, peak_kib = out.stdout.strip().splitlines()
    assert reason == "corrupt TIFF: tag 270 declares 1.1e9 bytes of data, limit 6.7e7"
    assert int(peak_kib) < 400 * 1024  # the interpreter with numpy/cv2/PIL loaded; not a gigabyte more


def test_page_count_is_bounded(tmp_path: Path) -> None:
    path = many_pages_tiff(tmp_path / "pages.tif", pages=20_000)
    with open(path, "rb") as fh:
        structure = walk_tiff(fh, os.path.getsize(path), max_pages=10_000)
    assert structure.pages == 10_000 and structure.pages_capped
    image = decode_image(path)
    assert image.page_count == 10_000 and image.width == 1


def test_page_walk_survives_an_ifd_loop(tmp_path: Path) -> None:
    path = many_pages_tiff(tmp_path / "loop.tif", pages=3)
    data = bytearray(path.read_bytes())
    ifd_size = 2 + 8 * 12 + 4
    last_next = 8 + 3 * ifd_size - 4
    data[last_next : last_next + 4] = (8).to_bytes(4, "little")  # page 3 points back to page 1
    path.write_bytes(bytes(data))
    with open(path, "rb") as fh:
        structure = walk_tiff(fh, len(data))
    assert structure.pages == 3 and not structure.pages_capped
    assert decode_image(path).page_count == 3


@pytest.mark.parametrize("make", [float64_pair, uint64_pair, complex_pair])
def test_lossy_canonical_samples_never_merge_images(tmp_path: Path, make) -> None:
    a, b = make(tmp_path)
    assert decode_image(a).image_hash != decode_image(b).image_hash


def test_lossless_conversions_keep_their_hash(tmp_path: Path) -> None:
    """int16 widened to int32 holds every value: the same image as a Pillow-decoded int32 copy."""
    import numpy as np
    import tifffile

    values = np.arange(-512, 512, dtype=np.int16).reshape(32, 32)
    tifffile.imwrite(tmp_path / "i16.tif", values)
    tifffile.imwrite(tmp_path / "i32.tif", values.astype(np.int32))
    assert decode_image(tmp_path / "i16.tif").image_hash == decode_image(tmp_path / "i32.tif").image_hash


@pytest.mark.parametrize(("shape", "size"), [((1, 1), "1x1"), ((3, 500), "500x3")])
def test_tiny_images_get_a_true_scale_bar_reason(shape: tuple[int, int], size: str) -> None:
    import numpy as np

    from semingest_worker.scalebar import ScaleBarInput, read_scale_bars

    (reading,) = read_scale_bars([ScaleBarInput(gray=np.zeros(shape, np.uint8))])
    assert reading.pixel_size_m is None
    assert reading.reason == f"image too small to hold a scale bar ({size} px; at least 16 px a side)"
