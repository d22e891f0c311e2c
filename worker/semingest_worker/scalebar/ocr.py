"""Tesseract recognition of label crops through libtesseract's C API, one crop at a time.

Each crop is its own page: ``recognize`` sets the crop as the whole image, reads it as one text
line (``--psm 7``) with the LSTM engine only (no adaptive classifier that could learn from earlier
pages), and clears the engine afterwards. So a crop's text is a function of the crop and the
recognition kind alone: it does not depend on which other crops were read before it, in which
batch, or whether it came from the cache (issue 13, item 9).

The engine (the loaded LSTM model) is a named per-process cache: loading it costs ~0.1 s, reading
a label a few milliseconds. It is the library that the Debian ``tesseract-ocr`` package installs
(``libtesseract.so.5``), called with ``ctypes``: no process start per call, and the character
whitelist can change per crop (numbers are read as digits only, units from a closed set).

``LABEL_CACHE`` (a per-process LRU keyed by the recognition kind and a digest of the crop)
answers repeated crops (facilities reuse the same magnifications) without Tesseract, and
``label_store`` (readings kept in the database across runs and executors, keyed by the reader's
identity ``reader_id()`` and the same digest) answers those any earlier run or executor read.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from .. import label_store

LIBRARY_NAMES = ("libtesseract.so.5", "libtesseract.so", "libtesseract.5.dylib", "libtesseract.dylib")
PSM_SINGLE_LINE = 7
OEM_LSTM_ONLY = 1
SOURCE_DPI = 300


class Kind(Enum):
    """What a recognition may return: anything (a whole label or field), or a constrained set."""

    TEXT = ""
    DIGITS = "0123456789."
    UNIT = "umnµμ"  # the closed set of length units: µm (read as u or µ), nm, mm


class TesseractError(RuntimeError):
    pass


@dataclass(frozen=True)
class Recognition:
    text: str
    confidence: int  # Tesseract's mean word confidence, 0..100


class LabelCache:
    """A small LRU: (kind, digest of a crop) -> recognition."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[bytes, Recognition] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> Recognition | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: bytes, value: Recognition) -> None:
        if self.maxsize <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


LABEL_CACHE = LabelCache()


def crop_digest(crop: np.ndarray, kind: Kind = Kind.TEXT) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(kind.name.encode())
    h.update(np.asarray(crop.shape, np.int32).tobytes())
    h.update(np.ascontiguousarray(crop).tobytes())
    return h.digest()


class _Engine:
    """One initialised TessBaseAPI (LSTM only), used under a lock."""

    def __init__(self) -> None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core per reader; Spark runs several
        lib = None
        for name in (*LIBRARY_NAMES, ctypes.util.find_library("tesseract")):
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise TesseractError("libtesseract is not installed (Debian: apt-get install tesseract-ocr)")
        vp, cp, ci = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.TessVersion.restype = cp
        self.version = (lib.TessVersion() or b"unknown").decode("ascii", errors="replace")
        lib.TessBaseAPICreate.restype = vp
        lib.TessBaseAPIInit2.argtypes = [vp, cp, cp, ci]
        lib.TessBaseAPIInit2.restype = ci
        lib.TessBaseAPISetVariable.argtypes = [vp, cp, cp]
        lib.TessBaseAPISetPageSegMode.argtypes = [vp, ci]
        lib.TessBaseAPISetImage.argtypes = [vp, vp, ci, ci, ci, ci]
        lib.TessBaseAPISetSourceResolution.argtypes = [vp, ci]
        lib.TessBaseAPIGetUTF8Text.argtypes = [vp]
        lib.TessBaseAPIGetUTF8Text.restype = vp
        lib.TessBaseAPIMeanTextConf.argtypes = [vp]
        lib.TessBaseAPIMeanTextConf.restype = ci
        lib.TessDeleteText.argtypes = [vp]
        lib.TessBaseAPIClear.argtypes = [vp]
        self._lib = lib
        # libtesseract runs parts of the LSTM with OpenMP: one thread per reader (Spark runs one
        # reader per core) and no thread-count-dependent arithmetic. The environment variable
        # only counts when libgomp was not loaded before; the call sets it for the reading thread.
        self._omp_set_num_threads = None
        gomp = ctypes.util.find_library("gomp")
        if gomp:
            try:
                self._omp_set_num_threads = ctypes.CDLL(gomp).omp_set_num_threads
            except (OSError, AttributeError):
                self._omp_set_num_threads = None
        self._api = lib.TessBaseAPICreate()
        if lib.TessBaseAPIInit2(self._api, None, b"eng", OEM_LSTM_ONLY) != 0:
            raise TesseractError("libtesseract could not load its English model (tesseract-ocr-eng)")
        self._lock = threading.Lock()
        lib.TessBaseAPIEnd.argtypes = [vp]
        lib.TessBaseAPIDelete.argtypes = [vp]
        atexit.register(self.close)

    def close(self) -> None:
        """Free the model (at interpreter exit: libtesseract otherwise reports it as leaked)."""
        with self._lock:
            if self._api:
                self._lib.TessBaseAPIEnd(self._api)
                self._lib.TessBaseAPIDelete(self._api)
                self._api = None

    def recognize(self, crop: np.ndarray, kind: Kind) -> Recognition:
        img = np.ascontiguousarray(crop, dtype=np.uint8)
        if img.ndim != 2 or min(img.shape) < 1:
            raise TesseractError(f"not a 2-D crop: shape {img.shape}")
        lib = self._lib
        with self._lock:
            api = self._api
            if not api:
                raise TesseractError("the Tesseract engine was closed")
            if self._omp_set_num_threads is not None:
                self._omp_set_num_threads(1)
            lib.TessBaseAPISetPageSegMode(api, PSM_SINGLE_LINE)
            lib.TessBaseAPISetVariable(api, b"tessedit_char_whitelist", kind.value.encode())
            lib.TessBaseAPISetImage(api, img.ctypes.data, img.shape[1], img.shape[0], 1, img.strides[0])
            lib.TessBaseAPISetSourceResolution(api, SOURCE_DPI)
            ptr = lib.TessBaseAPIGetUTF8Text(api)
            try:
                text = ctypes.string_at(ptr).decode("utf-8", errors="replace") if ptr else ""
            finally:
                if ptr:
                    lib.TessDeleteText(ptr)
            confidence = int(lib.TessBaseAPIMeanTextConf(api))
            lib.TessBaseAPIClear(api)
        return Recognition(" ".join(text.split()), confidence)


_ENGINE: _Engine | None = None  # the per-process engine (the loaded model)
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def recognize(crop: np.ndarray, kind: Kind = Kind.TEXT) -> Recognition:
    """The text of one crop (black text on white, uint8), read alone; cached per process."""
    key = crop_digest(crop, kind)
    cached = LABEL_CACHE.get(key)
    if cached is not None:
        return cached
    stored = label_store.lookup(reader_id(), key)
    if stored is not None:
        result = Recognition(stored.text, stored.confidence if stored.confidence is not None else 0)
    else:
        result = _engine().recognize(crop, kind)
        label_store.remember(reader_id(), key, label_store.StoredLabel(result.text, result.confidence))
    LABEL_CACHE.put(key, result)
    return result


def reader_id() -> str:
    """What reads the labels, for readings kept across runs: libtesseract's version and the
    settings every recognition uses (the kind, with its whitelist, is in the crop's digest)."""
    return f"libtesseract:{_engine().version}:eng:oem{OEM_LSTM_ONLY}:psm{PSM_SINGLE_LINE}:dpi{SOURCE_DPI}"


def read_labels(crops: Sequence[np.ndarray], kind: Kind = Kind.TEXT) -> list[str]:
    """The text of each crop, in order ("" when nothing was read). Each crop is read on its own."""
    return [recognize(c, kind).text for c in crops]
