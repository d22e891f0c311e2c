"""FEI / Thermo Fisher: TIFF tag 34682 (``FEI_HELIOS``), INI text in SI units.

``[Scan] PixelWidth`` (m), ``[Beam] HV`` (V), ``[Stage] WorkingDistance`` (m),
``[System] SystemType``, ``[Detectors] Name``, ``[User] Date``/``Time``,
``[PrivateFei] DatabarHeight`` (px). The magnification is the one the data bar shows:
``[Image] MagCanvasRealWidth / [EBeam] HFW``. Some files also carry tag 34680 (``FEI_SFEG``,
XML); it is kept raw.

The pixel width/height are checked against ``HorFieldsize``/``VerFieldsize`` over the saved
width and the scan rows (``[Image] ResolutionX``/``ResolutionY``, rescaled with the saved width);
the data bar is the image height minus the scan rows (Thermo Fisher xT writes
``DatabarHeight=0`` above a bar). See ``pixels``.
"""

from __future__ import annotations

from .pixels import GeometryRule
from .reading import Rule, VendorInput, VendorReading, table, text_value, timestamp_parser
from .sidecars import parse_ini
from .values import parse_number, tiff_text

TAG = 34682
XML_TAG = 34680
SOURCE = f"tiff:{TAG}"


def _section_keys(section: str, key: str, *more: str) -> tuple[str, ...]:
    return tuple(f"[{name}] {key}" for name in (section, *more))


FIELDS = table(
    accelerating_voltage_v=Rule(("[Beam] HV", "[EBeam] HV"), parse_number),
    working_distance_m=Rule(("[Stage] WorkingDistance", "[EBeam] WD"), parse_number),
    model=Rule(("[System] SystemType", "[System] Type"), text_value, strict=False),
    detector=Rule(("[Detectors] Name",), text_value, strict=False),
    acquired_at=(
        Rule(
            ("[User] Date Time",),
            timestamp_parser(
                "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"
            ),
            strict=False,
        ),
        Rule(("[PrivateFei] TimeOfCreation",), timestamp_parser("%d.%m.%Y %H:%M:%S"), strict=False),
    ),
)
# "{scan}" is the beam the image was scanned with ([Beam] Scan, usually EScan).
GEOMETRY = {
    "x": GeometryRule(_section_keys("Scan", "PixelWidth", "{scan}", "EScan"), parse_number),
    "y": GeometryRule(_section_keys("Scan", "PixelHeight", "{scan}", "EScan"), parse_number),
    "field_width": GeometryRule(
        ("[Scan] HorFieldsize", "[{scan}] HorFieldsize", "[EBeam] HFW"), parse_number
    ),
    "field_height": GeometryRule(
        ("[Scan] VerFieldsize", "[{scan}] VerFieldsize", "[EBeam] VFW"), parse_number
    ),
    "scan_width": GeometryRule(("[Image] ResolutionX",), parse_number),
    "scan_height": GeometryRule(("[Image] ResolutionY",), parse_number),
    "bar_rows": GeometryRule(("[PrivateFei] DatabarHeight",), parse_number),
}


class FeiReader:
    name = "fei"

    def matches(self, source: VendorInput) -> bool:
        return TAG in source.tags

    def read(self, source: VendorInput) -> VendorReading:
        text = tiff_text(source.tags[TAG])
        reading = VendorReading(vendor=self.name, source=SOURCE)
        sections = parse_ini(text)
        if not any(name for name in sections):
            reading.raw = {"_undecoded_text": text[:2000]}
            reading.problems.append(
                f"undecodable vendor metadata: tag {TAG} (FEI) has no [Section] key=value text "
                f"({len(text)} characters)"
            )
            return reading
        reading.raw = dict(sections)
        if XML_TAG in source.tags:
            reading.raw[f"tiff:{XML_TAG}"] = tiff_text(source.tags[XML_TAG])
        values = flatten(sections)
        reading.apply(FIELDS, values)
        scan = sections.get("Beam", {}).get("Scan") or "EScan"
        geometry = {
            kind: GeometryRule(tuple(dict.fromkeys(k.replace("{scan}", scan) for k in rule.keys)), rule.parse)
            for kind, rule in GEOMETRY.items()
        }
        reading.apply_geometry(geometry, values, source.width, source.height)
        _magnification(reading, values)
        return reading


def flatten(sections: dict[str, dict[str, str]]) -> dict[str, str]:
    """``{"Scan": {"PixelWidth": v}}`` -> ``{"[Scan] PixelWidth": v}`` (non-empty values only),
    plus ``[User] Date Time`` joining the date and the time."""
    values = {f"[{name}] {key}": v for name, section in sections.items() for key, v in section.items() if v}
    user = sections.get("User", {})
    if user.get("Date"):
        values["[User] Date Time"] = f"{user['Date']} {user.get('Time', '')}".strip()
    return values


def _magnification(reading: VendorReading, values: dict[str, str]) -> None:
    """The magnification the data bar shows: ``[Image] MagCanvasRealWidth`` over the field width."""
    canvas = parse_number(values.get("[Image] MagCanvasRealWidth", ""))
    hfw_key = next((k for k in ("[EBeam] HFW", "[Scan] HorFieldsize") if values.get(k)), None)
    hfw = parse_number(values[hfw_key]) if hfw_key else None
    if canvas and hfw:
        reading.set("magnification", canvas / hfw, f"[Image] MagCanvasRealWidth / {hfw_key}")


READER = FeiReader()
