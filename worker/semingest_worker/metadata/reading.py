"""The vendor-reader contract: one input, one protocol, mapping tables interpreted once.

A vendor reader turns its format into a flat ``key -> text`` dictionary (its own keys, e.g.
``AP_PIXEL_SIZE`` or ``[Scan] PixelWidth``) and declares a mapping table
``field -> Rule(keys in order, parser)``; ``apply_table`` interprets every table the same way.
What a table cannot express (the pixel-size consistency check, a magnification computed from
two keys) the reader adds with ``VendorReading.set``. ``to_instrument`` range-checks the values
against the field specs of ``InstrumentMeta`` and keeps where each value came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..records import INSTRUMENT_FIELDS, FieldKind, InstrumentMeta
from .pixels import GeometryRule, evidence, reconcile
from .units import check_range
from .values import clean_text, json_safe


@dataclass(frozen=True)
class VendorInput:
    """Everything a vendor reader may look at for one image."""

    path: str
    width: int  # of the saved image, px
    height: int
    tags: Mapping[int, Any] = field(default_factory=dict)  # page 1's raw TIFF tags ({} unless TIFF)
    sidecars: tuple[tuple[str, str], ...] = ()  # (path, text) of each readable sidecar

    def sidecar(self, accepts: Callable[[str, str], bool]) -> tuple[str, str] | None:
        """The first sidecar ``(path, text)`` for which ``accepts(path, text)``."""
        return next((s for s in self.sidecars if accepts(*s)), None)


class VendorReader(Protocol):
    """One vendor's metadata reader. The registry tries readers in order; the first match reads."""

    name: str

    def matches(self, source: VendorInput) -> bool: ...

    def read(self, source: VendorInput) -> VendorReading: ...


@dataclass(frozen=True)
class Rule:
    """How one field is read: the first of ``keys`` with a non-empty value, through ``parse``.

    ``parse`` returns the value in the field's SI unit, or None when the text is unparseable
    (recorded as a problem naming the key and ``expected``).
    """

    keys: tuple[str, ...]
    parse: Callable[[str], Any]
    expected: str = "a number"
    strict: bool = True  # False: an unparseable value is left out without a problem (names, dates)


Table = Mapping[str, Sequence[Rule]]


def table(**rules: Rule | Sequence[Rule]) -> dict[str, tuple[Rule, ...]]:
    """A mapping table ``field -> rules`` (tried in order), checked against ``InstrumentMeta``."""
    out: dict[str, tuple[Rule, ...]] = {}
    for name, rule in rules.items():
        spec = INSTRUMENT_FIELDS.get(name)
        if spec is None or not spec.from_vendor:
            raise ValueError(f"mapping table names {name!r}, which is not a vendor field of InstrumentMeta")
        out[name] = (rule,) if isinstance(rule, Rule) else tuple(rule)
    return out


def text_value(text: str) -> str | None:
    """A text field's value: cleaned, None when empty."""
    return clean_text(text) or None


@dataclass
class VendorReading:
    """Values as read (SI units, not yet range-checked), where each came from, and the problems.

    ``keys`` maps a field to the vendor key(s) it was read from (named in problem messages);
    ``why`` adds the reason a key was chosen or a value derived (the pixel-size check).
    """

    vendor: str | None
    source: str | None
    raw: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def set(self, name: str, value: Any, key: str, why: str | None = None) -> None:
        """Set ``name`` (a vendor field) to ``value``, read or derived from ``key``."""
        if name not in INSTRUMENT_FIELDS or not INSTRUMENT_FIELDS[name].from_vendor:
            raise ValueError(f"{name!r} is not a vendor field of InstrumentMeta")
        self.values[name] = value
        self.keys[name] = key
        if why:
            self.why[name] = why
        else:
            self.why.pop(name, None)

    def drop(self, name: str, why: str) -> None:
        """No value for ``name``; ``why`` says so in the provenance."""
        self.values.pop(name, None)
        self.keys.pop(name, None)
        self.why[name] = why

    def record(self, name: str, key: str, text: str, rule: Rule) -> None:
        """Set ``name`` from the vendor's ``key``: the parsed value, or None and a problem."""
        parsed = rule.parse(text)
        if parsed is None and rule.strict:
            self.problems.append(f"unparseable metadata: {key} = {text!r} (expected {rule.expected})")
        self.set(name, parsed, key)

    def apply(self, rules_by_field: Table, values: Mapping[str, str]) -> None:
        """Interpret a mapping table over the vendor's flat ``key -> text`` values."""
        for name, rules in rules_by_field.items():
            for rule in rules:
                found = next(((k, values[k]) for k in rule.keys if values.get(k)), None)
                if found is not None:
                    self.record(name, *found, rule)
                    if self.values.get(name) is not None:
                        break

    def apply_geometry(
        self, rules: Mapping[str, GeometryRule], values: Mapping[str, str], width: int, height: int
    ) -> None:
        """Pixel width, pixel height and data bar rows from the vendor's geometry table, each
        reconciled with the others and with the saved image's size (see ``pixels``)."""
        ev, problems = evidence(values, rules)
        self.problems.extend(problems)
        decision = reconcile(ev, width, height)
        found = (
            ("pixel_size_m", decision.x),
            ("pixel_size_y_m", decision.y),
            ("databar_height_px", decision.bar_rows),
        )
        for name, finding in found:
            if finding is not None:
                self.set(name, finding.value, finding.key, finding.why)
        for name, why in decision.notes:
            self.drop(name, why)
        self.problems.extend(decision.problems)

    def to_instrument(self) -> tuple[InstrumentMeta, list[str]]:
        """The checked ``InstrumentMeta`` and all problems (the reader's and the range checks')."""
        problems = list(self.problems)
        checked: dict[str, Any] = {}
        for name, spec in INSTRUMENT_FIELDS.items():
            if not spec.from_vendor or self.values.get(name) is None:
                continue
            value = self.values[name]
            if spec.plausible is not None:
                value, problem = check_range(name, float(value), self.keys.get(name, name))
                if problem:
                    problems.append(problem)
            checked[name] = _typed(spec.kind, value, spec.max_chars)
        provenance = {
            name: f"{self.keys[name]}: {self.why[name]}" if name in self.why else self.keys[name]
            for name in self.keys
            if checked.get(name) is not None
        }
        # Values deliberately not stored (``drop``) say why; a value dropped by the range check is
        # explained by its problem instead.
        provenance.update({name: why for name, why in self.why.items() if name not in self.keys})
        meta = InstrumentMeta(
            vendor=self.vendor,
            source=self.source,
            raw=json_safe(self.raw),
            provenance=provenance,
            **checked,
        )
        return meta, problems


def _typed(kind: FieldKind, value: Any, max_chars: int | None) -> Any:
    if value is None:
        return None
    if kind is FieldKind.TEXT:
        text = clean_text(str(value))
        return (text[:max_chars] if max_chars else text) or None
    if kind is FieldKind.INT:
        return int(round(float(value)))
    if kind is FieldKind.FLOAT:
        return float(value)
    return value


def parse_timestamp(stamp: str, formats: Sequence[str]) -> datetime | None:
    """The first of ``formats`` that parses ``stamp`` (instrument local time), else None."""
    stamp = stamp.strip()
    for fmt in formats:
        try:
            return datetime.strptime(stamp, fmt)
        except ValueError:
            continue
    return None


def timestamp_parser(*formats: str) -> Callable[[str], datetime | None]:
    """A ``Rule`` parser for a date/time written in one of ``formats``."""
    return lambda text: parse_timestamp(text, formats)
