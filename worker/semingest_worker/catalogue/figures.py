"""The report's pictures: matplotlib (Agg, offline) figures from a ``ReportData``, as SVG text.

Each ``fig_*`` function returns one ``Figure`` (an id, a title, a caption and the SVG); a figure
without data says so in its picture instead of being left out. Text stays text in the SVG (small
files, searchable), and the figures share one palette per vendor.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")  # no display: before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .reportdata import COMPLETENESS_FIELDS, SCORE_BINS, ReportData, agreement_band  # noqa: E402
from .vocab import Agreement  # noqa: E402

_STYLE = {
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "semingest",  # stable ids: the same data gives the same SVG
}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
_AGREEMENT_COLOURS = {
    Agreement.AGREE.value: "#2ca02c",
    Agreement.DISAGREE.value: "#d62728",
    Agreement.UNREADABLE.value: "#7f7f7f",
    Agreement.NO_METADATA.value: "#bcbd22",
}
STAGE_ORDER = ("decode", "metadata", "scalebar", "inference", "thumbnails", "database")


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    caption: str
    svg: str


# One colour per vendor in every figure (the vendors the metadata readers know, then the others).
_VENDOR_COLOURS = {
    "zeiss": "#1f77b4",
    "fei": "#ff7f0e",
    "tescan": "#2ca02c",
    "jeol": "#9467bd",
    "hitachi": "#8c564b",
    "unknown": "#7f7f7f",
}


def _colours(vendors: list[str]) -> dict[str, str]:
    others = [v for v in sorted(set(vendors)) if v not in _VENDOR_COLOURS]
    extra = ("#e377c2", "#bcbd22", "#17becf", "#d62728")
    return {v: _VENDOR_COLOURS.get(v) or extra[others.index(v) % len(extra)] for v in set(vendors)}


def _svg(fig: plt.Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "semingest"})
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: inlined in HTML


def _empty(ax: plt.Axes, what: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no {what} in the database", ha="center", va="center", fontsize=11, color="#555")


def fig_pixel_agreement(data: ReportData) -> Figure:
    lo, hi = agreement_band()
    fig, (ax, dev) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
    pairs = data.pixel_pairs
    if not pairs:
        _empty(ax, "images with both pixel sizes")
        _empty(dev, "images with both pixel sizes")
    else:
        colours = _colours([p[0] for p in pairs])
        vendors = sorted(colours)
        meta = np.array([p[1] for p in pairs]) * 1e9
        ocr = np.array([p[2] for p in pairs]) * 1e9
        span = np.array([meta.min(), meta.max()])
        x = np.geomspace(span[0] / 1.5, span[1] * 1.5, 50)
        ax.fill_between(x, x * lo, x * hi, color="#2ca02c", alpha=0.25, label="±3 %")
        ax.plot(x, x, color="#2ca02c", lw=0.8)
        for v in vendors:
            sel = np.array([p[0] == v for p in pairs])
            ax.scatter(meta[sel], ocr[sel], s=12, color=colours[v], label=f"{v} ({sel.sum()})", alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("pixel size from the metadata (nm)")
        ax.set_ylabel("pixel size from the scale bar (nm)")
        ax.legend(fontsize=8, loc="upper left")
        deviation = (ocr / meta - 1) * 100
        limit = float(min(25.0, max(5.0, 1.15 * np.abs(deviation).max())))
        for i, v in enumerate(vendors):
            sel = np.array([p[0] == v for p in pairs])
            jitter = (np.arange(sel.sum()) % 7 - 3) * 0.04
            values = deviation[sel]
            inside = np.abs(values) <= limit
            dev.scatter((i + jitter)[inside], values[inside], s=10, color=colours[v], alpha=0.8)
            for marker, side in (("^", 1), ("v", -1)):  # beyond the axis: drawn at its edge
                out = values * side > limit
                dev.scatter(
                    (i + jitter)[out], np.full(out.sum(), side * limit), s=22, marker=marker, color=colours[v]
                )
        dev.axhspan(-(1 - lo) * 100, (hi - 1) * 100, color="#2ca02c", alpha=0.25)
        dev.axhline(0, color="#2ca02c", lw=0.8)
        dev.set_xticks(range(len(vendors)), vendors, rotation=30, ha="right")
        dev.set_xlim(-0.6, len(vendors) - 0.4)
        dev.set_ylim(-limit * 1.05, limit * 1.05)
        dev.set_ylabel(f"scale bar / metadata − 1 (%; ▲▼ beyond ±{limit:.0f})")
    ax.set_title("Pixel size: scale bar (OCR) vs metadata")
    dev.set_title("Deviation per vendor (band: ±3 %)")
    agree = sum(1 for _v, m, o in pairs if lo <= o / m <= hi)
    caption = (
        f"{len(pairs)} images have both a metadata and a scale-bar pixel size; {agree} agree within 3 %."
    )
    return Figure("pixel-agreement", "Pixel-size agreement", caption, _svg(fig))


def fig_agreement_by_vendor(data: ReportData) -> Figure:
    rows = data.agreement_by_vendor
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.4 * max(1, len(rows))))
    if not rows:
        _empty(ax, "images")
    else:
        vendors = list(rows)
        left = np.zeros(len(vendors))
        for kind in Agreement:
            counts = np.array([rows[v].get(kind.value, 0) for v in vendors])
            ax.barh(vendors, counts, left=left, color=_AGREEMENT_COLOURS[kind.value], label=kind.value)
            for y, (c, lft) in enumerate(zip(counts, left, strict=True)):
                if c:
                    ax.text(lft + c / 2, y, str(c), ha="center", va="center", fontsize=8, color="white")
            left += counts
        ax.invert_yaxis()
        ax.set_xlabel("images")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, ncol=4, loc="lower right", bbox_to_anchor=(1, 1))
    caption = "Per vendor: pixel sizes that agree (within 3 %), disagree, have no readable scale bar, or no metadata."
    return Figure("agreement-by-vendor", "Agreement per vendor", caption, _svg(fig))


def fig_inventory(data: ReportData) -> Figure:
    items = data.inventory[:25]
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.3 * max(1, len(items))))
    if not items:
        _empty(ax, "images")
    else:
        colours = _colours([v for v, _m, _n in items])
        labels = [f"{v} · {m}" for v, m, _n in items]
        counts = [n for _v, _m, n in items]
        bars = ax.barh(labels, counts, color=[colours[v] for v, _m, _n in items])
        ax.bar_label(bars, fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel("images")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    more = len(data.inventory) - len(items)
    caption = f"Images per vendor and instrument ({len(data.inventory)} instruments" + (
        f", the {more} smallest not drawn)." if more > 0 else ")."
    )
    return Figure("inventory", "Inventory per vendor and instrument", caption, _svg(fig))


def fig_acquisitions(data: ReportData) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 3.4))
    months = list(data.acquisitions)
    if not months:
        _empty(ax, "acquisition dates")
    else:
        years = sorted({int(m[:4]) for m in months})
        by_year = len(years) > 4
        keys = (
            [str(y) for y in range(years[0], years[-1] + 1)]
            if by_year
            else _month_range(months[0], months[-1])
        )
        vendors = sorted({v for counts in data.acquisitions.values() for v in counts})
        colours = _colours(vendors)
        bottom = np.zeros(len(keys))
        for v in vendors:
            counts = np.zeros(len(keys))
            for month, per_vendor in data.acquisitions.items():
                counts[keys.index(month[:4] if by_year else month)] += per_vendor.get(v, 0)
            ax.bar(keys, counts, bottom=bottom, color=colours[v], label=v)
            bottom += counts
        step = max(1, len(keys) // 24)
        ax.set_xticks(range(0, len(keys), step), keys[::step], rotation=45, ha="right")
        ax.set_ylabel("images acquired per " + ("year" if by_year else "month"))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    total = sum(sum(c.values()) for c in data.acquisitions.values())
    caption = f"{total} images have an acquisition date (from the metadata)."
    return Figure("acquisitions", "Acquisitions over time", caption, _svg(fig))


def _month_range(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def fig_completeness(data: ReportData) -> Figure:
    vendors = list(data.completeness)
    names = [name for name, _col in COMPLETENESS_FIELDS]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.38 * max(1, len(vendors))))
    if not vendors:
        _empty(ax, "images")
    else:
        share = np.array(
            [
                [data.completeness[v][n] / max(1, data.completeness[v]["images"]) for n in names]
                for v in vendors
            ]
        )
        ax.imshow(share * 100, cmap="Greens", vmin=0, vmax=100, aspect="auto")
        ax.grid(False)
        for i in range(len(vendors)):
            for j in range(len(names)):
                ax.text(
                    j,
                    i,
                    f"{share[i, j] * 100:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black",
                )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_yticks(range(len(vendors)), [f"{v} ({data.completeness[v]['images']})" for v in vendors])
    caption = "Share of images (%) with each metadata field, per vendor (number of images in brackets)."
    return Figure("completeness", "Metadata completeness", caption, _svg(fig))


def fig_failures(data: ReportData) -> Figure:
    items = data.failures_by_reason[:20]
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.3 * max(1, len(items))))
    if not items:
        _empty(ax, "failed files")
    else:
        bars = ax.barh([r for r, _n in items], [n for _r, n in items], color="#d62728")
        ax.bar_label(bars, fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel("files")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    total = sum(n for _r, n in data.failures_by_reason)
    caption = f"{total} files failed (not decodable, or metadata/scale bar/classifier problems), by reason."
    return Figure("failures", "Failures by reason", caption, _svg(fig))


def fig_categories(data: ReportData) -> Figure:
    fig, (ax, hist) = plt.subplots(1, 2, figsize=(10, 3.6))
    if not data.categories:
        _empty(ax, "classified images")
        _empty(hist, "classification scores")
    else:
        bars = ax.barh([c for c, _n in data.categories], [n for _c, n in data.categories], color="#9467bd")
        ax.bar_label(bars, fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel("images")
        edges = np.linspace(0, 1, SCORE_BINS + 1)
        hist.bar(edges[:-1], data.score_histogram, width=1 / SCORE_BINS, align="edge", color="#9467bd")
        hist.set_xlim(0, 1)
        hist.set_xlabel("top-1 score")
        hist.set_ylabel("images")
    ax.set_title("Category (top-1)")
    hist.set_title("Top-1 score")
    caption = (
        f"Classification by model {data.model}." if data.model else "No classification model has been run."
    )
    return Figure("categories", "Categories and scores", caption, _svg(fig))


def fig_runs(data: ReportData) -> Figure:
    runs = data.runs
    fig, (tp, st) = plt.subplots(1, 2, figsize=(10, 3.6))
    if not runs:
        _empty(tp, "runs")
        _empty(st, "runs")
    else:
        labels = [f"{i + 1}" for i in range(len(runs))]
        width = 0.6 if len(runs) > 1 else 0.3
        tp.bar(labels, [r["images_per_second"] or 0 for r in runs], color="#1f77b4", width=width)
        tp.set_xlabel("run (oldest first)")
        tp.set_ylabel("images per second")
        bottom = np.zeros(len(runs))
        stages = [s for s in STAGE_ORDER if any(s in r["stage_seconds"] for r in runs)]
        for i, stage in enumerate(stages):
            values = np.array([r["stage_seconds"].get(stage, 0.0) for r in runs])
            st.bar(labels, values, bottom=bottom, color=_PALETTE[i % len(_PALETTE)], label=stage, width=width)
            bottom += values
        for axis in (tp, st):  # one run: a bar, not the whole axis
            axis.set_xlim(-0.75, len(runs) - 0.25)
        st.set_xlabel("run (oldest first)")
        st.set_ylabel("seconds (summed over tasks)")
        st.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    tp.set_title("Throughput")
    st.set_title("Seconds per stage")
    caption = (
        f"The last {len(runs)} runs: processed images per wall-clock second, and the time each stage took."
    )
    return Figure("runs", "Throughput and stage seconds per run", caption, _svg(fig))


FIGURES: tuple[Callable[[ReportData], Figure], ...] = (
    fig_pixel_agreement,
    fig_agreement_by_vendor,
    fig_inventory,
    fig_acquisitions,
    fig_completeness,
    fig_failures,
    fig_categories,
    fig_runs,
)


def draw_all(data: ReportData) -> list[Figure]:
    with plt.rc_context(cast(Any, _STYLE)):
        return [draw(data) for draw in FIGURES]
