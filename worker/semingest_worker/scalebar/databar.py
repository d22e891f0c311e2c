"""Find the data bar: the block of rows under (or at the bottom of) the image with a flat
background colour, text and lines, that microscopes append to the scan.

Walks up from the bottom row by row. A row belongs to the bar when at least 40 % of its pixels
have exactly the bar's background value (±1): text and lines cover less than that, while SEM
content (noise, texture) almost never does. Full-width uniform lines (borders, table rules) are
followed through when bar rows with content continue above them, and end the bar otherwise (the
FEI Helios bar sits under a blank black scan). A few rows of dense text are tolerated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAR_ROW_FRACTION = 0.4  # share of background pixels that makes a row a bar row
MAX_GAP_ROWS = 3  # consecutive non-bar rows tolerated inside a bar (dense text)
MAX_BAR_SHARE = 0.35  # the bar is at most this share of the image height
MIN_BAR_ROWS = 10


@dataclass(frozen=True)
class DataBar:
    top: int  # first row of the bar (its top border when it has one)
    bottom: int  # one past the last row
    background: int  # 8-bit background value of the bar
    dark: bool  # dark background (light text)

    @property
    def height(self) -> int:
        return self.bottom - self.top


def to_uint8(gray: np.ndarray) -> np.ndarray:
    """8-bit luminance: 16-bit (or wider) input is scaled by its maximum, 8-bit kept as is."""
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D luminance array, got shape {gray.shape}")
    if gray.dtype == np.uint8:
        return gray
    top = float(gray.max()) if gray.size else 0.0
    if top <= 255:
        return gray.astype(np.uint8)
    return (gray.astype(np.float32) * (255.0 / top) + 0.5).astype(np.uint8)


def _row_stats(band: np.ndarray, bg: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: share of background pixels, whether the row is one uniform line, its median."""
    lo_bg, hi_bg = max(0, bg - 1), min(255, bg + 1)
    bg_share = ((band >= lo_bg) & (band <= hi_bg)).mean(axis=1)
    m = max(1, band.shape[1] // 50)
    inner = band[:, m:-m]
    uniform = (inner.max(axis=1).astype(np.int16) - inner.min(axis=1)) <= 2
    return bg_share, uniform, inner.mean(axis=1)


def _background(band: np.ndarray) -> int | None:
    """The value that is the mode of most of the bottom rows (each with >= 50 % of that value)."""
    votes: dict[int, int] = {}
    for row in band:
        counts = np.bincount(row, minlength=256)
        mode = int(counts.argmax())
        near = counts[max(0, mode - 1) : mode + 2].sum()
        if near >= 0.5 * row.size:
            votes[mode] = votes.get(mode, 0) + 1
    if not votes:
        return None
    best = max(votes.items(), key=lambda kv: kv[1])
    return best[0] if best[1] >= 3 else None


def bottom_band(gray: np.ndarray, share: float = 0.36) -> tuple[int, np.ndarray]:
    """The bottom ``share`` of the image as 8-bit (scaled by the band's own maximum when wider),
    and the row where it starts. Bars, rulers and labels all live there."""
    h = gray.shape[0]
    start = max(0, h - int(h * share) - 2)
    return start, to_uint8(gray[start:])


def find_databar(
    band8: np.ndarray, offset: int, full_height: int, databar_height_px: int | None = None
) -> DataBar | None:
    """Find the data bar in ``band8`` (the bottom rows of an image ``full_height`` tall, starting
    at row ``offset``). Returns absolute rows."""
    h, w = full_height, band8.shape[1]
    if h < 40 or w < 40:
        return None
    if databar_height_px and 0 < databar_height_px <= band8.shape[0] - 2:
        top = h - databar_height_px
        bg = _background(band8[top - offset :])
        if bg is not None:
            return DataBar(top, h, bg, bg < 128)
    limit = max(0, h - int(h * MAX_BAR_SHARE))
    probe = band8[max(0, band8.shape[0] - max(12, h // 25)) :]
    bg = _background(probe)
    if bg is None:
        return None
    band = band8[limit - offset :]
    bg_share, uniform, med = _row_stats(band, bg)
    n = band.shape[0]
    i = n - 1
    skipped = 0
    while i >= 0 and bg_share[i] < BAR_ROW_FRACTION and not uniform[i] and skipped < 3:
        i -= 1
        skipped += 1
    last_bar = None
    has_content = False
    gap = 0
    while i >= 0:
        is_line = bool(uniform[i]) and abs(float(med[i]) - bg) > 30
        if is_line and last_bar is not None:
            # a full-width rule: internal when bar rows with content follow above it
            j, internal = i - 1, False
            while j >= max(0, i - max(8, n - i)):
                if bg_share[j] < BAR_ROW_FRACTION and not uniform[j]:
                    break
                if bg_share[j] < 0.995 and not uniform[j]:
                    internal = True
                    break
                j -= 1
            if not internal:
                last_bar = i
                break
            gap = 0
        elif bg_share[i] >= BAR_ROW_FRACTION:
            last_bar = i
            gap = 0
            if bg_share[i] < 0.995:
                has_content = True
        elif uniform[i]:
            gap = 0
        else:
            gap += 1
            if gap > MAX_GAP_ROWS:
                break
        i -= 1
    if last_bar is None or not has_content:
        return None
    top = last_bar
    while top > 0 and uniform[top - 1] and abs(float(med[top - 1]) - bg) > 30:
        top -= 1
    if top == 0 and limit > 0:
        return None  # the "bar" reaches the search limit: flat image content, not a bar
    top += limit
    if h - top < max(MIN_BAR_ROWS, int(0.025 * h)):
        return None
    return DataBar(top, h, bg, bg < 128)


def content_rows(gray: np.ndarray) -> int:
    """Rows of the image above the data bar (the whole height when there is none)."""
    offset, band8 = bottom_band(gray)
    bar = find_databar(band8, offset, gray.shape[0])
    return bar.top if bar else gray.shape[0]
