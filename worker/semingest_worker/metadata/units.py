"""Physical quantities written by SEM software, to SI units; and the plausible range of each.

Lengths: fm, pm, Å, nm, µm (micro sign U+00B5, Greek mu U+03BC, "u", "um", "micron"), mm, cm, m.
Voltages: mV, V, kV, MV (also "Volt", "Volts", "kVolt"). Magnifications: "105 X", "50.00 K X",
"x1.00k", "x30,000", "2.5 M X".
"""

from __future__ import annotations

import math
import re

from ..records import INSTRUMENT_FIELDS
from .values import decimal_and_rest, number_and_rest

# Length units as powers of ten of a metre; values are scaled exactly (in decimal), so
# "2.615 µm" is 2.615e-06, not 2.6150000000000004e-06.
LENGTH_UNIT_EXPONENTS: dict[str, int] = {
    "fm": -15,
    "pm": -12,
    "å": -10,
    "a": -10,
    "angstrom": -10,
    "nm": -9,
    "µm": -6,
    "um": -6,
    "u": -6,
    "micron": -6,
    "microns": -6,
    "mm": -3,
    "cm": -2,
    "m": 0,
}
VOLTAGE_UNITS_V: dict[str, float] = {
    "mv": 1e-3,
    "v": 1.0,
    "volt": 1.0,
    "volts": 1.0,
    "kv": 1e3,
    "kvolt": 1e3,
}  # "MV" (megavolt) is matched case-sensitively in parse_voltage_v

_MICRO = ("\u00b5", "\u03bc")  # micro sign, Greek small mu


def _unit_key(unit: str) -> str:
    u = unit.strip().rstrip(".*").strip()
    for micro in _MICRO:
        if u.startswith(micro):
            u = "µ" + u[1:]
    return u


def parse_length_m(text: str, default_unit: str | None = None) -> float | None:
    """``"2.615 µm"`` -> 2.615e-06; None when there is no number or the unit is unknown."""
    value, unit = decimal_and_rest(text)
    if value is None:
        return None
    key = _unit_key(unit)
    if not key:
        if default_unit is None:
            return None
        key = default_unit
    key = key.split()[0]
    if key == "M":  # never mega for a length; metres are written "m"
        return None
    exponent = LENGTH_UNIT_EXPONENTS.get(key, LENGTH_UNIT_EXPONENTS.get(key.lower()))
    if exponent is None:
        return None
    try:
        return float(value.scaleb(exponent))
    except (ArithmeticError, ValueError):
        return None


def parse_voltage_v(text: str, default_unit: str | None = None) -> float | None:
    """``"25.00 kV"`` -> 25000.0, ``"15000 Volt"`` -> 15000.0; None when unparseable."""
    value, unit = number_and_rest(text)
    if value is None:
        return None
    key = _unit_key(unit).split()[0] if _unit_key(unit) else (default_unit or "")
    if not key:
        return None
    if key == "MV":
        return value * 1e6
    factor = VOLTAGE_UNITS_V.get(key.lower())
    return value * factor if factor is not None else None


_MAG = re.compile(r"^[xX×]?\s*$")


def parse_magnification(text: str) -> float | None:
    """``"105 X"``, ``"50.00 K X"``, ``"x1.00k"``, ``"x30,000"``, ``"95"`` -> a plain number."""
    s = text.strip()
    if s[:1] in ("x", "X", "×"):
        s = s[1:]
    value, rest = number_and_rest(s)
    if value is None:
        return None
    rest = rest.replace(" ", "")
    factor = 1.0
    if rest[:1] in ("k", "K"):
        factor, rest = 1e3, rest[1:]
    elif rest[:1] == "M":
        factor, rest = 1e6, rest[1:]
    if not _MAG.match(rest):
        return None
    return value * factor


def check_range(field: str, value: float | None, key: str) -> tuple[float | None, str | None]:
    """(value, None) when plausible; (None, problem) when absurd. ``field`` names an
    ``InstrumentMeta`` field (its ``FieldSpec`` holds the range); ``key`` names the source."""
    if value is None:
        return None, None
    spec = INSTRUMENT_FIELDS[field]
    if spec.plausible is None:
        return value, None
    lo, hi = spec.plausible
    if not math.isfinite(value) or not lo <= value <= hi:
        return None, f"absurd metadata: {spec.label} {key} = {value:g} {spec.unit} outside [{lo:g}, {hi:g}]"
    return value, None
