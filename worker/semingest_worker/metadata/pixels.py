"""The pixel size of the SAVED image, checked against every other geometry the vendor states.

A vendor states some of: pixel widths/heights (Zeiss ``AP_IMAGE_PIXEL_SIZE``/``AP_PIXEL_SIZE``,
FEI ``[Scan] PixelWidth``), the scanned field (Zeiss ``AP_WIDTH``, FEI ``HorFieldsize``), the
scan's size in pixels (FEI ``ResolutionX``, JEOL ``$CM_FULL_SIZE``, Zeiss ``DP_IMAGE_STORE``) and
the rows of the data bar below the scan (FEI ``DatabarHeight``, TESCAN ``ImageStripSize``). A
saved image may differ from the scan (downscaled on export, a bar appended below it), so a stated
pixel size is only taken when it agrees with the field divided by the saved image's width:

1. a stated pixel size that agrees with ``field width / image width`` is taken (the first that
   does, in the vendor's order): it describes the saved pixels;
2. none agrees, but the stated pixel size times the scan's width does (the scan width stated, or
   inferred as ``field / pixel`` and confirmed by the height): the image is a rescaled save and
   ``field width / image width`` is taken, with the reason;
3. otherwise the values contradict each other: no pixel size, and a problem says why;
4. without a field width, a stated pixel size is rescaled by ``scan width / image width`` when
   the scan width is stated, else taken unchecked (the provenance says so).

The same rules give the pixel height (field height over the rows that show the scan), and the
data bar's height is the image height minus the scan's rows when the scan height is stated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Relative agreement: vendors print 4 significant digits (<= 0.05 % rounding); a real mismatch
# is a different scan size (a factor such as 2), far outside this.
TOLERANCE = 0.01


@dataclass(frozen=True)
class Stated:
    """A value as the vendor states it, and the key it was read from."""

    key: str
    value: float


@dataclass(frozen=True)
class PixelEvidence:
    """All geometry one vendor's metadata states about an image (lengths in m, sizes in px)."""

    x: tuple[Stated, ...] = ()  # pixel widths, in the vendor's order of preference
    y: tuple[Stated, ...] = ()  # pixel heights
    field_width: Stated | None = None
    field_height: Stated | None = None
    scan_width: Stated | None = None
    scan_height: Stated | None = None
    bar_rows: Stated | None = None  # rows the vendor says it appended below the scan


@dataclass(frozen=True)
class Finding:
    value: float
    key: str
    why: str


@dataclass(frozen=True)
class PixelDecision:
    x: Finding | None = None
    y: Finding | None = None
    bar_rows: Finding | None = None
    notes: tuple[tuple[str, str], ...] = ()  # (field, why) for values deliberately not stored
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeometryRule:
    """Keys of one kind of evidence and their parser (text -> m or px; None when unparseable).

    For ``x``/``y`` every key present is a candidate; for the others the first key present wins.
    """

    keys: tuple[str, ...]
    parse: Callable[[str], float | None]
    expected: str = "a number"


GEOMETRY_KINDS = ("x", "y", "field_width", "field_height", "scan_width", "scan_height", "bar_rows")


def evidence(values: Mapping[str, str], rules: Mapping[str, GeometryRule]) -> tuple[PixelEvidence, list[str]]:
    """The evidence a vendor's geometry table finds in its flat ``key -> text`` values, and the
    problems (unparseable values). Field and scan sizes <= 0 are not evidence (not stated)."""
    unknown = set(rules) - set(GEOMETRY_KINDS)
    if unknown:
        raise ValueError(f"unknown geometry kinds: {sorted(unknown)}")
    found: dict[str, list[Stated]] = {}
    problems: list[str] = []
    for kind, rule in rules.items():
        for key in rule.keys:
            text = values.get(key)
            if not text:
                continue
            value = rule.parse(text)
            if value is None or not math.isfinite(value):
                problems.append(f"unparseable metadata: {key} = {text!r} (expected {rule.expected})")
            elif kind in ("x", "y") or value > 0 or (kind == "bar_rows" and value == 0):
                found.setdefault(kind, []).append(Stated(key, value))
    first = {kind: stated[0] for kind, stated in found.items()}
    ev = PixelEvidence(
        x=tuple(found.get("x", ())),
        y=tuple(found.get("y", ())),
        field_width=first.get("field_width"),
        field_height=first.get("field_height"),
        scan_width=first.get("scan_width"),
        scan_height=first.get("scan_height"),
        bar_rows=first.get("bar_rows"),
    )
    return ev, problems


def agree(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b))


def length(value: float) -> str:
    """``2.615e-06`` -> ``'2.615 µm'`` (4 significant digits, for reasons)."""
    for unit, scale in (("mm", 1e-3), ("µm", 1e-6), ("nm", 1e-9), ("pm", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.4g} m"


def reconcile(ev: PixelEvidence, width: int, height: int) -> PixelDecision:
    """The saved image's pixel width and height and the data bar rows, each with its reason."""
    if width <= 0 or height <= 0:
        return PixelDecision(problems=(f"image size {width} x {height} px: no pixel size",))
    problems: list[str] = []
    notes: list[tuple[str, str]] = []
    scale = width / ev.scan_width.value if ev.scan_width else None
    x = _pixel_width(ev, width, height, scale, problems)
    rows, bar = _scan_rows(ev, height, scale, problems, notes)
    if (
        rows is None
        and x is not None
        and ev.field_width is None
        and scale is not None
        and not agree(scale, 1.0)
    ):
        # The rows contradict a uniform rescale, and the width's rescale has no field to confirm it.
        problems.append(f"pixel size {x.key} not stored: the image is not a uniform rescale of the scan")
        x = None
    y = _pixel_height(ev, rows, scale, x, problems, notes)
    return PixelDecision(x, y, bar, tuple(notes), tuple(problems))


def _pixel_width(
    ev: PixelEvidence, width: int, height: int, scale: float | None, problems: list[str]
) -> Finding | None:
    field_w = ev.field_width
    if field_w is not None:
        witness = field_w.value / width
        key = f"{field_w.key} / image width"
        numbers = f"{length(field_w.value)} / {width} px = {length(witness)}"
        by_field = f"{key} = {numbers}"
        for stated in ev.x:
            if agree(stated.value, witness):
                return Finding(stated.value, stated.key, f"agrees with {by_field}")
        if not ev.x:
            return Finding(witness, key, f"{numbers} (no pixel size stated)")
        stated = ev.x[0]
        rescaled = _rescaled_save(ev, stated, witness, width, height)
        if rescaled is not None:
            return Finding(witness, key, f"{numbers}; {rescaled}")
        problems.append(
            f"inconsistent metadata: pixel size {stated.key} = {length(stated.value)} but {by_field} "
            f"({_ratio(witness, stated.value)}) and no scan size reconciles them; no pixel size stored"
        )
        return None
    if not ev.x:
        return None
    stated = ev.x[0]
    if scale is None:
        return Finding(stated.value, stated.key, "not cross-checked: no field width or scan width stated")
    scan = ev.scan_width
    assert scan is not None
    if agree(scale, 1.0):
        return Finding(stated.value, stated.key, f"image width {width} px = {scan.key} {scan.value:g} px")
    return Finding(
        stated.value / scale,
        f"{stated.key} x {scan.key} / image width",
        f"{length(stated.value)} for the {scan.value:g} px scan, saved {width} px wide: rescaled",
    )


def _rescaled_save(ev: PixelEvidence, stated: Stated, witness: float, width: int, height: int) -> str | None:
    """Why ``witness`` (field / image width) is right although ``stated`` differs: the stated
    pixel belongs to a scan of another size, of which the image is a uniform rescale; or None."""
    scan = ev.scan_width
    if scan is not None:
        if agree(stated.value * scan.value / width, witness):
            return (
                f"{stated.key} = {length(stated.value)} is for the {scan.value:g} px wide scan "
                f"({scan.key}); the image is saved {width} px wide"
            )
        return None
    field_h = ev.field_height
    if field_h is None or stated.value <= 0:
        return None
    factor = witness / stated.value
    whole = round(factor) if factor >= 1 else round(1 / factor)
    rescaled_by_whole_factor = whole >= 2 and agree(factor if factor >= 1 else 1 / factor, whole)
    if rescaled_by_whole_factor and agree(field_h.value / height, witness):
        scan_w, scan_h = witness * width / stated.value, field_h.value / stated.value
        return (
            f"{stated.key} = {length(stated.value)} describes a {scan_w:.0f} x {scan_h:.0f} px scan "
            f"(field / {stated.key}); the image is saved {width} x {height} px, a whole-factor rescale "
            f"({factor:.3g}x) that {field_h.key} / {height} rows confirms"
        )
    return None


def _scan_rows(
    ev: PixelEvidence, height: int, scale: float | None, problems: list[str], notes: list[tuple[str, str]]
) -> tuple[float | None, Finding | None]:
    """Rows of the saved image that show the scan, and the rows of the data bar below it.

    Fewer rows than the scan: at the scan's width the image was cropped (a note; the pixel size
    is unaffected); at another width the rescale is in doubt (a problem)."""
    declared = ev.bar_rows
    if ev.scan_height is not None and scale is not None:
        rows = ev.scan_height.value * scale
        bar = height - rows
        if bar < -TOLERANCE * height:
            fewer = (
                f"the image has {height} rows, fewer than the scan's "
                f"{ev.scan_height.key} = {ev.scan_height.value:g} rows at this width"
            )
            if agree(scale, 1.0):
                notes.append(("databar_height_px", f"not stored: {fewer} (cropped)"))
            else:
                problems.append(f"inconsistent metadata: {fewer}")
            return None, None
        bar_rows = max(0, round(bar))
        key = f"image height - {ev.scan_height.key}"
        basis = f"{height} - {rows:g} rows"
        if declared is not None and abs(declared.value - bar_rows) <= 1:
            return rows, Finding(declared.value, declared.key, f"= {basis}")
        if declared is not None:
            return rows, Finding(bar_rows, key, f"{basis} ({declared.key} = {declared.value:g} disagrees)")
        return rows, (Finding(bar_rows, key, basis) if bar_rows > 0 else None)
    if declared is not None:
        if not 0 <= declared.value < height:
            problems.append(
                f"inconsistent metadata: {declared.key} = {declared.value:g} rows, image height {height}"
            )
            return None, None
        return height - declared.value, Finding(declared.value, declared.key, "")
    return float(height), None


def _pixel_height(
    ev: PixelEvidence,
    rows: float | None,
    scale: float | None,
    x: Finding | None,
    problems: list[str],
    notes: list[tuple[str, str]],
) -> Finding | None:
    field_h = ev.field_height
    if field_h is not None and rows:
        witness = field_h.value / rows
        key = f"{field_h.key} / scan rows"
        numbers = f"{length(field_h.value)} / {rows:g} = {length(witness)}"
        by_field = f"{key} = {numbers}"
        for stated in ev.y:
            if agree(stated.value, witness):
                return Finding(stated.value, stated.key, f"agrees with {by_field}")
        for stated in ev.y:
            if scale is not None and agree(stated.value / scale, witness):
                why = f"{numbers}; {stated.key} = {length(stated.value)} is for the scan, saved rescaled"
                return Finding(witness, key, why)
        if ev.y:
            stated = ev.y[0]
            problems.append(
                f"inconsistent metadata: pixel height {stated.key} = {length(stated.value)} but {by_field}; "
                "no pixel height stored"
            )
            return None
        if x is not None and agree(witness, x.value):
            return Finding(x.value, key, f"{numbers}: square pixels, the pixel width is kept")
        if ev.scan_height is not None:
            return Finding(witness, key, numbers)
        notes.append(
            (
                "pixel_size_y_m",
                f"not stored: {by_field} differs from the pixel width and no scan height is stated "
                "(the rows may include a data bar)",
            )
        )
        return None
    if not ev.y:
        return None
    stated = ev.y[0]
    if scale is None or agree(scale, 1.0):
        why = "not cross-checked: no field height stated" if scale is None else "saved at the scan's size"
        return Finding(stated.value, stated.key, why)
    return Finding(stated.value / scale, f"{stated.key} x scan width / image width", "rescaled save")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b else "stated as 0"
