"""Kubernetes resource quantities: parse ``"1.5Gi"``, ``"500m"``, ``"2"`` and format them back.

CPU is handled in millicores (int), memory in bytes (int). Spark's own memory strings use
``m``/``g`` for MiB/GiB (``"1024m"``), which is *not* the Kubernetes meaning of ``m``; the
``spark_*`` helpers produce those.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
            "P": Decimal(10**15), "E": Decimal(10**18)}  # fmt: skip
_QUANTITY = re.compile(
    r"^([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"
)

MI = 2**20
GI = 2**30


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a Kubernetes quantity (``"1Gi"`` -> 1073741824, ``"250m"`` -> 0.25)."""
    if isinstance(value, bool):
        raise QuantityError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"not a Kubernetes quantity: {value!r}")
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise QuantityError(f"not a Kubernetes quantity: {value!r}") from exc
    if exponent:
        return base * (Decimal(10) ** int(exponent[1:]))
    suffix = suffix or ""
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    return base * _DECIMAL[suffix]


def parse_memory(value: str | int) -> int:
    """Memory in bytes (rounded up to a whole byte)."""
    q = parse_quantity(value)
    if q < 0:
        raise QuantityError(f"negative memory: {value!r}")
    return int(q.to_integral_value(rounding="ROUND_CEILING"))


def parse_cpu(value: str | int | float) -> int:
    """CPU in millicores (rounded up to a whole millicore)."""
    q = parse_quantity(value)
    if q < 0:
        raise QuantityError(f"negative cpu: {value!r}")
    return int((q * 1000).to_integral_value(rounding="ROUND_CEILING"))


def format_cpu(millicores: int) -> str:
    """``2000`` -> ``"2"``, ``900`` -> ``"900m"``."""
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_memory(nbytes: int) -> str:
    """Bytes as the largest exact binary unit: ``"4Gi"``, ``"1408Mi"``, else whole ``Mi`` rounded up."""
    for suffix, factor in (("Ti", 2**40), ("Gi", GI), ("Mi", MI)):
        if nbytes >= factor and nbytes % factor == 0:
            return f"{nbytes // factor}{suffix}"
    return f"{-(-nbytes // MI)}Mi"


def spark_memory(nbytes: int) -> str:
    """Bytes as a Spark memory string in MiB (``"1408m"``): Spark reads ``m`` as mebibytes."""
    return f"{-(-nbytes // MI)}m"
