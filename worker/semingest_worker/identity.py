"""A file's identity in the database: its key, its storable path, and the stamp of its sidecars.

Computed once, on the driver, when discovery lists the file (``records.ImageFile`` carries the
results to the executors): the skip check and the ``image_files`` row use the same values.
Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable


def path_key(path: str) -> str:
    """Hex SHA-256 of the path's bytes as the file system has them (the ``image_files`` key)."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()


# What a stored path escapes: the backslash itself, control characters (a newline in a file name
# must not forge a line of a report) and the bytes of a non-UTF-8 name (surrogate-escaped by os).
_PATH_ESCAPES = re.compile("[\\\\\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def _escape_path_char(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\\":
        return "\\\\"
    code = ord(ch)
    return f"\\x{code - 0xDC00 if code >= 0xDC80 else code:02x}"


def display_path(path: str) -> str:
    """The path as storable, printable text, one to one with the file system's bytes.

    Valid, printable names are themselves; a backslash is written ``\\\\``, and control characters
    and undecodable bytes ``\\xNN`` (so ``x<0xff>.tif`` and a name spelled ``x\\xff.tif`` differ).
    """
    return _PATH_ESCAPES.sub(_escape_path_char, path)


def sidecar_stamp(sidecars: Iterable[str]) -> str | None:
    """A digest of the sidecars' paths, sizes and mtimes (None without sidecars).

    Part of "already ingested?": a JEOL/Hitachi image whose ``.txt`` was fixed (or added, or
    removed) is ingested again even though the image file itself did not change.
    """
    paths = sorted(sidecars)
    if not paths:
        return None
    digest = hashlib.sha256()
    for path in paths:
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        digest.update(os.fsencode(path) + b"\0" + stamp.encode() + b"\n")
    return digest.hexdigest()
