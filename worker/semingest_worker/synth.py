"""Synthetic SEM images with known truth: textures, vendor data bars and vendor metadata.

``generate_corpus`` writes SEM-like images (particles, fibres, grains, pores; gradients, edge
brightening, shot noise) with a data bar in one vendor's style, a scale bar of known length in
pixels for a "nice" label (1, 2, 5 ... 500 nm/µm), and the vendor's metadata written in the same
formats as the real files of the shared corpus:

- ``zeiss`` / ``zeiss_black``: TIFF tag 34118 (SmartSEM text: a numeric block, then ``AP_*``/``DP_*``
  keys each followed by ``Label = value unit``; latin-1 micro sign; the ``FIB Pixel Size = 0.0 fm``
  and ``Argon Pixel Size = 0.0 fm`` traps before ``AP_PIXEL_SIZE``).
- ``fei`` / ``fei_tall``: TIFF tag 34682 (INI text: ``[Scan] PixelWidth`` in metres,
  ``[PrivateFei] DatabarHeight``); ``fei_tall`` has a taller bar.
- ``tescan``: TIFF tag 50431 (binary sections: a thumbnail blob, then ``key=value`` lines with
  ``PixelSizeX`` in metres) plus Make/Model/Software.
- ``jeol``: plain TIFF, metadata in a sidecar ``.txt`` (``$$SM_MICRON_BAR`` px for
  ``$$SM_MICRON_MARKER`` at ``$CM_FULL_SIZE``; half of the images declare a full frame twice the
  saved width, the rescaling trap).
- ``hitachi``: RGB JPEG with an in-image tick ruler (the label is the whole ruler's length) and a
  UTF-16 sidecar ``.txt`` (``PixelSize`` in nm).

Duplicates are re-saved copies of earlier images (other compression, other tags, identical pixels)
in the ``duplicates`` subfolder. ``write_bad_inputs`` writes the bad inputs the pipeline must
record as failed (or, for odd file names and the bar-less image, ingest correctly).

The truth ``pixel_size_m`` is exact: ``label value / bar_px``. Vendor tags carry it at the
vendor's printed precision (Zeiss's text 4 significant digits, FEI/TESCAN 6+).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import struct
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageDraw, ImageFont

STYLES = ("zeiss", "zeiss_black", "fei", "fei_tall", "tescan", "jeol", "hitachi")
VENDOR_OF_STYLE = {
    "zeiss": "zeiss",
    "zeiss_black": "zeiss",
    "fei": "fei",
    "fei_tall": "fei",
    "tescan": "tescan",
    "jeol": "jeol",
    "hitachi": "hitachi",
}
NICE_VALUES = (1, 2, 5, 10, 20, 50, 100, 200, 500)
_UNIT_M = {"nm": 1e-9, "µm": 1e-6, "mm": 1e-3}

# Keywords expected in the recorded reason for each bad input ("ok": must be ingested fine).
BAD_INPUT_REASONS = {
    "truncated": "truncated",
    "text_as_tif": "not an image",
    "zero_byte": "empty",
    "bomb": "decompression bomb",
    "absurd_pixel_size": "pixel size",
    "garbage_34118": "34118",
    "no_data_bar": "no data bar",
    "odd_name": "ok",
}


@dataclass(frozen=True)
class SyntheticImage:
    path: str
    vendor: str
    style: str
    pixel_size_m: float  # exact truth: label value / bar_px
    bar_px: int  # scale bar (whole ruler for hitachi) between its end ticks' centres, in px
    label_text: str  # the label as drawn, e.g. "200 µm"
    duplicate_of: str | None  # path of the original when this file is a re-saved copy


# --------------------------------------------------------------------------------------- fonts


@lru_cache(maxsize=64)
def _font(size: int, mono: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    names = (
        ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf")
        if mono
        else ("DejaVuSans.ttf", "LiberationSans-Regular.ttf")
    )
    for name in names:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _has_micro(font) -> bool:
    return getattr(font, "path", None) is not None


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font, fill) -> None:
    """Draw text; with a font lacking the micro sign, draw it as a 'u' with a descender stroke."""
    if "µ" not in text or _has_micro(font):
        draw.text(xy, text, font=font, fill=fill)
        return
    x, y = xy
    for i, part in enumerate(text.split("µ")):
        if i:
            draw.text((x, y), "u", font=font, fill=fill)
            left, top, _right, bottom = font.getbbox("u")
            stroke = max(1, round(font.size / 12))
            draw.line(
                [(x + left + stroke / 2, y + top), (x + left + stroke / 2, y + bottom + font.size * 0.25)],
                fill=fill,
                width=stroke,
            )
            x += font.getlength("u")
        draw.text((x, y), part, font=font, fill=fill)
        x += font.getlength(part)


def _text_width(text: str, font) -> float:
    return font.getlength(text.replace("µ", "u")) if not _has_micro(font) else font.getlength(text)


# ------------------------------------------------------------------------------------ textures


def _smooth_noise(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    small = rng.random((max(2, cells * h // w), cells), dtype=np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """An SEM-like 8-bit texture: background, objects, edge brightening, gradient and noise."""
    img = 0.35 * _smooth_noise(rng, w, h, int(rng.integers(3, 7))) + 0.15 * _smooth_noise(
        rng, w, h, int(rng.integers(12, 40))
    )
    kind = rng.choice(("particles", "fibres", "grains", "pores", "mixed"))
    canvas = np.zeros((h, w), np.float32)
    scale = w / 1024
    if kind in ("particles", "mixed"):
        for _ in range(int(rng.integers(15, 120))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(4, 60) * scale) + 2, int(rng.integers(4, 60) * scale) + 2)
            cv2.ellipse(
                canvas,
                c,
                axes,
                float(rng.uniform(0, 180)),
                0,
                360,
                float(rng.uniform(0.3, 1.0)),
                -1,
                cv2.LINE_AA,
            )
    if kind in ("fibres", "mixed"):
        for _ in range(int(rng.integers(10, 70))):
            pts = np.cumsum(rng.normal(0, 40 * scale, (6, 2)), axis=0) + rng.uniform((0, 0), (w, h))
            cv2.polylines(
                canvas,
                [pts.astype(np.int32)],
                False,
                float(rng.uniform(0.3, 1.0)),
                int(rng.integers(1, int(14 * scale + 2))),
                cv2.LINE_AA,
            )
    if kind == "grains":
        grains = _smooth_noise(rng, w, h, int(rng.integers(20, 60)))
        canvas = np.floor(grains * 6) / 6
    if kind == "pores":
        pores = _smooth_noise(rng, w, h, int(rng.integers(15, 50)))
        canvas = (pores > rng.uniform(0.45, 0.65)).astype(np.float32) * 0.8
    blurred = cv2.GaussianBlur(canvas, (0, 0), 1.5)
    edges = np.abs(cv2.Laplacian(blurred, cv2.CV_32F, ksize=3))
    img += 0.5 * canvas + float(rng.uniform(0.5, 2.0)) * edges
    gy, gx = np.mgrid[0 : 1 : complex(0, h), 0 : 1 : complex(0, w)].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    img += float(rng.uniform(0, 0.25)) * (gx * math.cos(angle) + gy * math.sin(angle))
    lo, hi = np.percentile(img[::8, ::8], (1, 99.5))
    img = (img - lo) / max(float(hi - lo), 1e-6) * float(rng.uniform(150, 235)) + float(rng.uniform(5, 30))
    noise = rng.standard_normal((h, w), dtype=np.float32) * float(rng.uniform(3, 14))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


# -------------------------------------------------------------------------------- scale choice


@dataclass(frozen=True)
class _Scale:
    value: float
    unit: str
    bar_px: int
    pixel_size_m: float


def _choose_scale(rng: np.random.Generator, width: int, low: float = 0.1) -> _Scale:
    """A nice label value and a bar of 10 (``low``) to 30 % of the width; the pixel size follows
    exactly."""
    target_px = 10 ** rng.uniform(math.log10(0.8e-9), math.log10(3e-6))
    candidates = []
    for unit in ("nm", "µm"):
        for value in NICE_VALUES:
            bar_px = value * _UNIT_M[unit] / target_px
            if low * width <= bar_px <= 0.3 * width:
                candidates.append((value, unit, round(bar_px)))
    if not candidates:  # extreme target: take the value closest to 20 % of the width
        value, unit = min(
            ((v, u) for u in ("nm", "µm") for v in NICE_VALUES),
            key=lambda vu: abs(math.log(vu[0] * _UNIT_M[vu[1]] / target_px / (0.2 * width))),
        )
        candidates = [(value, unit, round(0.2 * width))]
    value, unit, bar_px = candidates[int(rng.integers(0, len(candidates)))]
    return _Scale(float(value), unit, int(bar_px), value * _UNIT_M[unit] / bar_px)


def _label(scale: _Scale, style: str) -> str:
    v = scale.value
    num = str(int(v)) if v == int(v) else f"{v:g}"
    if style == "jeol":
        return f"{num}{scale.unit}"
    if style == "hitachi":
        if v < 10:
            return f"{v:.2f}{scale.unit}"
        if v < 100:
            return f"{v:.1f}{scale.unit}"
        return f"{v:.0f}{scale.unit}"
    return f"{num} {scale.unit}"


# --------------------------------------------------------------------------------- data bars


@dataclass(frozen=True)
class _Acq:
    """Acquisition parameters shared by the bar text and the vendor tags."""

    kv: float
    wd_mm: float
    mag: float
    detector: str
    day: int
    month: int
    year: int
    hour: int
    minute: int
    second: int


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _acq(rng: np.random.Generator, pixel_size_m: float, width: int, detectors: Sequence[str]) -> _Acq:
    return _Acq(
        kv=float(rng.choice((1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0))),
        wd_mm=round(float(rng.uniform(2.0, 15.0)), 1),
        mag=0.127 / (pixel_size_m * width),
        detector=str(rng.choice(list(detectors))),
        day=int(rng.integers(1, 29)),
        month=int(rng.integers(1, 13)),
        year=int(rng.integers(2012, 2026)),
        hour=int(rng.integers(7, 20)),
        minute=int(rng.integers(0, 60)),
        second=int(rng.integers(0, 60)),
    )


def _zeiss_mag(mag: float) -> str:
    return f"{mag / 1000:.2f} K X" if mag >= 1000 else f"{mag:6.0f} X"


def _draw_zeiss(img: np.ndarray, scale: _Scale, label: str, acq: _Acq, black: bool) -> None:
    h, w = img.shape
    bar_h = round(h * 0.1)
    top = h - bar_h
    bg, fg = (0, 255) if black else (255, 0)
    band = Image.new("L", (w, bar_h), bg)
    d = ImageDraw.Draw(band)
    d.rectangle([0, 0, w - 1, bar_h - 1], outline=fg if not black else 200, width=1)
    fs = max(11, round(bar_h * 0.22))  # legible labels on small frames too
    font = _font(fs)
    x0 = round(w * 0.02)
    th = round(fs * 0.12) + 1
    if black:
        left = [
            f"Mag = {_zeiss_mag(acq.mag).strip()}",
            "NV 40-38",
            f"{acq.day} {_MONTHS[acq.month - 1]} {acq.year}",
        ]
        for k, line in enumerate(left):
            _text(d, (x0, bar_h * (0.1 + 0.3 * k)), line, font, fg)
        bx = max(round(w * 0.2), x0 + round(max(_text_width(t, font) for t in left)) + fs)
        ly = round(bar_h * 0.6)
        tick = max(2, fs // 3)
        # the label sits above the left tick with a small gap (as SmartSEM draws it)
        _text(d, (bx + th + 2, ly - tick - 3 - fs * 1.2), label, font, fg)
        d.rectangle([bx, ly, bx + scale.bar_px + th - 1, ly + th - 1], fill=fg)
        d.rectangle([bx, ly - tick, bx + th - 1, ly + tick], fill=fg)
        d.rectangle([bx + scale.bar_px, ly - tick, bx + scale.bar_px + th - 1, ly + tick], fill=fg)
        fx = round(w * 0.54)
        _text(d, (fx, bar_h * 0.1), f"Signal A = {acq.detector}", font, fg)
        _text(d, (fx, bar_h * 0.4), "Vacuum = 1.35e-006 mbar", font, fg)
        _text(d, (fx, bar_h * 0.7), f"EHT = {acq.kv:5.2f} kV", font, fg)
        _text(d, (round(w * 0.78), bar_h * 0.1), f"WD = {acq.wd_mm:4.1f} mm", font, fg)
        _text(d, (round(w * 0.8), bar_h * 0.45), "Institute", _font(round(fs * 1.2)), fg)
    else:
        _text(d, (x0, bar_h * 0.12), label, font, fg)
        ly = round(bar_h * 0.6)
        d.rectangle([x0, ly, x0 + scale.bar_px + th - 1, ly + th - 1], fill=fg)
        d.rectangle([x0, ly - fs // 2, x0 + th - 1, ly + fs // 2], fill=fg)
        d.rectangle([x0 + scale.bar_px, ly - fs // 2, x0 + scale.bar_px + th - 1, ly + fs // 2], fill=fg)
        fx = max(round(w * 0.2), x0 + scale.bar_px + round(w * 0.03))
        _text(d, (fx, bar_h * 0.12), f"EHT = {acq.kv:5.2f} kV", font, fg)
        _text(d, (fx + round(w * 0.22), bar_h * 0.12), f"Signal A = {acq.detector}", font, fg)
        _text(d, (fx + round(w * 0.22), bar_h * 0.55), f"Mag = {_zeiss_mag(acq.mag)}", font, fg)
        _text(d, (min(fx + round(w * 0.4), w - 8 * fs), bar_h * 0.12), f"WD = {acq.wd_mm:4.1f} mm", font, fg)
        lx = w - round(w * 0.08)
        d.rectangle([lx, round(bar_h * 0.15), lx + round(w * 0.05), round(bar_h * 0.85)], fill=0)
        _text(d, (lx + 3, bar_h * 0.4), "ZEISS", _font(max(6, fs // 2)), 255)
    img[top:] = np.asarray(band)


def _fei_cells(w: int, acq: _Acq, scale: _Scale) -> list[tuple[str, str, float]]:
    hfw = scale.pixel_size_m * w
    hfw_text = f"{hfw * 1e6:.1f} µm" if hfw < 1e-3 else f"{hfw * 1e3:.2f} mm"
    mag = f"{acq.mag:,.0f} x".replace(",", " ")
    return [
        ("HV", f"{acq.kv:.2f} kV", 0.09),
        ("det", acq.detector, 0.05),
        ("WD", f"{acq.wd_mm:.1f} mm", 0.09),
        ("mag", mag, 0.10),
        ("spot", "3.0", 0.05),
        ("HFW", hfw_text, 0.10),
    ]


def _draw_fei(img: np.ndarray, scale: _Scale, label: str, acq: _Acq, bar_h: int) -> None:
    h, w = img.shape
    band = Image.new("L", (w, bar_h), 0)
    d = ImageDraw.Draw(band)
    fs = max(10, round(min(bar_h, 44) * 0.36))
    font = _font(fs)
    half = bar_h // 2
    x = 1
    grid = 110
    d.rectangle([0, 0, w - 1, bar_h - 1], outline=grid)
    for head, value, frac in _fei_cells(w, acq, scale):
        cw = round(w * frac)
        _text(d, (x + (cw - _text_width(head, font)) / 2, 1), head, font, 255)
        _text(d, (x + (cw - _text_width(value, font)) / 2, half), value, font, 255)
        x += cw
        d.line([(x, 0), (x, bar_h - 1)], fill=grid)
    # the scale-bar cell: |----- label -----| in the upper half, user text below
    cell_x0, cell_w = x, w - 1 - x
    th = max(1, round(bar_h / 30))
    bx0 = cell_x0 + max(4, (cell_w - scale.bar_px) // 2)
    bx1 = bx0 + scale.bar_px + th - 1  # bar_px between the end ticks' centres
    yc = max(2, half // 2)
    lw = _text_width(label, font)
    mid = (bx0 + bx1) / 2
    gap0, gap1 = mid - lw / 2 - 4, mid + lw / 2 + 4
    d.rectangle([bx0, yc - th // 2, gap0, yc - th // 2 + th - 1], fill=255)
    d.rectangle([gap1, yc - th // 2, bx1, yc - th // 2 + th - 1], fill=255)
    tick = max(2, half // 3)
    d.rectangle([bx0, yc - tick, bx0 + th - 1, yc + tick], fill=255)
    d.rectangle([bx1 - th + 1, yc - tick, bx1, yc + tick], fill=255)
    _text(d, (mid - lw / 2, yc - fs * 0.6), label, font, 255)
    d.line([(cell_x0, half), (w - 1, half)], fill=grid)
    user = "Synthetic sample"
    _text(d, (cell_x0 + (cell_w - _text_width(user, font)) / 2, half), user, font, 255)
    img[h - bar_h :] = np.asarray(band)


def _draw_tescan(img: np.ndarray, scale: _Scale, label: str, acq: _Acq) -> None:
    h, w = img.shape
    bar_h = max(64, round(h * 0.13))
    band = Image.new("L", (w, bar_h), 51)
    d = ImageDraw.Draw(band)
    grid = 100
    row = bar_h // 2
    fs_head, fs_val = max(8, round(row * 0.28)), max(8, round(row * 0.3))
    fh, fv = _font(fs_head), _font(fs_val)
    d.line([(0, 0), (w - 1, 0)], fill=grid)
    d.line([(0, row), (w - 1, row)], fill=grid)
    bounds = [0, round(w * 0.17), round(w * 0.33), round(w * 0.66), w - 1]
    heads = ["", "WD", "Det", ""]
    values = ["", f"{acq.wd_mm:.2f} mm", acq.detector, ""]
    for i in range(4):
        x0, x1 = bounds[i], bounds[i + 1]
        if i:
            d.line([(x0, 0), (x0, row)], fill=grid)
        if heads[i]:
            _text(d, ((x0 + x1 - _text_width(heads[i], fh)) / 2, row * 0.1), heads[i], fh, 90)
            _text(d, ((x0 + x1 - _text_width(values[i], fv)) / 2, row * 0.5), values[i], fv, 255)
    d.rectangle([round(w * 0.06), round(row * 0.1), round(w * 0.11), round(row * 0.9)], fill=110)
    # scale cell (last cell of the upper row): label above a line with end ticks pointing up
    x0, x1 = bounds[3], bounds[4]
    th = max(2, round(row / 40))
    bx0 = x0 + (x1 - x0 - scale.bar_px) // 2
    bx1 = bx0 + scale.bar_px + th - 1  # bar_px between the end ticks' centres
    ly = round(row * 0.82)
    d.rectangle([bx0, ly, bx1, ly + th - 1], fill=255)
    tick = round(row * 0.3)
    d.rectangle([bx0, ly - tick, bx0 + th - 1, ly + th - 1], fill=255)
    d.rectangle([bx1 - th + 1, ly - tick, bx1, ly + th - 1], fill=255)
    fl = _font(max(11, round(row * 0.34)))
    _text(d, ((bx0 + bx1 - _text_width(label, fl)) / 2, row * 0.3), label, fl, 255)
    bounds2 = [0, round(w * 0.17), round(w * 0.5), round(w * 0.83), w - 1]
    heads2 = ["Energy", "User", "", "Mag"]
    mag = acq.mag / 1000
    values2 = [f"{acq.kv:g} keV", "Synthetic U.", "Lab", f"{mag:.1f} kx" if mag >= 1 else f"{acq.mag:.0f} x"]
    for i in range(4):
        x0, x1 = bounds2[i], bounds2[i + 1]
        if i:
            d.line([(x0, row), (x0, bar_h - 1)], fill=grid)
        if heads2[i]:
            _text(d, ((x0 + x1 - _text_width(heads2[i], fh)) / 2, row + row * 0.1), heads2[i], fh, 90)
        _text(d, ((x0 + x1 - _text_width(values2[i], fv)) / 2, row + row * 0.5), values2[i], fv, 255)
    img[h - bar_h :] = np.asarray(band)


def _draw_jeol(img: np.ndarray, scale: _Scale, label: str, acq: _Acq) -> int:
    h, w = img.shape
    bar_h = max(32, round(h * 0.0625))
    band = Image.new("L", (w, bar_h), 0)
    d = ImageDraw.Draw(band)
    fs = max(11, round(bar_h * 0.36))
    font = _font(fs)  # proportional: DejaVu Sans Mono's dotted zeros read as 8 when small
    line1 = round(bar_h * 0.08)
    bx0 = round(w * 0.34)
    thick = max(3, round(bar_h * 0.25))
    # a plain bar: bar_px between the centres of its first and last columns
    d.rectangle([bx0, line1 + 2, bx0 + scale.bar_px, line1 + 1 + thick], fill=255)
    tx = bx0 + scale.bar_px + round(w * 0.04)
    _text(d, (tx, line1), f"{label} SYN", font, 255)
    _text(d, (round(w * 0.86), line1), f"{acq.month}/{acq.day}/{acq.year}", font, 255)
    line2 = round(bar_h * 0.55)
    mag = f"X{acq.mag:,.0f}" if acq.mag >= 1000 else f"X {acq.mag:.0f}"
    row2 = f"{mag:>10}      {acq.kv:.1f}kV  SEI      NOR    WD {acq.wd_mm:.1f}mm {acq.hour:02d}:{acq.minute:02d}:{acq.second:02d}"
    _text(d, (round(w * 0.2), line2), row2, font, 255)
    img[h - bar_h :] = np.asarray(band)
    return bar_h


def _draw_hitachi(img: np.ndarray, scale: _Scale, label: str, acq: _Acq) -> None:
    """In-image ruler: 11 ticks over the whole length, label below it, info text at the left."""
    h, w = img.shape
    fs = max(12, round(h * 0.03))
    font = _font(fs)
    band = Image.fromarray(img)
    d = ImageDraw.Draw(band)
    y_text = h - round(fs * 1.5)
    mag = f"X{acq.mag / 1000:.2f}k" if acq.mag >= 1000 else f"X{acq.mag:.0f}"
    _text(d, (round(w * 0.01), y_text), f"SU3500 {acq.kv:.1f}kV {acq.wd_mm:.1f}mm {mag} BSE-COMP", font, 255)
    tick_w = max(2, round(w / 400))
    tick_h = max(6, round(fs * 0.6))
    x1 = w - round(w * 0.02)
    x0 = x1 - (scale.bar_px + tick_w) + 1  # bar_px between the first and last ticks' centres
    ty = y_text - round(fs * 0.9)
    for k in range(11):
        tx = round(x0 + k * scale.bar_px / 10)
        d.rectangle([tx, ty, tx + tick_w - 1, ty + tick_h - 1], fill=255)
    lw = _text_width(label, font)
    _text(d, (x1 - lw - round(w * 0.01), y_text), label, font, 255)
    img[:] = np.asarray(band)


# ------------------------------------------------------------------------------- vendor tags


def _win_exp(x: float, fmt: str = "%e") -> str:
    """C printf on Windows: three-digit exponents (``2.614514e-006``)."""
    s = fmt % x
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{exp[0]}{int(exp[1:]):03d}"
    return s


def _zeiss_value(meters: float) -> str:
    for unit, factor in (("pm", 1e-12), ("nm", 1e-9), ("µm", 1e-6), ("mm", 1e-3)):
        v = meters / factor
        if v < 1000:
            decimals = 3 if v < 10 else (2 if v < 100 else 1)
            return f"{v:.{decimals}f} {unit}"
    return f"{meters * 1e3:.1f} mm"


def zeiss_text(
    pixel_size_m: float,
    acq: _Acq,
    serial: str,
    file_name: str,
    pixel_size_text: str | None = None,
    size: tuple[int, int] = (1024, 768),
) -> str:
    """SmartSEM's tag 34118 text (CRLF lines, NUL-terminated), with the FIB/Argon 0.0 fm traps.
    ``AP_WIDTH``/``AP_HEIGHT`` are the field of the saved ``size`` (width, height) in pixels."""
    num = []
    for i in range(4):
        num += [
            str(i),
            _win_exp(pixel_size_m),
            _win_exp(acq.mag),
            "6",
            _win_exp(acq.kv * 1000),
            _win_exp(2.31),
            _win_exp(1e-9),
            _win_exp(acq.wd_mm / 1000),
        ]
    pairs = [
        ("DP_VENT_INVALID_REASON", "Vent inhibit = Beam Present"),
        ("DP_DETECTOR_CHANNEL", f"Signal A = {acq.detector}"),
        ("DP_SCANRATE", "Scan Speed = 6"),
        ("AP_FIB_PIXEL_SIZE", "FIB Pixel Size = 0.0 fm"),
        ("AP_WD", f"WD = {acq.wd_mm:4.1f} mm"),
        ("AP_MAG", f"Mag = {_zeiss_mag(acq.mag)}"),
        ("AP_BRIGHTNESS", "Brightness =  47.5 %"),
        ("AP_MANUALKV", f"EHT Target = {acq.kv:5.2f} kV"),
        ("AP_AR_PIXEL_SIZE", "Argon Pixel Size = 0.0 fm"),
        ("AP_TILT_ANGLE", "Tilt Angle =   0.0 °"),
        ("AP_PIXEL_SIZE", pixel_size_text or f"Pixel Size = {_zeiss_value(pixel_size_m)}"),
        ("AP_COLUMN_VAC", "Gun Vacuum = 2.11e-009 mbar"),
        ("AP_HEIGHT", f"Height = {_zeiss_value(pixel_size_m * size[1])}"),
        ("AP_WIDTH", f"Width = {_zeiss_value(pixel_size_m * size[0])}"),
        ("AP_ACTUALCURRENT", "Fil I =  2.309 A"),
        ("AP_ACTUALKV", f"EHT = {acq.kv:5.2f} kV"),
        ("AP_DATE", f"Date :{acq.day} {_MONTHS[acq.month - 1]} {acq.year}"),
        ("AP_TIME", f"Time :{acq.hour}:{acq.minute:02d}:{acq.second:02d}"),
        ("SV_VERSION", "Version = V05.07.00.00 : 08-Jul-14"),
        ("SV_SERIAL_NUMBER", f"Serial No. = {serial}"),
        ("SV_USER_NAME", "User Name = SYNTH"),
        ("SV_FILE_NAME", f"File Name = {file_name}"),
    ]
    lines = num + [str(len(pairs))]
    for key, text in pairs:
        lines += [key, text]
    return "\r\n".join(lines) + "\r\n\x00"


def _fei_float(x: float) -> str:
    """C printf ``%g`` on Windows: ``3.10059e-008``, ``10000``."""
    return _win_exp(x, "%g")


def fei_text(pixel_size_m: float, acq: _Acq, width: int, scan_height: int, databar_height: int) -> str:
    """Thermo Fisher/FEI tag 34682 INI text."""
    g = _fei_float
    hfw, vfw = pixel_size_m * width, pixel_size_m * scan_height
    sections = {
        "User": {
            "Date": f"{acq.month:02d}/{acq.day:02d}/{acq.year}",
            "Time": f"{(acq.hour - 1) % 12 + 1:02d}:{acq.minute:02d}:{acq.second:02d} {'AM' if acq.hour < 12 else 'PM'}",
            "User": "supervisor",
            "UserText": "Synthetic sample",
        },
        "System": {
            "Type": "SEM",
            "Dnumber": "9920799",
            "Software": "4.1.13.2167",
            "Source": "FEG",
            "Column": "FEG",
            "FinalLens": "S45",
            "Chamber": "XL30SB",
            "ESEM": "no",
            "SystemType": "Quanta FEG",
            "DisplayWidth": "0.373",
            "DisplayHeight": "0.303",
        },
        "Beam": {
            "HV": g(acq.kv * 1000),
            "Spot": "3",
            "ScanRotation": "0",
            "ImageMode": "Normal",
            "Beam": "EBeam",
            "Scan": "EScan",
        },
        "EBeam": {
            "Source": "FEG",
            "HV": g(acq.kv * 1000),
            "HFW": g(hfw),
            "VFW": g(vfw),
            "WD": g(acq.wd_mm / 1000),
            "BeamCurrent": "",
            "StageX": "0.0196009",
        },
        "GIS": {"Number": "0"},
        "Scan": {
            "InternalScan": "true",
            "Dwelltime": g(3e-6),
            "PixelWidth": g(pixel_size_m),
            "PixelHeight": g(pixel_size_m),
            "HorFieldsize": g(hfw),
            "VerFieldsize": g(vfw),
            "FrameTime": "12.5",
        },
        "EScan": {
            "Scan": "PIA 2.0",
            "InternalScan": "true",
            "PixelWidth": g(pixel_size_m),
            "PixelHeight": g(pixel_size_m),
            "HorFieldsize": g(hfw),
            "VerFieldsize": g(vfw),
        },
        "Stage": {
            "StageX": "0.0196009",
            "StageY": "-0.00224334",
            "StageZ": "0.0208572",
            "StageR": "-0.208437",
            "StageT": "0",
            "WorkingDistance": g(acq.wd_mm / 1000),
        },
        "Image": {
            "DigitalContrast": "1",
            "DigitalBrightness": "0",
            "ResolutionX": str(width),
            "ResolutionY": str(scan_height),
            "ZoomFactor": "1.0",
            "MagCanvasRealWidth": "0.12700",
            "MagnificationMode": "4",
        },
        "Vacuum": {"ChPressure": g(0.000199347), "UserMode": "High vacuum"},
        "Detectors": {"Number": "1", "Name": acq.detector, "Mode": "SE"},
        "PrivateFei": {
            "BitShift": "0",
            "DataBarSelected": "HV det WD mag HFW spot Label MicronBar",
            "TimeOfCreation": f"{acq.day:02d}.{acq.month:02d}.{acq.year} {acq.hour:02d}:{acq.minute:02d}:{acq.second:02d}",
            "DatabarHeight": str(databar_height),
        },
    }
    out = []
    for name, items in sections.items():
        out.append(f"[{name}]")
        out += [f"{k}={v}" for k, v in items.items()]
        out.append("")
    return "\r\n".join(out) + "\r\n"


def tescan_blob(pixel_size_m: float, acq: _Acq, rng: np.random.Generator) -> bytes:
    """TESCAN tag 50431: length-prefixed sections (thumbnail blob, MAIN key=value, SEM key=value)."""
    date = f"{acq.year}-{acq.month:02d}-{acq.day:02d}"
    main = (
        f"AccFrames=2\nAccType=Line\nCompany=Synthetic Lab\nDate={date}\nDescription=\nDevice=TESCAN AMBER\n"
        f"DeviceModel=S8251G\nMagnification={acq.mag:.8f}\nPixelSizeX={pixel_size_m:.15f}\nPixelSizeY={pixel_size_m:.15f}\n"
        f"SerialNumber=120-0156\nSoftwareVersion=TESCAN Essence Version 1.1.3.0, build 4348\n"
        f"Time={acq.hour:02d}:{acq.minute:02d}:{acq.second:02d}\nUserName=synth\n\x00"
    ).encode()
    sem = (
        f"AcceleratorVoltage={acq.kv * 1000:.1f}\nDetector={acq.detector}\nHV={acq.kv * 1000:.1f}\n"
        f"ScanMode=RESOLUTION\nWD={acq.wd_mm / 1000:.9f}\n\x00"
    ).encode()
    thumb = (
        b"\x00\x00\x00\x0cjP  \r\n\x87\n" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes() + b"\xff\xd9"
    )
    out = b""
    for section_id, payload in ((1, thumb), (2, main), (3, sem)):
        out += struct.pack("<IH", len(payload), section_id) + payload
    return out + struct.pack("<IH", 2, 0) + b"\x00\x00"


def jeol_sidecar(scale: _Scale, acq: _Acq, width: int, scan_height: int, full_factor: int) -> str:
    marker = f"{scale.value:g}{'um' if scale.unit == 'µm' else scale.unit}"
    lines = [
        "$SEM_DATA_VERSION 1",
        "$CM_SIGNAL_NAME SEI",
        "$CM_DETECTOR_NAME SEI",
        f"$CM_ACCEL_VOLT {acq.kv:.2f}",
        f"$$SM_WD {acq.wd_mm:.2f}",
        f"$CM_MAG {acq.mag:.0f}",
        "$CM_FORMAT JEOL-SEM",
        "$CM_VERSION 3",
        f"$CM_DATE {acq.year}/{acq.month:02d}/{acq.day:02d}",
        f"$CM_TIME {acq.hour:02d}:{acq.minute:02d}:{acq.second:02d}",
        "$CM_INSTRUMENT 8530F",
        f"$$SM_MICRON_BAR {scale.bar_px * full_factor}",
        f"$$SM_MICRON_MARKER {marker}",
        f"$CM_FULL_SIZE {width * full_factor} {scan_height * full_factor}",
        "$CM_TITLE synthetic",
    ]
    return "\n".join(lines) + "\n"


def hitachi_sidecar(scale: _Scale, acq: _Acq, width: int, height: int, name: str) -> str:
    lines = [
        "[SemImageFile]",
        "InstructName=SU3500",
        "SerialNumber=350001-01",
        f"Date={acq.year}/{acq.month:02d}/{acq.day:02d}",
        f"Time={acq.hour:02d}:{acq.minute:02d}:{acq.second:02d}",
        "Format=jpg",
        f"ImageName={name}",
        f"DataSize={width}x{height}",
        f"PixelSize={scale.pixel_size_m * 1e9:.6g}",
        "SignalName=BSE-COMP",
        f"AcceleratingVoltage={acq.kv * 1000:.0f} Volt",
        f"Magnification={acq.mag:.0f}",
        f"WorkingDistance={acq.wd_mm * 1000:.0f} um",
        f"MicronMarker={scale.value:g}{'um' if scale.unit == 'µm' else scale.unit}",
    ]
    return "\r\n".join(lines) + "\r\n"


# ------------------------------------------------------------------------------- one image


def _write_tiff(path: Path, arr: np.ndarray, extratags: list, **kw) -> None:
    tifffile.imwrite(
        path, arr, extratags=extratags, metadata=None, software=False, photometric="minisblack", **kw
    )


def _make_image(out_dir: str, index: int, seed: int, size: tuple[int, int], style: str) -> SyntheticImage:
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 0x5E4]))
    w, h = size
    img = _texture(rng, w, h)
    scale = _choose_scale(rng, w, 0.16 if style.startswith("fei") else 0.1)
    label = _label(scale, style)
    vendor = VENDOR_OF_STYLE[style]
    folder = Path(out_dir) / style
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{style}_{index:05d}"
    if style in ("zeiss", "zeiss_black"):
        acq = _acq(rng, scale.pixel_size_m, w, ("SE2", "InLens", "HE-SE2", "QBSD"))
        _draw_zeiss(img, scale, label, acq, black=style == "zeiss_black")
        path = folder / f"{name}.tif"
        text = zeiss_text(
            scale.pixel_size_m,
            acq,
            "Merlin-61-08" if style == "zeiss" else "NVision 40-38-50",
            path.name,
            size=(w, h),
        )
        _write_tiff(path, img, [(34118, 2, 0, text.encode("latin-1"), True)])
    elif style in ("fei", "fei_tall"):
        acq = _acq(rng, scale.pixel_size_m, w, ("ETD", "TLD", "CBS", "ICE"))
        bar_h = max(26, round(h * 0.05)) if style == "fei" else max(40, round(h * 0.09))
        _draw_fei(img, scale, label, acq, bar_h)
        path = folder / f"{name}.tif"
        text = fei_text(scale.pixel_size_m, acq, w, h - bar_h, bar_h)
        _write_tiff(path, img, [(34682, 2, 0, text.encode("latin-1"), True)])
    elif style == "tescan":
        acq = _acq(rng, scale.pixel_size_m, w, ("E-T", "BSE", "In-Beam SE"))
        _draw_tescan(img, scale, label, acq)
        path = folder / f"{name}.tif"
        blob = tescan_blob(scale.pixel_size_m, acq, rng)
        tifffile.imwrite(
            path,
            img,
            metadata=None,
            software="TESCAN Essence Version 1.1.3.0, build 4348",
            photometric="minisblack",
            datetime=f"{acq.year}:{acq.month:02d}:{acq.day:02d} {acq.hour:02d}:{acq.minute:02d}:{acq.second:02d}",
            extratags=[
                (271, 2, 0, "TESCAN - http://www.tescan.com/", True),
                (272, 2, 0, "TESCAN AMBER TESCAN AMBER", True),
                (50431, 1, len(blob), blob, True),
            ],
        )
    elif style == "jeol":
        acq = _acq(rng, scale.pixel_size_m, w, ("SEI",))
        bar_h = _draw_jeol(img, scale, label, acq)
        path = folder / f"{name}.tif"
        _write_tiff(path, img, [])
        factor = 2 if index % 2 else 1
        (folder / f"{name}.txt").write_text(jeol_sidecar(scale, acq, w, h - bar_h, factor), encoding="ascii")
    elif style == "hitachi":
        acq = _acq(rng, scale.pixel_size_m, w, ("BSE-COMP",))
        _draw_hitachi(img, scale, label, acq)
        path = folder / f"{name}.jpg"
        Image.fromarray(img).convert("RGB").save(path, quality=92)
        (folder / f"{name}.txt").write_text(hitachi_sidecar(scale, acq, w, h, path.name), encoding="utf-16")
    else:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}")
    return SyntheticImage(str(path), vendor, style, scale.pixel_size_m, scale.bar_px, label, None)


def _make_duplicate(out_dir: str, index: int, source: SyntheticImage) -> SyntheticImage:
    """Identical pixels, other container: TIFF -> deflate TIFF re-saved 'by ImageJ' (vendor tags
    stripped), JPEG -> PNG of the decoded pixels."""
    folder = Path(out_dir) / "duplicates"
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(source.path) as im:
        im.load()
        if source.path.endswith(".jpg"):
            path = folder / f"dup_{index:05d}_{Path(source.path).stem}.png"
            im.save(path, optimize=False, compress_level=1)
        else:
            path = folder / f"dup_{index:05d}_{Path(source.path).stem}.tif"
            # a fresh image: no vendor tag is carried over (Pillow would keep e.g. 50431 mangled)
            Image.fromarray(np.asarray(im)).save(
                path,
                compression="tiff_adobe_deflate",
                tiffinfo={270: "ImageJ=1.54f\nunit=micron\n", 305: "ImageJ"},
            )
    return SyntheticImage(
        str(path),
        source.vendor,
        source.style,
        source.pixel_size_m,
        source.bar_px,
        source.label_text,
        source.path,
    )


def _make_chunk(args: tuple[str, list[int], int, tuple[int, int], list[str]]) -> list[SyntheticImage]:
    out_dir, indices, seed, size, styles = args
    cv2.setNumThreads(1)
    return [_make_image(out_dir, i, seed, size, s) for i, s in zip(indices, styles, strict=True)]


def generate_corpus(
    out_dir: str | os.PathLike,
    count: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = (1024, 768),
    styles: Sequence[str] = ("zeiss", "fei"),
    duplicate_fraction: float = 0.05,
    workers: int | None = None,
) -> list[SyntheticImage]:
    """Write ``count`` files (originals plus re-saved duplicates) under ``out_dir``; deterministic
    for a seed. Returns one record per file, originals first, in index order."""
    unknown = [s for s in styles if s not in STYLES]
    if unknown or not styles:
        raise ValueError(f"unknown styles {unknown}; known: {', '.join(STYLES)}")
    out = str(out_dir)
    Path(out).mkdir(parents=True, exist_ok=True)
    n_dup = min(count - 1, round(count * duplicate_fraction)) if count > 1 else 0
    n_orig = count - n_dup
    plan_rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD0C]))
    # every style equally often (shuffled): mixed corpora always cover all requested styles
    order = plan_rng.permutation(n_orig)
    chosen = [styles[int(k) % len(styles)] for k in order]
    workers = workers if workers is not None else (min(os.cpu_count() or 1, 8) if n_orig >= 32 else 1)
    if workers > 1:
        chunk = max(1, math.ceil(n_orig / (workers * 4)))
        jobs = [
            (out, list(range(a, min(a + chunk, n_orig))), seed, size, chosen[a : a + chunk])
            for a in range(0, n_orig, chunk)
        ]
        # forkserver, not fork: forking a process whose OpenCV/BLAS threads hold locks can hang
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver")) as pool:
            originals = [img for part in pool.map(_make_chunk, jobs) for img in part]
    else:
        originals = _make_chunk((out, list(range(n_orig)), seed, size, chosen))
    sources: Sequence[int] = plan_rng.integers(0, n_orig, n_dup).tolist() if n_dup else []
    duplicates = [_make_duplicate(out, n_orig + k, originals[int(s)]) for k, s in enumerate(sources)]
    return originals + duplicates


# ------------------------------------------------------------------------------- bad inputs


def _bomb_tiff(declared: int = 40000) -> bytes:
    """A tiny, well-formed TIFF header declaring a ``declared`` x ``declared`` 8-bit image."""
    entries = [
        (256, 4, 1, declared),
        (257, 4, 1, declared),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),
        (277, 3, 1, 1),
        (278, 4, 1, declared),
        (279, 4, 1, declared * declared),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, cnt, val in entries:
        ifd += (
            struct.pack("<HHII", tag, typ, cnt, val)
            if typ == 4
            else struct.pack("<HHIHH", tag, typ, cnt, val, 0)
        )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(256)


def write_bad_inputs(out_dir: str | os.PathLike) -> dict[str, str]:
    """Write the bad inputs under ``out_dir/bad``. Returns file path -> keyword expected
    (case-insensitively) in the reason the pipeline records; "ok" = must be ingested normally,
    "no data bar" = ingested, with no OCR pixel size and that reason."""
    folder = Path(out_dir) / "bad"
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    good = _make_image(str(folder / "_src"), 0, 12345, (512, 384), "zeiss")
    data = Path(good.path).read_bytes()

    p = folder / "truncated.tif"
    p.write_bytes(data[: len(data) // 3])
    expected[str(p)] = BAD_INPUT_REASONS["truncated"]

    p = folder / "notes_named_as_image.tif"
    p.write_text("This is a text file, not a TIFF.\nPixel Size = 2.615 µm\n", encoding="utf-8")
    expected[str(p)] = BAD_INPUT_REASONS["text_as_tif"]

    p = folder / "zero_byte.tif"
    p.write_bytes(b"")
    expected[str(p)] = BAD_INPUT_REASONS["zero_byte"]

    p = folder / "decompression_bomb.tif"
    p.write_bytes(_bomb_tiff())
    expected[str(p)] = BAD_INPUT_REASONS["bomb"]

    rng = np.random.default_rng(777)
    img = _texture(rng, 512, 384)
    acq = _acq(rng, 1e-8, 512, ("SE2",))
    p = folder / "absurd_pixel_size.tif"
    text = zeiss_text(
        1e30, acq, "Merlin-61-08", p.name, pixel_size_text="Pixel Size = 1e+030 m", size=(512, 384)
    )
    _write_tiff(p, img, [(34118, 2, 0, text.encode("latin-1"), True)])
    expected[str(p)] = BAD_INPUT_REASONS["absurd_pixel_size"]

    p = folder / "garbage_tag_34118.tif"
    garbage = bytes(rng.integers(128, 256, 600, dtype=np.uint8)) + b"\xff\xfe\xc3\x28\x00"
    _write_tiff(p, img, [(34118, 7, len(garbage), garbage, True)])
    expected[str(p)] = BAD_INPUT_REASONS["garbage_34118"]

    p = folder / "no_data_bar.tif"
    text = zeiss_text(5.825e-9, acq, "ULTRA 55-36-06", p.name, size=(512, 384))
    _write_tiff(p, img, [(34118, 2, 0, text.encode("latin-1"), True)])
    expected[str(p)] = BAD_INPUT_REASONS["no_data_bar"]

    for odd in ("x'; DROP TABLE images; --.tif", 'quote"d name.tif', "semi;colon's.tif"):
        p = folder / odd
        p.write_bytes(data)
        expected[str(p)] = BAD_INPUT_REASONS["odd_name"]

    for leftover in (folder / "_src" / "zeiss").glob("*"):
        leftover.unlink()
    (folder / "_src" / "zeiss").rmdir()
    (folder / "_src").rmdir()
    return expected
