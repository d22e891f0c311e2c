"""Decode one image file (TIFF, JPEG, PNG, BMP) into pixels, tags and a content hash.

``decode_image`` is the only entry point; it raises ``ImageDecodeError`` (with a specific,
human-readable ``reason``) and nothing else. It never allocates a decompression bomb: only
regular files are opened (a FIFO or device is refused without blocking, see ``files``), the
file's format is identified from its first bytes, a TIFF's IFD tables are walked with fixed bounds
first (``tiffwalk``: tag payloads bounded, pages counted up to a limit), the format's header is
parsed by the matching Pillow plugin class directly (so Pillow's process-global
``MAX_IMAGE_PIXELS`` is neither used nor mutated), and the declared size is checked against
``max_pixels`` and the decoded size in bytes (width x height x samples x bytes per sample)
against ``max_bytes`` before any pixel is decoded.

Pixel representation (``DecodedImage.pixels``, read-only, C-contiguous, native byte order):

* 2-D ``uint8``: 8-bit grey (``L``), bilevel (``1``, as 0/255) and palette images whose used
  palette entries are all grey (mapped through the palette, so a palette TIFF re-saved as 8-bit
  grey is the same image);
* 2-D ``uint16``: 16-bit grey (``I;16``, ``I;16B``, ...);
* 2-D ``int32`` / ``float32`` (rare ``I`` / ``F`` files, or TIFF sample formats Pillow lacks);
* ``H x W x 3``: RGB (``uint8``; ``uint16`` only from the TIFF fallback), palette images that use
  a colour entry, and ``RGBA``/``LA``/``CMYK``/``YCbCr`` files (alpha dropped, converted to RGB).

``image_hash`` is the hex SHA-256 of that canonical array, prefixed by its dtype and shape, so a
copy re-saved with other compression or other tags hashes the same. Samples that the canonical
array cannot hold exactly (float64, large 64-bit integers, complex) are hashed as stored, so two
images that differ only beyond float32 precision never share a hash.

Speed: files up to 64 MB are read with one ``read``; uncompressed TIFFs whose strips are stored
in order (what SEM software writes, often one strip per row) are viewed straight from those
bytes instead of running Pillow's decoder once per strip. TIFF layouts Pillow lacks (16-bit RGB,
float64, 12-bit, ...) are read with tifffile.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import cv2
import numpy as np
from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from semingest_api.memory import DEFAULT_MAX_IMAGE_BYTES

from .files import NotRegularFileError, open_regular
from .tiffwalk import TiffStructure, TiffStructureError, walk_tiff

DEFAULT_MAX_PIXELS = 200_000_000
# The decoded first page may hold at most this many bytes (samples x bytes per sample counted):
# an 8000x8000 16-bit frame is 128 MiB, 8-bit RGB 192 MiB. The pipeline's peak memory per image
# is a multiple of it (``semingest_api.memory``; on Kubernetes the executors' size lowers it).
DEFAULT_MAX_BYTES = DEFAULT_MAX_IMAGE_BYTES
# No TIFF tag may declare more data than this (vendor metadata is kilobytes; strip tables of the
# largest allowed image are a few MB).
MAX_TAG_PAYLOAD_BYTES = 64 * 1024 * 1024
# Files up to this size are read into memory with one read (faster than Pillow's many small
# reads and seeks on the file); larger ones are decoded from the open file.
_READ_WHOLE_FILE_BYTES = 64 * 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
)
_UNSUPPORTED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"%PDF", "PDF"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"8BPS", "Photoshop PSD"),
    (b"\x00\x00\x01\x00", "Windows icon"),
    (b"II\xbc\x01", "JPEG XR"),
)
_PLUGINS: dict[str, Callable[[Any], Image.Image]] = {
    "TIFF": TiffImagePlugin.TiffImageFile,
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
}
_EXIF_IFD = 0x8769  # 34665
# Mode names (Pillow-style) for grey sample types only tifffile reads.
_FALLBACK_GREY_MODES = {
    "u1": "L",
    "u2": "I;16",
    "i1": "I;8S",
    "i2": "I;16S",
    "u4": "I;32",
    "i4": "I",
    "f2": "F;16F",
    "f4": "F",
    "f8": "F;64F",
}
_TUPLE_TAGS = frozenset({258, 273, 279, 324, 325, 338, 339})
_STRIP_TAGS = ((273, 279), (324, 325))  # (offsets, byte counts): strips, tiles


class ImageDecodeError(Exception):
    """The file cannot be decoded; ``reason`` says why, specifically, for the failed-image record."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """The first image of a file, canonicalised (see the module docstring), with its tags."""

    pixels: np.ndarray
    mode: str  # Pillow mode of the file as stored: "L", "P", "I;16", "RGB", ...
    format: str  # "TIFF", "JPEG", "PNG", "BMP"
    width: int
    height: int
    page_count: int
    image_hash: str  # hex sha256 of dtype, shape and pixels of ``pixels``
    tiff_tags: dict[int, Any] = field(default_factory=dict)  # page 1's raw tags; {} unless TIFF
    exif: dict[int, Any] = field(default_factory=dict)  # EXIF IFD (and IFD0 for JPEG/PNG)

    def gray(self) -> np.ndarray:
        """2-D ``uint8`` or ``uint16`` luminance (ITU-R 601 for colour; I/F scaled to uint16)."""
        a = self.pixels
        if a.ndim == 3:
            if a.dtype not in (np.uint8, np.uint16):
                a = _stretch(a, np.uint16)
            return cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY)
        if a.dtype in (np.uint8, np.uint16):
            return a
        return _stretch(a, np.uint16)

    def pixels8(self) -> np.ndarray:
        """The pixels as ``uint8``, grey (``H x W``) or colour (``H x W x 3``) as stored.

        8-bit data is used as is; anything deeper (16-bit, I, F) is stretched linearly from its
        actual minimum..maximum to 0..255 (SEM detectors rarely use the full 16-bit range, so a
        full-range scale would give near-black images).
        """
        a = self.pixels
        return a if a.dtype == np.uint8 else _stretch(a, np.uint8)

    def rgb8(self) -> np.ndarray:
        """``H x W x 3 uint8`` for inference: ``pixels8`` with grey repeated in three channels."""
        a = self.pixels8()
        if a.ndim == 2:
            return cv2.cvtColor(a, cv2.COLOR_GRAY2RGB)
        return a


@dataclass(frozen=True)
class _Limits:
    pixels: int
    bytes: int


def decode_image(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DecodedImage:
    """Decode the first image of ``path``; raise ``ImageDecodeError`` with a specific reason."""
    try:
        return _decode(os.fspath(path), _Limits(max_pixels, max_bytes))
    except ImageDecodeError:
        raise
    except MemoryError:
        raise ImageDecodeError("out of memory while decoding") from None
    except Exception as exc:  # noqa: BLE001 - the boundary: every failure becomes a reason
        raise ImageDecodeError(f"cannot decode: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------------------
def _decode(path: str, limits: _Limits) -> DecodedImage:
    try:
        fh = open_regular(path)
    except NotRegularFileError as exc:
        raise ImageDecodeError(f"not a regular file: {exc.kind}") from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read file: {exc.strerror or exc}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise ImageDecodeError("empty file (0 bytes)")
        if size <= _READ_WHOLE_FILE_BYTES:
            data = fh.read()
            return _decode_stream(io.BytesIO(data), data[:16], len(data), limits, data)
        head = fh.read(16)
        fh.seek(0)
        return _decode_stream(fh, head, size, limits, None)


def _sniff(head: bytes) -> str:
    for sig, fmt in _SIGNATURES:
        if head.startswith(sig):
            return fmt
    for sig, fmt in _UNSUPPORTED_SIGNATURES:
        if head.startswith(sig):
            raise ImageDecodeError(f"unsupported image format: {fmt} (supported: TIFF, JPEG, PNG, BMP)")
    if head[4:8] == b"ftyp" or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        raise ImageDecodeError("unsupported image format: WebP/HEIF (supported: TIFF, JPEG, PNG, BMP)")
    raise ImageDecodeError(f"not an image: unrecognised format (first bytes {head[:12]!r})")


def _decode_stream(fp: Any, head: bytes, size: int, limits: _Limits, data: bytes | None) -> DecodedImage:
    fmt = _sniff(head)
    structure = _tiff_structure(fp, size) if fmt == "TIFF" else None
    try:
        return _decode_format(fmt, fp, size, limits, data, structure)
    except (ImageDecodeError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. an OverflowError from absurd offsets
        raise ImageDecodeError(f"corrupt {fmt}: {type(exc).__name__}: {_msg(exc)}") from None


def _tiff_structure(fp: Any, size: int) -> TiffStructure:
    """The bounded IFD walk; refuses tags that declare absurd payloads before Pillow reads them."""
    try:
        structure = walk_tiff(fp, size)
    except (TiffStructureError, struct.error) as exc:
        # Every structural failure of the walk is data missing where the file says it is.
        raise ImageDecodeError(
            f"truncated TIFF: header ends early (file has {size} bytes; {_msg(exc)})"
        ) from None
    finally:
        fp.seek(0)
    if structure.largest_payload > MAX_TAG_PAYLOAD_BYTES:
        raise ImageDecodeError(
            f"corrupt TIFF: tag {structure.largest_tag} declares {_sci(structure.largest_payload)} bytes "
            f"of data, limit {_sci(MAX_TAG_PAYLOAD_BYTES)}"
        )
    return structure


def _check_size(fmt: str, width: int, height: int, samples: int, sample_bytes: int, limits: _Limits) -> None:
    """Refuse before decoding: too many pixels, or too many decoded bytes."""
    if width * height > limits.pixels:
        raise ImageDecodeError(
            f"decompression bomb: declares {width}x{height} = {_sci(width * height)} pixels, "
            f"limit {_sci(limits.pixels)}"
        )
    decoded = width * height * max(1, samples) * max(1, sample_bytes)
    if decoded > limits.bytes:
        raise ImageDecodeError(
            f"decompression bomb: declares {width}x{height} pixels of {samples} sample(s) x "
            f"{sample_bytes} byte(s) = {_sci(decoded)} bytes decoded, limit {_sci(limits.bytes)}"
        )


def _declared_samples(fmt: str, im: Image.Image, tags: dict[int, Any]) -> tuple[int, int]:
    """(samples per pixel, bytes per sample) as the file declares them."""
    if fmt == "TIFF":
        spp = tags.get(277, 1)
        bits = tags.get(258, 8)
        bits = bits if isinstance(bits, tuple) else (bits,)
        widest = max((b for b in bits if isinstance(b, int)), default=8)
        return int(spp) if isinstance(spp, int) else 1, max(1, (widest + 7) // 8)
    bands = len(im.getbands())
    sample_bytes = 4 if im.mode in ("I", "F") else 2 if im.mode.startswith("I;16") else 1
    return bands, sample_bytes


def _decode_format(
    fmt: str, fp: Any, size: int, limits: _Limits, data: bytes | None, structure: TiffStructure | None
) -> DecodedImage:
    try:
        im = _PLUGINS[fmt](fp)
    except Image.DecompressionBombError as exc:  # only if a plugin checks while parsing
        raise ImageDecodeError(f"decompression bomb: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any header parse failure is a bad file
        if isinstance(exc, EOFError | struct.error) or "unpack requires a buffer" in str(exc):
            raise ImageDecodeError(
                f"truncated {fmt}: header ends early (file has {size} bytes; {_msg(exc)})"
            ) from None
        if fmt == "TIFF":  # a layout Pillow does not know (float64, 12-bit, ...): try tifffile
            return _decode_tiff_fallback(fp, size, limits, structure, first_error=exc)
        raise ImageDecodeError(f"corrupt {fmt}: cannot parse header ({_msg(exc)})") from None

    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"corrupt {fmt}: declares an empty image ({width}x{height})")
    tiff_tags: dict[int, Any] = {}
    if fmt == "TIFF":
        tiff_tags = _tiff_tags(im)
    _check_size(fmt, width, height, *_declared_samples(fmt, im, tiff_tags), limits)
    mode = im.mode
    if fmt == "TIFF" and mode not in ("L", "P", "1") and _deeper_than_8_bit_colour(tiff_tags):
        # Pillow reduces 16-bit RGB to 8 bits; tifffile keeps the samples as stored.
        return _decode_tiff_fallback(fp, size, limits, structure, first_error=None)
    raw = _raw_strips(im, tiff_tags, data) if fmt == "TIFF" and data is not None else None
    try:
        pixels = _canonical_raw(raw, mode, tiff_tags) if raw is not None else _pixels(im)
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        if fmt != "TIFF":
            raise ImageDecodeError(_load_failure(fmt, exc)) from None
        truncation = _tiff_truncation(tiff_tags, size)
        if truncation:
            raise ImageDecodeError(truncation) from None
        # Pillow lacks some TIFF layouts (12-bit, 16-bit RGB, float64, ...): tifffile has them.
        return _decode_tiff_fallback(fp, size, limits, structure, first_error=exc)
    except EOFError as exc:
        truncation = _tiff_truncation(tiff_tags, size) if fmt == "TIFF" else None
        raise ImageDecodeError(truncation or f"truncated {fmt}: {_msg(exc)}") from None

    exif = _exif(im, fmt, tiff_tags)
    page_count = structure.pages if structure is not None else _page_count(im)  # APNG frames; 1 otherwise
    return DecodedImage(
        pixels=pixels,
        mode=mode,
        format=fmt,
        width=width,
        height=height,
        page_count=page_count,
        image_hash=pixel_hash(_checked_shape(pixels, width, height, fmt)),
        tiff_tags=tiff_tags,
        exif=exif,
    )


def _checked_shape(a: np.ndarray, width: int, height: int, fmt: str) -> np.ndarray:
    """The decoded array must be the declared, non-empty H x W (x 3) image."""
    ok = a.ndim in (2, 3) and a.shape[:2] == (height, width) and a.size > 0
    if not ok or (a.ndim == 3 and a.shape[2] != 3):
        raise ImageDecodeError(
            f"corrupt {fmt}: decoded pixels {a.shape} do not match the declared {width}x{height} image"
        )
    return a


def pixel_hash(pixels: np.ndarray) -> str:
    """Hex SHA-256 over dtype, shape and the C-ordered bytes of ``pixels``."""
    a = np.ascontiguousarray(pixels)
    h = hashlib.sha256(f"{a.dtype.str}:{json.dumps(a.shape)}:".encode())
    h.update(a.data.cast("B"))
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
def _pixels(im: Image.Image) -> np.ndarray:
    """Load the pixels and canonicalise them (see the module docstring)."""
    im.load()
    mode = im.mode
    if mode in ("L", "RGB", "I;16", "I", "F"):
        a = np.asarray(im)
    elif mode.startswith("I;16"):  # I;16B, I;16L, I;16N, I;16S...
        a = np.asarray(im)
        if a.dtype.kind == "i":  # signed 16-bit: keep the values, widen
            a = a.astype(np.int32)
        elif not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
    elif mode == "1":
        a = np.asarray(im).astype(np.uint8) * np.uint8(255)
    elif mode in ("P", "PA"):
        a = _through_palette(im)
    elif mode in ("LA", "La"):
        a = np.asarray(im.getchannel("L"))
    else:  # RGBA, RGBX, RGBa, CMYK, YCbCr, LAB, HSV...
        a = np.asarray(im.convert("RGB"))
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("="))
    a.flags.writeable = False
    return a


def _through_palette(im: Image.Image) -> np.ndarray:
    idx = np.asarray(im.getchannel(0) if im.mode == "PA" else im)
    raw = im.getpalette("RGB") or list(range(256)) * 3
    return _map_palette(idx, np.asarray(raw, dtype=np.uint8).reshape(-1, 3))


def _map_palette(idx: np.ndarray, pal: np.ndarray) -> np.ndarray:
    """8-bit palette indices through an ``N x 3`` RGB palette: 2-D grey when every used entry is
    grey (no mapping at all for the identity ramp), else ``H x W x 3``."""
    idx = np.ascontiguousarray(idx)
    pal = pal[:256]
    if len(pal) < 256:  # indices past the palette's end: black, as viewers show them
        pal = np.vstack([pal, np.zeros((256 - len(pal), 3), np.uint8)])
    colour = ((pal[:, 0] != pal[:, 1]) | (pal[:, 1] != pal[:, 2])).astype(np.uint8)
    if colour.any() and cv2.countNonZero(cv2.LUT(idx, colour)):
        return cv2.LUT(cv2.merge([idx, idx, idx]), np.ascontiguousarray(pal.reshape(256, 1, 3)))
    lut = np.ascontiguousarray(pal[:, 0])
    if np.array_equal(lut, np.arange(256, dtype=np.uint8)):
        return idx  # identity grey palette: the indices are the values
    return cv2.LUT(idx, lut)


# Uncompressed TIFF layouts read straight from the file's bytes:
# (Pillow mode, PhotometricInterpretation, SamplesPerPixel) -> (numpy dtype, BitsPerSample).
_RAW_LAYOUTS: dict[tuple[str, Any, Any], tuple[str, tuple[int, ...]]] = {
    ("L", 1, 1): ("u1", (8,)),
    ("P", 3, 1): ("u1", (8,)),
    ("I;16", 1, 1): ("<u2", (16,)),
    ("I;16B", 1, 1): (">u2", (16,)),
    ("RGB", 2, 3): ("u1", (8, 8, 8)),
}


def _raw_strips(im: Image.Image, tags: dict[int, Any], data: bytes) -> np.ndarray | None:
    """Pixels of an uncompressed TIFF whose strips follow each other in the file, as a read-only
    view of the file's bytes; None for any other layout (Pillow decodes those).

    SEM software writes one strip per row (943 strips for a 1024x943 FEI image); Pillow runs a
    decoder per strip, which costs more than the rest of the decoding together.
    """
    spp = tags.get(277, 1)
    layout = _RAW_LAYOUTS.get((im.mode, tags.get(262), spp))
    if layout is None:
        return None
    dtype, bits = np.dtype(layout[0]), layout[1]
    bps = tags.get(258)
    if (bps if isinstance(bps, tuple) else (bps,)) != bits:
        return None
    if tags.get(259, 1) != 1 or tags.get(266, 1) != 1 or tags.get(284, 1) != 1 or 338 in tags:
        return None  # compressed, reversed bit order, planar or extra samples
    fmt = tags.get(339, 1)
    if any(f != 1 for f in (fmt if isinstance(fmt, tuple) else (fmt,))):
        return None  # signed or floating-point samples
    offsets, counts = tags.get(273), tags.get(279)
    if offsets is None or counts is None:
        return None
    o = np.atleast_1d(np.asarray(offsets, dtype=np.int64))
    c = np.atleast_1d(np.asarray(counts, dtype=np.int64))
    if len(o) != len(c) or not np.array_equal(o[1:], o[:-1] + c[:-1]):
        return None
    width, height = im.size
    count = width * height * spp
    if int(c.sum()) < count * dtype.itemsize or int(o[0]) + count * dtype.itemsize > len(data):
        return None
    a = np.frombuffer(data, dtype=dtype, count=count, offset=int(o[0]))
    return a.reshape((height, width, spp) if spp > 1 else (height, width))


def _canonical_raw(a: np.ndarray, mode: str, tags: dict[int, Any]) -> np.ndarray:
    if mode == "P":
        cmap = np.asarray(tags.get(320, ()), dtype=np.uint16)
        if cmap.size < 3:
            raise ValueError("palette TIFF without a ColorMap")
        pal = (cmap.reshape(3, -1).T // 256).astype(np.uint8)  # as Pillow reads ColorMap
        a = _map_palette(a, pal)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    a.flags.writeable = False
    return a


def _stretch(a: np.ndarray, dtype: type) -> np.ndarray:
    """Linear stretch of the actual value range to the full range of ``dtype`` (uint8/uint16)."""
    top = float(np.iinfo(dtype).max)
    af = a.astype(np.float32)
    finite = np.isfinite(af)
    if not finite.all():
        af = np.where(finite, af, 0.0)
    lo, hi = float(af.min()), float(af.max())
    if hi <= lo:
        return np.zeros(a.shape, dtype)
    out = (af - lo) * (top / (hi - lo)) + 0.5
    return np.clip(out, 0, top).astype(dtype)


def _tiff_tags(im: Image.Image) -> dict[int, Any]:
    tags: dict[int, Any] = {}
    ifd = cast(TiffImagePlugin.TiffImageFile, im).tag_v2
    for tag in list(ifd.keys()):
        try:
            tags[tag] = ifd[tag]
        except Exception:  # noqa: BLE001,S112 - an unreadable tag is left out, not fatal
            continue
    return tags


def _exif(im: Image.Image, fmt: str, tiff_tags: dict[int, Any]) -> dict[int, Any]:
    """EXIF IFD for TIFF; IFD0 plus EXIF IFD for JPEG/PNG (whose IFD0 lives in the EXIF block)."""
    if fmt == "BMP" or (fmt == "TIFF" and _EXIF_IFD not in tiff_tags):
        return {}
    try:
        exif = im.getexif()
        out: dict[int, Any] = {} if fmt == "TIFF" else {k: v for k, v in exif.items() if k != _EXIF_IFD}
        out.update(exif.get_ifd(_EXIF_IFD))
        return out
    except Exception:  # noqa: BLE001 - broken EXIF must not lose the image
        return {}


def _page_count(im: Image.Image) -> int:
    """APNG frames (from its control chunk); JPEG/BMP: 1. TIFF pages come from ``walk_tiff``."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # noqa: BLE001 - a broken frame table: the first frame is what we have
        return 1


def _tiff_truncation(tags: dict[int, Any], size: int) -> str | None:
    """A specific reason when the strips/tiles point past the end of the file."""
    for offsets_tag, counts_tag in _STRIP_TAGS:
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if not offsets or not counts:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        ends = [int(o) + int(c) for o, c in zip(offsets, counts, strict=False)]
        if ends and max(ends) > size:
            kind = "strips" if offsets_tag == 273 else "tiles"
            missing = sum(1 for e in ends if e > size)
            return (
                f"truncated TIFF: file has {size} bytes but its image data extends to byte "
                f"{max(ends)} ({missing} of {len(ends)} {kind} incomplete)"
            )
    return None


def _deeper_than_8_bit_colour(tags: dict[int, Any]) -> bool:
    bits = tags.get(258)
    bits = bits if isinstance(bits, tuple) else (bits,)
    return len(bits) >= 3 and all(isinstance(b, int) and b > 8 for b in bits)


def _load_failure(fmt: str, exc: BaseException) -> str:
    text = _msg(exc)
    if isinstance(exc, Image.DecompressionBombError):
        return f"decompression bomb: {text}"
    if "truncated" in text or isinstance(exc, EOFError):
        return f"truncated {fmt}: {text}"
    return f"corrupt {fmt}: {text}"


def _msg(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _sci(n: float) -> str:
    """1600000000 -> '1.6e9' (short scientific notation for reasons)."""
    mantissa, exponent = f"{n:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# --------------------------------------------------------------------------------------------
def _decode_tiff_fallback(
    fp: Any,
    size: int,
    limits: _Limits,
    structure: TiffStructure | None,
    first_error: BaseException | None,
) -> DecodedImage:
    """Decode page 1 with tifffile when Pillow cannot (its error is kept if tifffile fails too)."""
    import tifffile

    fp.seek(0)
    try:
        with tifffile.TiffFile(fp) as tf:
            page = tf.pages.first
            width, height = int(page.imagewidth), int(page.imagelength)
            samples = int(np.prod(page.shape)) // max(1, width * height)
            _check_size("TIFF", width, height, samples, np.dtype(page.dtype).itemsize, limits)
            a = page.asarray()
            tags = {t.code: _plain(t.code, t.value) for t in page.tags.values()}
            exif = dict(page.tags[_EXIF_IFD].value) if _EXIF_IFD in page.tags else {}
            page_count = structure.pages if structure is not None else 1
            photometric = int(page.photometric)
            colormap = page.colormap
            planar_separate = int(page.planarconfig) == 2
    except ImageDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001
        pillow = f"Pillow: {_msg(first_error)}; " if first_error is not None else ""
        raise ImageDecodeError(f"unsupported or corrupt TIFF: {pillow}tifffile: {_msg(exc)}") from None
    exif = {k: v for k, v in exif.items() if isinstance(k, int)}
    if a.ndim == 3 and planar_separate:
        a = np.moveaxis(a, 0, -1)
    while a.ndim > 3:  # e.g. a (1, H, W, S) depth axis
        a = a[0]
    if photometric == 3 and colormap is not None and a.ndim == 2:  # palette
        cmap = np.asarray(colormap)
        cmap8 = (cmap >> 8).astype(np.uint8) if cmap.max() > 255 else cmap.astype(np.uint8)
        a = cmap8.T[a]
        if (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
            a = a[..., 0]
        mode = "P"
    elif a.ndim == 3:
        a = a[..., :3] if a.shape[-1] >= 3 else a[..., 0]
        mode = "RGB" if a.dtype == np.uint8 else f"RGB;{a.dtype.itemsize * 8}"
    else:
        if photometric == 0 and a.dtype.kind in "ui":  # WhiteIsZero
            a = np.iinfo(a.dtype).max - a
        mode = _FALLBACK_GREY_MODES.get(a.dtype.str[1:], a.dtype.str[1:])
    stored = np.ascontiguousarray(a)
    if stored.dtype.byteorder == ">":
        stored = stored.astype(stored.dtype.newbyteorder("="))
    a = np.ascontiguousarray(_supported_dtype(stored))
    # The hash is of the canonical array when it holds the samples exactly, else of the samples as
    # stored (float64, complex, 64-bit integers beyond int32): never merge different images.
    hashed = a if _holds_exactly(a, stored) else stored
    a.flags.writeable = False
    return DecodedImage(
        pixels=a,
        mode=mode,
        format="TIFF",
        width=width,
        height=height,
        page_count=page_count,
        image_hash=pixel_hash(_checked_shape(hashed, width, height, "TIFF")),
        tiff_tags=tags,
        exif=exif,
    )


def _holds_exactly(converted: np.ndarray, original: np.ndarray) -> bool:
    """True when ``converted`` (same shape) represents every sample of ``original`` exactly."""
    if converted.dtype == original.dtype:
        return True
    if original.dtype == bool:
        return True  # False/True -> 0/255: one to one
    with np.errstate(all="ignore"):
        back = converted.astype(original.dtype)
    if original.dtype.kind in "fc":
        return bool(np.array_equal(back, original, equal_nan=True))
    return bool(np.array_equal(back, original))


def _supported_dtype(a: np.ndarray) -> np.ndarray:
    """Reduce any sample type to one of uint8, uint16, int32, float32."""
    if a.dtype == bool:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype in (np.uint8, np.uint16, np.int32, np.float32):
        return a
    if a.dtype.kind == "c":  # complex samples: the real part is shown (the hash keeps both)
        a = np.ascontiguousarray(a.real)
    if (
        a.dtype.kind in "ui"
        and a.size
        and np.iinfo(np.int32).min <= a.min()
        and a.max() <= np.iinfo(np.int32).max
    ):
        return a.astype(np.int32)
    return a.astype(np.float32)


def _plain(code: int, value: Any) -> Any:
    """tifffile tag values as Pillow gives them: numpy arrays as tuples, enums as ints."""
    if code in _TUPLE_TAGS and isinstance(value, int):
        return (value,)
    if isinstance(value, np.ndarray):
        return tuple(value.ravel().tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple) and code in _TUPLE_TAGS:
        return tuple(int(v) for v in value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), int):
        return int(value.value)
    return value
