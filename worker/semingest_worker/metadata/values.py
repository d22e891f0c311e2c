"""Text and value helpers shared by the metadata readers: decoding, cleaning, JSON safety, numbers."""

from __future__ import annotations

import codecs
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

RAW_MAX_STR = 4096  # longest string kept in a ``raw`` vendor dictionary
RAW_MAX_ITEMS = 5000  # most keys (or list items) kept per level of a ``raw`` dictionary

# Control characters other than tab/newline/carriage return, and lone surrogates: never stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NUMBER = re.compile(
    r"[-+]?(?:(?P<thousands>\d{1,3}(?:,\d{3})+(?:\.\d*)?)|\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
)


def decode_bytes(data: bytes) -> str:
    """Bytes of unknown encoding as text: BOM-marked UTF-16/UTF-8, else UTF-8, else cp1252.

    Never raises: bytes undefined in cp1252 become U+FFFD.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    if len(data) >= 4 and _looks_utf16(data):
        return data.decode("utf-16-le" if data[1] == 0 else "utf-16-be", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def tiff_text(value: Any) -> str:
    """A text tag's value as text. Pillow decodes ASCII tags as latin-1, which is lossless:
    re-encode and decode properly, so UTF-8 text ("µm" as C2 B5) does not stay mojibake."""
    if isinstance(value, str):
        try:
            return decode_bytes(value.encode("latin-1"))
        except UnicodeEncodeError:  # not from Pillow's latin-1 decoding: already proper text
            return value
    if isinstance(value, bytes | bytearray):
        return decode_bytes(bytes(value))
    if isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
        return decode_bytes(bytes(v & 0xFF for v in value))  # written as BYTE/SHORT values
    return str(value)


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: every other byte of ASCII-range text is NUL."""
    sample = data[:512]
    even, odd = sample[0::2], sample[1::2]
    return (odd.count(0) > 0.4 * len(odd) and even.count(0) == 0) or (
        even.count(0) > 0.4 * len(even) and odd.count(0) == 0
    )


def clean_text(text: str) -> str:
    """Drop NULs and other control characters (kept: tab, LF, CR) and surrounding whitespace."""
    return _CONTROL.sub("", text).strip()


def json_safe(value: Any, *, max_str: int = RAW_MAX_STR, depth: int = 0) -> Any:
    """``value`` as str/int/float/bool/None/list/dict only, bounded in size; never raises."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = clean_text(value)
        return (
            text if len(text) <= max_str else text[:max_str] + f"...[truncated {len(text) - max_str} chars]"
        )
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        printable = data.rstrip(b"\x00")
        if printable and all(32 <= b < 127 or b in (9, 10, 13) for b in printable[:max_str]):
            return json_safe(printable.decode("ascii", "replace"), max_str=max_str)
        hexed = data[: max_str // 2].hex()
        return hexed if len(data) <= max_str // 2 else hexed + f"...[{len(data)} bytes]"
    if depth > 8:
        return json_safe(str(value), max_str=max_str)
    if isinstance(value, dict):
        items = list(value.items())[:RAW_MAX_ITEMS]
        return {str(k): json_safe(v, max_str=max_str, depth=depth + 1) for k, v in items}
    if isinstance(value, tuple | list | set | frozenset):
        seq = list(value)
        out = [json_safe(v, max_str=max_str, depth=depth + 1) for v in seq[:RAW_MAX_ITEMS]]
        if len(seq) > RAW_MAX_ITEMS:
            out.append(f"...[{len(seq)} items]")
        return out
    if hasattr(value, "numerator") and hasattr(value, "denominator"):  # IFDRational, Fraction
        try:
            return json_safe(float(value))
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item(), max_str=max_str, depth=depth + 1)
    return json_safe(str(value), max_str=max_str)


def decimal_and_rest(text: str) -> tuple[Decimal | None, str]:
    """The first number in ``text`` as an exact ``Decimal``, and what follows it (its unit).

    Accepts ``2.614514e-006``, `` 50.00``, ``30,000`` / ``1,000,000.5`` (comma before exactly
    three digits: thousands separator) and ``2,5`` (any other comma: decimal comma).
    """
    m = _NUMBER.search(text)
    if not m:
        return None, text.strip()
    s = m.group(0)
    s = s.replace(",", "") if m.group("thousands") else s.replace(",", ".")
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None, text.strip()
    return value, text[m.end() :].strip()


def number_and_rest(text: str) -> tuple[float | None, str]:
    """Like ``decimal_and_rest`` with a float."""
    value, rest = decimal_and_rest(text)
    return (float(value) if value is not None else None), rest


def parse_number(text: str) -> float | None:
    """The first number in ``text`` (see ``number_and_rest``) or None."""
    return number_and_rest(text)[0]
