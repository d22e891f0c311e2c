"""Sidecar files beside an image (same stem): finding them cheaply, reading their text, INI parsing.

JEOL and Hitachi write their metadata to ``<stem>.txt`` next to the image; TESCAN can write
``<stem>-<ext>.hdr``. Discovery lists each folder once and looks every image of it up in that
folder's ``index_sidecars`` (no call per image touches the file system); ``find_sidecars`` does
the same for one path, with a per-process cache of folder indexes keyed by the folder's mtime.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping

from ..files import open_regular
from .values import decode_bytes

SIDECAR_MAX_BYTES = 1024 * 1024  # sidecars are a few KB; a bigger file is read only this far
_SIDECAR_SUFFIXES = (".txt", ".hdr")


def index_sidecars(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Lower-cased stem -> the sidecar file names among ``names`` (one folder's entries)."""
    index: dict[str, list[str]] = {}
    for name in names:
        if not name.lower().endswith(_SIDECAR_SUFFIXES):  # most names are images: one call decides
            continue
        stem, ext = os.path.splitext(name)
        if ext.lower() in _SIDECAR_SUFFIXES:  # not a bare ".txt" (no stem)
            index.setdefault(stem.lower(), []).append(name)
    return {stem: tuple(sorted(found)) for stem, found in index.items()}


def sidecars_in(directory: str, name: str, index: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Paths of ``<stem>.txt`` (any case), ``<stem>.hdr`` and ``<stem>-<ext>.hdr`` for the image
    ``name`` of ``directory``, from that folder's ``index_sidecars``."""
    if not index:
        return ()
    stem, ext = os.path.splitext(name)
    if ext.lower() in _SIDECAR_SUFFIXES:
        return ()
    found: list[str] = []
    for candidate in (stem.lower(), f"{stem}-{ext[1:]}".lower()):
        for sidecar in index.get(candidate, ()):
            if sidecar.lower().endswith(".hdr") or candidate == stem.lower():
                found.append(os.path.join(directory, sidecar))
    return tuple(sorted(set(found)))


def find_sidecars(image_path: str) -> tuple[str, ...]:
    """``sidecars_in`` for one image path (its folder listed once per mtime and process)."""
    directory, name = os.path.split(os.fspath(image_path))
    try:
        mtime_ns = os.stat(directory or ".").st_mtime_ns
    except OSError:
        return ()
    return sidecars_in(directory, name, _directory_index(directory or ".", mtime_ns))


@functools.lru_cache(maxsize=512)
def _directory_index(directory: str, mtime_ns: int) -> dict[str, tuple[str, ...]]:
    """``index_sidecars`` of ``directory`` (cached per directory mtime)."""
    del mtime_ns  # part of the cache key only: a changed directory is listed again
    try:
        with os.scandir(directory) as entries:
            return index_sidecars([entry.name for entry in entries])
    except OSError:
        return {}


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
