"""Find the scale bar (a line, or a tick ruler) and the crop of its label, with OpenCV and numpy.

Inside a data bar: pixels that differ from the bar's background by more than a contrast
threshold are "ink" (text and lines). Horizontal runs longer than ~2 % of the width are the
candidate bar lines (borders spanning the width, logos and thick blocks are dropped); two
collinear halves with text between them are one FEI-style bar ``|--- 10 µm ---|``. The longest
is the scale bar. Its label is the text cluster in its gap, else directly above it, else to its
right (JEOL), else below it.

Without a data bar, or when a bar holds no line: a ruler is a row of at least six equal,
equally spaced ticks (Hitachi, older TESCAN); its label (the whole ruler's length) is the text
below or above it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from statistics import median

import cv2
import numpy as np

from .databar import DataBar
from .fields import TextBox

LIGHT_MIN = 200  # 8-bit level from which a pixel is light ink (rulers, lines over the image)
DARK_MAX = 55  # and up to which it is dark ink
INK_MIN_DIFF = 40  # a data-bar pixel is ink when it differs from the background by this much,
INK_CONTRAST_SHARE = 0.35  # and by this share of the bar's strongest contrast
MIN_BAR_CONTRAST = 60  # a data bar with less contrast holds no readable line
LABEL_HEIGHT_PX = 40  # label crops are scaled so the text is this tall (Tesseract likes 30-50 px)
LABEL_PAD_PX = 12
MIN_TICKS = 6
PARTIAL_COVER_MAX = 0.9  # a pixel beyond a bar's end covered less than this is its blurred edge
MAX_LABEL_CANDIDATES = 3
RULE_HEIGHT_SHARE = 0.8  # a component this share of the bar's height is a rule, not a glyph
RULE_WIDTH_SHARE = (
    0.3  # so is one this share of its width  # text clusters read, best placed first, until one is a length
)
# Standard uncertainty of a bar length in px: each end is located to the pixel (+-0.5 px,
# uniform: 0.29 px), and bars are drawn by the end pixels' edges or centres (+-0.5 px, uniform).
END_UNCERTAINTY_PX = 0.5 / 3**0.5
CONVENTION_UNCERTAINTY_PX = 0.5 / 3**0.5
BAR_UNCERTAINTY_PX = float(np.sqrt(2 * END_UNCERTAINTY_PX**2 + CONVENTION_UNCERTAINTY_PX**2))
RULER_UNCERTAINTY_PX = float(np.sqrt(2) * END_UNCERTAINTY_PX)  # tick centres: no convention
RULER_DIVISIONS = 10


@dataclass(frozen=True)
class Found:
    """A measured bar and its label crop (binary, black text on white), or why not."""

    style: str | None
    bar_px: float | None
    label_crop: np.ndarray | None
    reason: str | None = None
    # other text clusters that could be the label, next best by geometry first: read when the
    # first candidate is not a length at all ("SEI", "X2,000")
    alternatives: tuple[Callable[[], np.ndarray], ...] = ()  # made on demand
    bar_px_uncertainty: float | None = None  # standard uncertainty of bar_px (px)
    # the data bar's text boxes (crops made on demand: only read when a second witness is needed)
    text_boxes: Callable[[], list[TextBox]] | None = None
    # Where (absolute pixels of the image; boxes (x0, y0, x1, y1) inclusive): for the catalogue's
    # overlay only, never used for the reading itself. label_boxes: of label_crop, then of each
    # alternative.
    bar_box: tuple[int, int, int, int] | None = None
    bar_ends: tuple[float, float] | None = None
    label_boxes: tuple[tuple[int, int, int, int], ...] = ()
    databar_rows: tuple[int, int] | None = None  # (first row, one past the last) of the data bar


@dataclass(frozen=True)
class _Line:
    x0: int
    x1: int  # inclusive
    y0: int
    y1: int  # inclusive
    gap: tuple[int, int] | None = None

    @property
    def length(self) -> int:
        return self.x1 - self.x0 + 1


def _subpixel_ends(diff: np.ndarray, line: _Line) -> float:
    """The sub-pixel correction of a bar's integer length from its edge profile: the bar's
    contrast, averaged over its rows, gives each end pixel's coverage; a partly covered pixel
    just outside an end adds its share, a partly covered end pixel loses its missing share
    (antialiased or blurred ends, resized images). Pixels outside that are fully covered belong
    to something else (a glyph touching the bar) and add nothing."""
    if line.length < 6:
        return 0.0
    rows = diff[line.y0 : line.y1 + 1].astype(np.float32).mean(axis=0)
    level = float(np.median(rows[line.x0 + 2 : line.x1 - 1]))
    if level <= 0:
        return 0.0
    cover = np.clip(rows / level, 0.0, 1.0)
    delta = 0.0
    for end, out in ((line.x0, line.x0 - 1), (line.x1, line.x1 + 1)):
        delta -= 1.0 - float(cover[end])
        if 0 <= out < cover.size and cover[out] < PARTIAL_COVER_MAX:
            delta += float(cover[out])
    return float(np.clip(delta, -1.0, 1.0))


def _end_ticks(ink: np.ndarray, line: _Line) -> float:
    """Bar length between the centres of its end ticks (a plain bar's end columns count as
    one-pixel ticks): the convention of Zeiss, FEI, TESCAN and JEOL bars."""
    h = ink.shape[0]

    def rows(r0: int, r1: int) -> np.ndarray:  # ink in every row r0..r1-1 (False when outside)
        if r0 < 0 or r1 > h or r1 <= r0:
            return np.zeros(ink.shape[1], bool)
        return ink[r0:r1].all(axis=0).astype(bool)

    outside = (
        rows(line.y0 - 3, line.y0)
        | rows(line.y1 + 1, line.y1 + 4)
        | (rows(line.y0 - 1, line.y0) & rows(line.y1 + 1, line.y1 + 2))
    )

    def width_from(x: int, step: int) -> int:
        n = 0
        while 0 <= x + n * step < ink.shape[1] and outside[x + n * step] and n < 8:
            n += 1
        return max(1, n)

    tl, tr = width_from(line.x0, 1), width_from(line.x1, -1)
    return line.x1 - line.x0 + 1 - (tl + tr) / 2


def _ink(region: np.ndarray, background: int) -> tuple[np.ndarray, np.ndarray, int]:
    diff = cv2.absdiff(region, np.full_like(region, background))
    contrast = int(diff.max()) if diff.size else 0
    thr = max(INK_MIN_DIFF, int(INK_CONTRAST_SHARE * contrast))
    return (diff > thr).astype(np.uint8), diff, contrast


def _horizontal_lines(ink: np.ndarray, width: int, ink_lab: np.ndarray, ink_stats: np.ndarray) -> list[_Line]:
    h = ink.shape[0]
    k = max(13, round(0.01 * width) * 2 + 1)  # odd: the opening keeps run ends in place
    opened = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, k), np.uint8))
    n, _lab, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    lines = []
    for i in range(1, n):
        x, y, cw, ch, _area = (int(v) for v in stats[i])
        if cw >= 0.9 * width or ch > max(3, 0.3 * h) or cw < 3 * ch:
            continue
        owner = int(ink_lab[y + ch // 2, x + cw // 2])
        if owner and ink_stats[owner, cv2.CC_STAT_HEIGHT] >= 0.6 * h:
            continue  # a table rule joined to the grid or the border, not a scale bar
        lines.append(_Line(x, x + cw - 1, y, y + ch - 1))
    # FEI: two collinear halves with the label between them
    merged = []
    lines.sort(key=lambda ln: ln.x0)
    for i, a in enumerate(lines):
        for b in lines[i + 1 :]:
            gap0, gap1 = a.x1 + 1, b.x0 - 1
            if gap1 < gap0 or gap1 - gap0 > 0.6 * width:
                continue
            if abs((a.y0 + a.y1) - (b.y0 + b.y1)) > 4 or abs((a.y1 - a.y0) - (b.y1 - b.y0)) > 2:
                continue
            if min(a.length, b.length) < 0.4 * max(a.length, b.length):
                continue
            th = max(3, a.y1 - a.y0 + 1)
            between = ink[max(0, a.y0 - 4 * th) : a.y1 + 4 * th + 1, gap0 : gap1 + 1]
            if between.any():
                merged.append(_Line(a.x0, b.x1, min(a.y0, b.y0), max(a.y1, b.y1), (gap0, gap1)))
    return merged + lines


def _clusters(
    glyphs: np.ndarray, heights: list[int] | None = None, barrier: np.ndarray | None = None
) -> tuple[int, np.ndarray, np.ndarray]:
    """Group glyphs into words/phrases (horizontal proximity only; never across a table rule,
    ``barrier``)."""
    if heights is None:
        n, _lab, stats, _ = cv2.connectedComponentsWithStats(glyphs, connectivity=8)
        heights = [int(stats[i, cv2.CC_STAT_HEIGHT]) for i in range(1, n)]
    heights = [h for h in heights if h >= 4]
    text_h = float(median(heights)) if heights else 8.0
    dx = max(3, round(text_h))
    joined = cv2.dilate(glyphs, np.ones((1, dx), np.uint8))
    if barrier is not None:
        joined[(barrier > 0) & (glyphs == 0)] = 0
    return cv2.connectedComponentsWithStats(joined, connectivity=8)[:3]


def _pick_label(stats: np.ndarray, n: int, line: _Line, width: int, prefer_right: bool) -> list[list[int]]:
    """Text clusters that can be the bar's label, best first: everything in the bar's gap (one
    label however its words are spaced), centred above it, right of it at its height (JEOL),
    left of it at its height, below it."""
    cands = []
    centre = (line.x0 + line.x1) / 2
    for i in range(1, n):
        x, y, cw, ch, _area = (int(v) for v in stats[i])
        if ch < 4:
            continue
        cx, x1, y1 = x + cw / 2, x + cw - 1, y + ch - 1
        overlap = min(x1, line.x1) - max(x, line.x0) + 1
        if (
            line.gap
            and line.gap[0] - 2 <= cx <= line.gap[1] + 2
            and y - 2 <= (line.y0 + line.y1) / 2 <= y1 + 2
        ):
            cands.append((0, 0, i))  # joined below
        elif y1 <= line.y1 + 1 and line.y0 - y1 <= 3 * ch and overlap >= 0.5 * cw:
            cands.append((1, abs(cx - centre), i))  # centred above the bar best
        elif (
            x >= line.x1
            and x - line.x1 <= 0.2 * width
            and abs(y + ch / 2 - (line.y0 + line.y1) / 2) <= 0.6 * ch
        ):
            cands.append((0.5 if prefer_right else 2, x - line.x1, i))
        elif y >= line.y0 and y - line.y1 <= 3 * ch and overlap > 0:
            cands.append((3, abs(cx - centre), i))  # centred below the bar best
        elif (
            x1 <= line.x0
            and line.x0 - x1 <= 0.2 * width
            and abs(y + ch / 2 - (line.y0 + line.y1) / 2) <= 0.6 * ch
        ):
            cands.append((2.5, line.x0 - x1, i))
    in_gap = [i for k, _d, i in cands if k == 0]
    rest = [[i] for k, _d, i in sorted(cands) if k != 0]
    return ([in_gap] if in_gap else []) + rest[: MAX_LABEL_CANDIDATES - (1 if in_gap else 0)]


def _clean_member(member: np.ndarray) -> np.ndarray:
    """Drop specks that are not part of the label: small blobs before the first or after the
    last full-height glyph, and blobs lying entirely below the baseline."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(member.astype(np.uint8), connectivity=8)
    if n <= 2:
        return member
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    tall = [i for i in range(1, n) if stats[i, cv2.CC_STAT_HEIGHT] >= 0.6 * heights.max()]
    text_h = float(median([int(stats[i, cv2.CC_STAT_HEIGHT]) for i in tall]))  # small lists: not np.median
    baseline = float(median([int(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT]) for i in tall]))
    left = min(stats[i, cv2.CC_STAT_LEFT] for i in tall)
    right = max(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] for i in tall)
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, cw, ch = (int(v) for v in stats[i, :4])
        small = ch < 0.3 * text_h
        leading = x + cw <= left and ch < 0.6 * text_h  # labels start with a digit
        trailing = x >= right and small  # a trailing "*" is kept
        below = y >= baseline - 0.05 * text_h
        # a big blob starting low and hanging under the baseline is content, not a glyph
        hanging = y >= baseline - 0.35 * text_h and y + ch > baseline + 0.2 * text_h and ch >= 0.5 * text_h
        keep[i] = not (leading or trailing or hanging or (below and small))
    return keep[lab] & (member > 0)


def _normalise_crop(diff: np.ndarray, member: np.ndarray, contrast: int) -> np.ndarray:
    """Black text on white, text LABEL_HEIGHT_PX tall, padded, binarised."""
    ys, xs = np.nonzero(member)  # work on the member's box only (the region is much larger)
    by0, by1, bx0, bx1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    diff, member = diff[by0:by1, bx0:bx1], _clean_member(member[by0:by1, bx0:bx1])
    ys, xs = np.nonzero(member)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = diff[y0:y1, x0:x1].astype(np.float32) * (member[y0:y1, x0:x1] > 0)
    crop = 255.0 - np.clip(crop * (255.0 / max(contrast, 1)), 0, 255)
    scale = LABEL_HEIGHT_PX / max(1, y1 - y0)
    crop = cv2.resize(
        crop, (max(1, round((x1 - x0) * scale)), LABEL_HEIGHT_PX), interpolation=cv2.INTER_CUBIC
    )
    binary = np.clip(crop, 0, 255).astype(np.uint8)  # smooth: Tesseract LSTM reads grey
    return cv2.copyMakeBorder(
        binary, LABEL_PAD_PX, LABEL_PAD_PX, LABEL_PAD_PX, LABEL_PAD_PX, cv2.BORDER_CONSTANT, value=255
    )


def _style(bar: DataBar, line: _Line, label_rule: float) -> str:
    if not bar.dark:
        return "zeiss_light"
    if line.gap:
        return "fei"
    if label_rule < 1:
        return "jeol"
    return "zeiss_black" if bar.background < 25 else "tescan"


def _line_geometry(line: _Line, top: int, bar_px: float) -> dict:
    """The line's box in image rows (``top``: the region's first row) and its measured ends
    (centred on the line, ``bar_px`` apart)."""
    centre = (line.x0 + line.x1) / 2
    return {
        "bar_box": (line.x0, line.y0 + top, line.x1, line.y1 + top),
        "bar_ends": (centre - bar_px / 2, centre + bar_px / 2),
    }


def _clusters_slices(cstats: np.ndarray, pick: list[int]) -> tuple[slice, slice]:
    """(rows, columns) of the box around the clusters ``pick``: every pixel of theirs lies in it,
    so a mask built there instead of over the whole region is the same crop at a fraction of
    the cost (the region is the data bar's full width)."""
    x0 = min(int(cstats[i][0]) for i in pick)
    y0 = min(int(cstats[i][1]) for i in pick)
    x1 = max(int(cstats[i][0] + cstats[i][2]) for i in pick)
    y1 = max(int(cstats[i][1] + cstats[i][3]) for i in pick)
    return slice(y0, y1), slice(x0, x1)


def _cluster_box(cstats: np.ndarray, pick: list[int], top: int) -> tuple[int, int, int, int]:
    """The box around the clusters ``pick`` (region rows; ``top``: the region's first image row)."""
    x0 = min(int(cstats[i][0]) for i in pick)
    y0 = min(int(cstats[i][1]) for i in pick)
    x1 = max(int(cstats[i][0] + cstats[i][2]) - 1 for i in pick)
    y1 = max(int(cstats[i][1] + cstats[i][3]) - 1 for i in pick)
    return x0, y0 + top, x1, y1 + top


def in_databar(
    band8: np.ndarray, offset: int, bar: DataBar, vendor: str | None, line: _Line | None = None
) -> Found:
    """The scale bar in a data bar (the longest bar line, an FEI split line first) and its label
    candidates; ``line`` (rows relative to the bar) when the caller found the line already."""
    region = band8[bar.top - offset : bar.bottom - offset]
    width = region.shape[1]
    ink, diff, contrast = _ink(region, bar.background)
    if contrast < MIN_BAR_CONTRAST:
        return Found(None, None, None, "scale bar line not found in data bar (no contrast)")
    n, lab, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if line is None:
        lines = _horizontal_lines(ink, width, lab, stats)
        if not lines:
            return Found(None, None, None, "scale bar line not found in data bar")
        line = max(lines, key=lambda ln: (ln.gap is not None, ln.length))
    spans = [(line.x0, line.gap[0]), (line.gap[1] + 1, line.x1 + 1)] if line.gap else [(line.x0, line.x1 + 1)]
    line_ids = set()
    for a, b in spans:
        line_ids |= set(lab[line.y0 : line.y1 + 1, a:b].ravel().tolist())
    line_ids.discard(0)
    # table rules and borders (runs spanning most of the bar's height, or a good part of its
    # width) are not glyphs: left in, they join every label into one cluster. Only their pixels
    # go: a µ whose tail touches a rule keeps its glyph.
    h_region = region.shape[0]
    rules = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, np.ones((1, max(3, round(RULE_WIDTH_SHARE * width))), np.uint8)
    ) | cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, np.ones((max(3, round(RULE_HEIGHT_SHARE * h_region)), 1), np.uint8)
    )
    glyphs = ink.copy()
    if line_ids:
        glyphs[np.isin(lab, list(line_ids))] = 0
    glyphs[rules > 0] = 0
    others = [int(stats[i, cv2.CC_STAT_HEIGHT]) for i in range(1, n) if i not in line_ids]
    nc, clab, cstats = _clusters(glyphs, others, rules)
    picks = _pick_label(cstats, nc, line, width, prefer_right=vendor == "jeol")
    bar_px = _end_ticks(ink, line) + _subpixel_ends(diff, line)
    where = _line_geometry(line, bar.top, bar_px)
    if not picks:
        return Found(
            None,
            bar_px,
            None,
            "label not found next to the scale bar",
            bar_px_uncertainty=BAR_UNCERTAINTY_PX,
            **where,
        )

    def crop_of(pick: list[int]) -> Callable[[], np.ndarray]:
        def crop() -> np.ndarray:
            box = _clusters_slices(cstats, pick)
            member = (np.isin(clab[box], pick) & (glyphs[box] > 0)).astype(np.uint8)
            return _normalise_crop(diff[box], member, contrast)

        return crop

    crops = [crop_of(p) for p in picks]

    def text_boxes() -> list[TextBox]:
        out = []
        for i in range(1, nc):
            bx, by, bw, bh, _a = (int(v) for v in cstats[i])
            if bh < 4 or bw < 4:
                continue
            box = _clusters_slices(cstats, [i])
            member = ((clab[box] == i) & (glyphs[box] > 0)).astype(np.uint8)
            if member.any():
                out.append(TextBox(bx, by, bw, bh, _normalise_crop(diff[box], member, contrast)))
        return sorted(out, key=lambda b: (b.y, b.x))

    x, y, cw, ch = (int(v) for v in cstats[picks[0][0]][:4])
    rule = 0 if line.gap else (1 if y + ch - 1 <= line.y1 + 1 else (0.5 if x >= line.x1 else 3))
    return Found(
        _style(bar, line, rule),
        bar_px,
        crops[0](),
        alternatives=tuple(crops[1:]),
        bar_px_uncertainty=BAR_UNCERTAINTY_PX,
        text_boxes=text_boxes,
        label_boxes=tuple(_cluster_box(cstats, p, bar.top) for p in picks),
        **where,
    )


def _tick_rows(stats: np.ndarray, n: int, width: int) -> list[tuple[list[tuple[int, int, int, int]], float]]:
    ticks = []
    max_w = max(3, round(width / 150))
    for i in range(1, n):
        x, y, cw, ch, area = (int(v) for v in stats[i])
        if cw <= max_w and 4 <= ch <= 60 and ch >= 1.5 * cw and area >= 0.6 * cw * ch:
            ticks.append((x, y, cw, ch))
    ticks.sort()
    rulers = []
    used: set[int] = set()
    for i, a in enumerate(ticks):
        if i in used:
            continue
        row = [
            j
            for j, t in enumerate(ticks)
            if abs(t[1] - a[1]) <= 3 and abs(t[3] - a[3]) <= 3 and abs(t[2] - a[2]) <= 2
        ]
        if len(row) < MIN_TICKS:
            continue
        xs = [ticks[j] for j in row]
        # longest chain with constant spacing starting anywhere in the row
        best: list[tuple[int, int, int, int]] = []
        best_step = 0.0
        for s in range(len(xs) - 1):
            for t in range(s + 1, min(s + 4, len(xs))):
                step = xs[t][0] - xs[s][0]
                if step < 3 * xs[s][2] or step > width / 5:
                    continue
                chain = [xs[s], xs[t]]
                for c in xs[t + 1 :]:
                    d = c[0] - chain[-1][0]
                    tol = max(2, 0.06 * step)
                    # up to two ticks in a row may be lost (joined to bright content under them)
                    if any(abs(d - m * step) <= m * tol for m in (1, 2, 3)):
                        chain.append(c)
                    elif d > step * 3.5:
                        break
                if len(chain) > len(best):
                    best, best_step = chain, float(step)
        if len(best) >= MIN_TICKS:
            divisions = round((best[-1][0] - best[0][0]) / best_step)
            rulers.append((best, (best[-1][0] - best[0][0]) / divisions))
            used.update(row)
    return rulers


def ruler(band8: np.ndarray, offset: int) -> Found | None:
    """A tick ruler in the bottom band: its whole length and the label below or above it."""
    width = band8.shape[1]
    for bright in (True, False):
        mask = (band8 >= LIGHT_MIN) if bright else (band8 <= DARK_MAX)
        mask = mask.astype(np.uint8)
        # ticks standing on a base line or inside a frame (TESCAN) are cut free of it: the
        # horizontal runs go, the vertical ticks stay
        k = max(13, round(0.02 * width))
        ticks = mask & ~cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, k), np.uint8))
        n, _lab, stats, _ = cv2.connectedComponentsWithStats(ticks, connectivity=8)
        rulers = _tick_rows(stats, n, width)
        if not rulers:
            continue
        chain, step = max(rulers, key=lambda r: len(r[0]))
        y0 = min(t[1] for t in chain)
        y1 = max(t[1] + t[3] - 1 for t in chain)
        tick_h = y1 - y0 + 1
        tick_w = chain[0][2]
        first, last = float(chain[0][0]), float(chain[-1][0])

        def bright_share(x: float, mask=mask, rows=(y0, y1 + 1), tick_w=tick_w) -> float:
            a = round(x)
            if a < 0 or a + tick_w > width:
                return 0.0
            return float(mask[rows[0] : rows[1], a : a + tick_w].mean())

        # End ticks lost in bright content under them: extend while the next predicted tick
        # position is covered, up to the usual 10 divisions (Hitachi: 11 ticks).
        divisions = round((last - first) / step)
        while divisions < RULER_DIVISIONS:
            if bright_share(first - step) >= 0.6:
                first -= step
            elif bright_share(last + step) >= 0.6:
                last += step
            else:
                break
            divisions += 1
        clean_ends = bright_share(first - step) < 0.1 and bright_share(last + step) < 0.1
        if divisions != RULER_DIVISIONS and not clean_ends:
            return Found("ruler", None, None, f"ruler ends uncertain ({divisions} divisions seen)")
        x0, x1 = round(first), round(last) + tick_w - 1
        length = last - first  # between the end ticks' centres
        where = {
            "bar_box": (x0, y0 + offset, x1, y1 + offset),
            "bar_ends": (first + tick_w / 2, last + tick_w / 2),
        }
        # the label: below the ruler (Hitachi), else above it. Labels drawn over the image are as
        # bright (dark) as the ticks: a threshold close to the ticks' level drops the texture.
        tick_px = np.concatenate([band8[t[1] : t[1] + t[3], t[0] : t[0] + t[2]].ravel() for t in chain])
        level = int(np.median(tick_px))
        for top, bottom in ((y1 + 1, y1 + 1 + 4 * tick_h + 10), (max(0, y0 - 4 * tick_h - 10), y0)):
            left, right = max(0, x0 - int(length) // 3), min(width, x1 + 1 + int(length) // 10)
            sub = band8[top:bottom, left:right]
            if sub.size == 0:
                continue
            ink = ((sub >= level - 25) if bright else (sub <= level + 25)).astype(np.uint8)
            nc, clab, cstats = _clusters(ink)
            best = None
            for i in range(1, nc):
                x, y, cw, ch, _a = (int(v) for v in cstats[i])
                if ch < max(6, tick_h // 2) or cw < ch:
                    continue
                if best is None or cw * ch > best[1]:
                    best = (i, cw * ch)
            if best is None:
                continue
            box = _clusters_slices(cstats, [best[0]])
            member = ((clab[box] == best[0]) & (ink[box] > 0)).astype(np.uint8)
            bx, by, bw, bh = (int(v) for v in cstats[best[0]][:4])
            return Found(
                "ruler",
                float(length),
                _normalise_crop(member * 255, member, 255),
                bar_px_uncertainty=RULER_UNCERTAINTY_PX,
                label_boxes=((bx + left, by + top + offset, bx + bw - 1 + left, by + bh - 1 + top + offset),),
                **where,
            )
        return Found("ruler", float(length), None, "ruler found but its label was not", **where)
    return None


OVERLAY_MIN_LENGTH_SHARE = 0.03  # a scale bar drawn on the image is at least this share of the width
OVERLAY_MAX_LENGTH_SHARE = 0.6
OVERLAY_MAX_THICKNESS_SHARE = 0.02  # and at most this share of the image height thick
OVERLAY_CLEAR_SHARE = 0.9  # the rows just above and below it are this share background
OVERLAY_MARGIN_SHARE = 0.06  # the text around it is searched this share of the height above/below
OVERLAY_CANDIDATES = 3


def overlay(band8: np.ndarray, offset: int, full_height: int, vendor: str | None) -> Iterator[Found]:
    """A scale bar without a full-width data bar: a light (dark) line or solid bar on a locally
    uniform dark (light) background, drawn over the image (legacy FEI/Philips XL30 boxes) or in a
    bar whose background the image content shares (JEOL). Each such line, longest first, is read
    as a small data bar of its own; the label grammar and the vote reject text that is no label.
    A generator: the caller stops at the first candidate that reads."""
    h, width = band8.shape
    k = max(13, round(0.01 * width) * 2 + 1)
    max_th = max(3, round(OVERLAY_MAX_THICKNESS_SHARE * full_height))
    margin = max(20, round(OVERLAY_MARGIN_SHARE * full_height))
    for bright in (True, False):
        mask = ((band8 >= LIGHT_MIN) if bright else (band8 <= DARK_MAX)).astype(np.uint8)
        opposite = (band8 <= DARK_MAX) if bright else (band8 >= LIGHT_MIN)
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, k), np.uint8))
        n, _lab, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        cands = []
        for i in range(1, n):
            x, y, cw, ch, _a = (int(v) for v in stats[i])
            if not (
                OVERLAY_MIN_LENGTH_SHARE * width <= cw <= OVERLAY_MAX_LENGTH_SHARE * width and ch <= max_th
            ):
                continue
            above = opposite[max(0, y - 3) : y, x : x + cw]
            below = opposite[y + ch : y + ch + 3, x : x + cw]
            if above.size == 0 or below.size == 0:
                continue
            if min(above.mean(), below.mean()) < OVERLAY_CLEAR_SHARE:
                continue
            cands.append((cw, x, y, ch))
        for cw, x, y, ch in sorted(cands, reverse=True)[:OVERLAY_CANDIDATES]:
            top, bottom = max(0, y - margin), min(h, y + ch + margin)
            around = band8[top:bottom]
            background = int(np.bincount(around[opposite[top:bottom]].ravel(), minlength=256).argmax())
            bar = DataBar(top + offset, bottom + offset, background, not bright)
            line = _Line(x, x + cw - 1, y - top, y + ch - 1 - top)
            found = in_databar(band8, offset, bar, vendor, line)
            if found.label_crop is not None:
                yield Found(
                    "overlay",
                    found.bar_px,
                    found.label_crop,
                    None,
                    found.alternatives,
                    found.bar_px_uncertainty,
                    bar_box=found.bar_box,
                    bar_ends=found.bar_ends,
                    label_boxes=found.label_boxes,
                )
