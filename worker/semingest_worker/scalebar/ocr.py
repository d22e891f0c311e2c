"""Batched Tesseract OCR of scale-bar label crops, with a per-process cache.

Tesseract's process start-up (loading the LSTM model) costs far more than reading one short
label, so the label crops of many images go into ONE call: they are stacked vertically with white
gaps into a single page, read with ``--psm 6`` (a uniform block of text) as TSV, and each word is
attributed to the crop whose rows contain its box. Only crops the batch could not attribute are
read again one by one (a page of one crop).

Facilities reuse the same magnifications, so identical label crops are common: ``LABEL_CACHE``
(a per-process LRU keyed by a digest of the binarised crop) answers those without Tesseract.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Sequence

import cv2
import numpy as np

BATCH_MAX_CROPS = 48
GAP_PX = 24
TESSERACT_TIMEOUT_S = 60
# No character whitelist: with one, Tesseract's English model drops the micro sign it cannot
# name ("200m"); without, it reads it as u/y/p, which ``labels`` maps back to µm.


class LabelCache:
    """A small LRU: digest of a binarised crop -> OCR text."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[bytes, str] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> str | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: bytes, value: str) -> None:
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


def crop_digest(crop: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(crop.shape, np.int32).tobytes())
    h.update(np.ascontiguousarray(crop).tobytes())
    return h.digest()


class TesseractError(RuntimeError):
    pass


def _tesseract(image: np.ndarray, psm: int) -> list[dict[str, str]]:
    exe = shutil.which("tesseract")
    if exe is None:
        raise TesseractError("tesseract is not installed (not on PATH)")
    ok, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise TesseractError("could not encode the label page")
    cmd = [exe, "stdin", "stdout", "--dpi", "300", "--psm", str(psm), "-l", "eng", "tsv"]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    proc = subprocess.run(
        cmd, input=png.tobytes(), capture_output=True, timeout=TESSERACT_TIMEOUT_S, env=env, check=False
    )
    if proc.returncode != 0:
        raise TesseractError(
            f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}"
        )
    lines = proc.stdout.decode("utf-8", errors="replace").splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    words = []
    for line in lines[1:]:
        cells = line.split("\t")
        if len(cells) != len(header):
            continue
        row = dict(zip(header, cells, strict=True))
        if row.get("level") == "5" and row.get("text", "").strip():
            words.append(row)
    return words


def _join(words: list[dict[str, str]]) -> str:
    return " ".join(w["text"].strip() for w in sorted(words, key=lambda w: int(w["left"])))


def _read_batch(crops: list[np.ndarray]) -> list[str | None]:
    width = max(c.shape[1] for c in crops)
    total = sum(c.shape[0] for c in crops) + GAP_PX * (len(crops) + 1)
    page = np.full((total, width + 2 * GAP_PX), 255, np.uint8)
    spans = []
    y = GAP_PX
    for c in crops:
        page[y : y + c.shape[0], GAP_PX : GAP_PX + c.shape[1]] = c
        spans.append((y, y + c.shape[0]))
        y += c.shape[0] + GAP_PX
    owned: list[list[dict[str, str]]] = [[] for _ in crops]
    for word in _tesseract(page, psm=6):
        mid = int(word["top"]) + int(word["height"]) / 2
        for i, (a, b) in enumerate(spans):
            if a <= mid < b:
                owned[i].append(word)
                break
    return [_join(ws) if ws else None for ws in owned]


def read_labels(crops: Sequence[np.ndarray]) -> list[str]:
    """OCR text of each crop (black text on white, uint8), in order; "" when nothing was read."""
    keys = [crop_digest(c) for c in crops]
    results: dict[bytes, str] = {}
    todo: dict[bytes, np.ndarray] = {}
    for key, crop in zip(keys, crops, strict=True):
        if key in results or key in todo:
            continue
        cached = LABEL_CACHE.get(key)
        if cached is not None:
            results[key] = cached
        else:
            todo[key] = crop
    pending = list(todo.items())
    for start in range(0, len(pending), BATCH_MAX_CROPS):
        chunk = pending[start : start + BATCH_MAX_CROPS]
        texts = _read_batch([c for _k, c in chunk])
        for (key, crop), text in zip(chunk, texts, strict=True):
            if text is None and len(chunk) > 1:  # not attributed in the batch: read it alone
                text = _read_batch([crop])[0]
            text = text or ""
            results[key] = text
            LABEL_CACHE.put(key, text)
    return [results[k] for k in keys]


def read_labels_one_by_one(crops: Sequence[np.ndarray]) -> list[str]:
    """One Tesseract call per crop, no cache (the reference the batched reader must equal)."""
    return [_read_batch([c])[0] or "" for c in crops]
