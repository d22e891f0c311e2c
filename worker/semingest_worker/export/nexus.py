"""``--format nexus-json``: each image's metadata under NeXus NXem names (JSON Lines).

One JSON object per image: ``path``, ``image_hash`` and ``nexus``, a flat template in the
convention pynxtools readers use (NeXus path -> value, the unit in ``<path>/@units``), with the
concepts pynxtools-em fills from Zeiss/FEI/TESCAN/JEOL/Hitachi TIFFs:

* ``/ENTRY[entry1]/definition`` = ``NXem``;
* ``.../measurement/instrument/fabrication/vendor`` and ``model``;
* per event (one image = one event ``EVENT_DATA_EM[event_data_em1]``): ``start_time``,
  ``instrument/ebeam_column/electron_source/voltage`` (V), ``instrument/optics/magnification``,
  ``instrument/optics/working_distance`` (m), ``instrument/DETECTOR[detector1]/name``;
* from the vendor dictionary where present: ``fabrication/serial_number`` (Zeiss
  ``SV_SERIAL_NUMBER``, FEI ``System/Dnumber``, TESCAN/Hitachi ``SerialNumber``); FEI's stage
  (``instrument/stage/position`` [x, y, z] in m, ``rotation`` and ``tilt1`` in rad) and dwell time
  (``instrument/ebeam_column/scan_controller/dwell_time``, s);
* the image's calibrated axes ``IMAGE[image1]/image_2d/axis_i`` / ``axis_j`` (m). NeXus stores
  an axis as its coordinate array; here a linear axis is given compactly as
  ``{"start": 0, "step": <pixel size>, "count": <pixels>}`` (expand it as ``start + step * k``).

Values are in SI units. Only concepts with a value are written. The rest of the vendor's
dictionary is not mapped concept by concept (``semingest export --format jsonl`` carries it whole).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..metadata.values import parse_number
from .values import parse_json

ENTRY = "/ENTRY[entry1]"
EVENT = f"{ENTRY}/measurement/events/EVENT_DATA_EM[event_data_em1]"
SERIAL_KEYS = frozenset({"sv_serial_number", "serialnumber", "dnumber"})
VENDOR_NAMES = {"zeiss": "Zeiss", "fei": "FEI", "tescan": "TESCAN", "jeol": "JEOL", "hitachi": "Hitachi"}


def nexus_template(row: dict[str, Any]) -> dict[str, Any]:
    """The NXem template of one image row (``imagequery.image_select``)."""
    t: dict[str, Any] = {f"{ENTRY}/definition": "NXem"}

    def put(path: str, value: Any, unit: str | None = None) -> None:
        if value is None:
            return
        t[path] = value
        if unit is not None:
            t[f"{path}/@units"] = unit

    vendor = row.get("vendor")
    put(
        f"{ENTRY}/measurement/instrument/fabrication/vendor",
        VENDOR_NAMES.get(vendor, vendor) if vendor else None,
    )
    put(f"{ENTRY}/measurement/instrument/fabrication/model", row.get("instrument"))
    acquired = row.get("acquired_at")
    put(f"{EVENT}/start_time", f"{acquired.isoformat()}+00:00" if acquired is not None else None)
    put(f"{EVENT}/instrument/ebeam_column/electron_source/voltage", row.get("accelerating_voltage_v"), "V")
    put(f"{EVENT}/instrument/optics/magnification", row.get("magnification"))
    put(f"{EVENT}/instrument/optics/working_distance", row.get("working_distance_m"), "m")
    put(f"{EVENT}/instrument/DETECTOR[detector1]/name", row.get("detector"))
    raw = row.get("vendor_metadata")
    raw = parse_json(raw) if isinstance(raw, str) else raw
    if isinstance(raw, dict):
        _vendor_concepts(raw, vendor, put)
    axes = (
        ("axis_i", row.get("pixel_size_m"), row.get("width")),
        ("axis_j", row.get("pixel_height_m"), row.get("height")),
    )
    for axis, step, count in axes:
        if step is not None:
            put(f"{EVENT}/IMAGE[image1]/image_2d/{axis}", {"start": 0.0, "step": step, "count": count}, "m")
    return t


def _leaves(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in d.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", value


def _vendor_concepts(raw: dict[str, Any], vendor: str | None, put: Any) -> None:
    """The concepts pynxtools-em also takes from the vendor dictionaries (where they are present)."""
    for key, value in _leaves(raw):
        if (
            key.rsplit("/", 1)[-1].lower() in SERIAL_KEYS
            and isinstance(value, str | int)
            and str(value).strip()
        ):
            put(f"{ENTRY}/measurement/instrument/fabrication/serial_number", str(value).strip())
            break
    if vendor != "fei":
        return

    def number(section: str, key: str) -> float | None:
        value = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
        return parse_number(value) if isinstance(value, str) else None

    xyz = [number("Stage", k) for k in ("StageX", "StageY", "StageZ")]
    if all(v is not None for v in xyz):
        put(f"{EVENT}/instrument/stage/position", xyz, "m")
    put(f"{EVENT}/instrument/stage/rotation", number("Stage", "StageR"), "rad")
    put(f"{EVENT}/instrument/stage/tilt1", number("Stage", "StageT"), "rad")
    put(f"{EVENT}/instrument/ebeam_column/scan_controller/dwell_time", number("Scan", "Dwelltime"), "s")


def write_nexus_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for row in rows:
        record = {
            "path": row["path"],
            "image_hash": row["image_hash"],
            "pixel_size_source": row.get("pixel_size_source"),
            "nexus": nexus_template(row),
        }
        out.write(json.dumps(record, ensure_ascii=False, allow_nan=False))
        out.write("\n")
        count += 1
    return count
