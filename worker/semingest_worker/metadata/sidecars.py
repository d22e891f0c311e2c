"""Sidecar files beside an image (same stem): finding them cheaply, reading their text, INI parsing.

JEOL and Hitachi write their metadata to ``<stem>.txt`` next to the image; TESCAN can write
``<stem>-<ext>.hdr``. ``find_sidecars`` runs on the driver for every discovered image, so it looks
each directory up once (a per-process cache keyed by the directory's mtime), not once per image.
"""

from __future__ import annotations

import functools
import os

from ..files import open_regular
from .values import decode_bytes

SIDECAR_MAX_BYTES = 1024 * 1024  # sidecars are a few KB; a bigger file is read only this far
_SIDECAR_SUFFIXES = (".txt", ".hdr")


def find_sidecars(image_path: str) -> tuple[str, ...]:
    """Paths of ``<stem>.txt`` (any case), ``<stem>.hdr`` and ``<stem>-<ext>.hdr`` beside the image."""
    directory, name = os.path.split(os.fspath(image_path))
    stem, ext = os.path.splitext(name)
    if ext.lower() in _SIDECAR_SUFFIXES:
        return ()
    try:
        mtime_ns = os.stat(directory or ".").st_mtime_ns
    except OSError:
        return ()
    index = _directory_index(directory or ".", mtime_ns)
    found: list[str] = []
    for candidate in (stem.lower(), f"{stem}-{ext[1:]}".lower()):
        for sidecar in index.get(candidate, ()):
            if sidecar.lower().endswith(".hdr") or candidate == stem.lower():
                found.append(os.path.join(directory, sidecar))
    return tuple(sorted(set(found)))


@functools.lru_cache(maxsize=512)
def _directory_index(directory: str, mtime_ns: int) -> dict[str, tuple[str, ...]]:
    """Lower-cased stem -> sidecar file names in ``directory`` (cached per directory mtime)."""
    del mtime_ns  # part of the cache key only: a changed directory is listed again
    index: dict[str, list[str]] = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in _SIDECAR_SUFFIXES:
                    index.setdefault(stem.lower(), []).append(entry.name)
    except OSError:
        return {}
    return {stem: tuple(sorted(names)) for stem, names in index.items()}


def read_sidecar_text(path: str) -> str:
    """The sidecar's text (UTF-16 with or without BOM, UTF-8, or cp1252). Raises OSError (also
    ``NotRegularFileError`` for a FIFO or device named like a sidecar: never opened blocking)."""
    with open_regular(path) as fh:
        data = fh.read(SIDECAR_MAX_BYTES)
    return decode_bytes(data)


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """``[Section]`` / ``key=value`` text -> {section: {key: value}}; first value of a key wins.

    Keys before any section go to section ``""``. Lines without ``=`` are ignored.
    """
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for raw_line in text.splitlines():
        line = raw_line.strip().strip("\x00")
        if not line or line[0] in ";#":
            continue
        if line[0] == "[" and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            current.setdefault(key.strip(), value.strip())
    if not sections[""]:
        del sections[""]
    return sections
