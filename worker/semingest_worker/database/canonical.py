"""Keeping ``images.path`` true when files change or vanish.

An image's canonical path is one of its files (see ``schema``). Two things can make it false:

* the canonical file is re-written with other pixels: its ``image_files`` row now points at a new
  image, and the old image's ``path`` names a file that no longer holds those pixels;
* the canonical file is deleted (or moved): the path names nothing.

``reelect`` gives each affected image the smallest path among its remaining present files (rank
reset to the worst, so the next ingest of any copy takes over with its own metadata), and makes
those copies due for re-ingest (their ``sidecar_stamp`` is cleared to a value no file has), so
the image's metadata rows are rebuilt from a file that exists. An image with no file left gets
``status = 'missing'``. ``mark_vanished`` sets ``image_files.status = 'missing'`` for files under a
source folder that the latest listing did not find and that no longer exist, then re-elects.
Both run inside the caller's transaction.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable

import sqlalchemy as sa

from . import schema

MISSING = "missing"
# A stamp no real file has: a copy whose image lost its canonical file is ingested again.
REINGEST_STAMP = "reingest:canonical-changed"
_WORST_RANK = 3
_IN_CHUNK = 900

f = schema.image_files
im = schema.images


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for i in range(0, len(ordered), _IN_CHUNK):
        yield ordered[i : i + _IN_CHUNK]


def previous_hashes(conn: sa.Connection, path_keys: Collection[str]) -> dict[str, str | None]:
    """``path_key -> image_hash`` stored now for the given files (absent: never ingested)."""
    out: dict[str, str | None] = {}
    for chunk in _chunks(path_keys):
        out.update(
            dict(conn.execute(sa.select(f.c.path_key, f.c.image_hash).where(f.c.path_key.in_(chunk))).all())
        )
    return out


def reelect(conn: sa.Connection, hashes: Collection[str]) -> int:
    """Re-elect the canonical path of ``hashes`` whose path no longer holds them; returns how many."""
    changed = 0
    for chunk in _chunks(hashes):
        current: dict[str, str] = dict(
            conn.execute(sa.select(im.c.image_hash, im.c.path).where(im.c.image_hash.in_(chunk))).all()
        )
        holders = conn.execute(
            sa.select(f.c.image_hash, f.c.path, f.c.path_key)
            .where(f.c.image_hash.in_(chunk), f.c.status != MISSING)
            .order_by(f.c.image_hash, f.c.path)
        ).all()
        by_hash: dict[str, list[tuple[str, str]]] = {}
        for h, path, key in holders:
            by_hash.setdefault(h, []).append((path, key))
        for h, path in current.items():
            files = by_hash.get(h, [])
            if any(p == path for p, _ in files):
                continue  # the canonical file still holds these pixels
            changed += 1
            if not files:
                conn.execute(sa.update(im).where(im.c.image_hash == h).values(status=MISSING))
                continue
            conn.execute(
                sa.update(im).where(im.c.image_hash == h).values(path=files[0][0], canonical_rank=_WORST_RANK)
            )
            keys = [key for _, key in files]
            conn.execute(sa.update(f).where(f.c.path_key.in_(keys)).values(sidecar_stamp=REINGEST_STAMP))
    return changed


def mark_vanished(
    conn: sa.Connection,
    root: str,
    listed_keys: Collection[str],
    run_id: str,
    stored_keys: Collection[str] | None = None,
) -> int:
    """Mark files under ``root`` that were not listed and do not exist as missing; returns how many.
    ``stored_keys``: the keys of the files under ``root`` not marked missing, when the caller has
    just read them (a re-run over a large archive then reads them once, not twice)."""
    from .queries import under_folder

    listed = set(listed_keys)
    if stored_keys is None:
        stored_keys = [
            key
            for (key,) in conn.execute(
                sa.select(f.c.path_key).where(under_folder(root), f.c.status != MISSING)
            )
        ]
    unlisted = [key for key in stored_keys if key not in listed]  # keys only: paths of these few
    gone = []
    for chunk in _chunks(unlisted):
        rows = conn.execute(sa.select(f.c.path_key, f.c.path, f.c.image_hash).where(f.c.path_key.in_(chunk)))
        gone += [(key, h) for key, path, h in rows if not os.path.lexists(undisplay_path(path))]
    for chunk in _chunks(key for key, _ in gone):
        conn.execute(
            sa.update(f)
            .where(f.c.path_key.in_(chunk))
            .values(status=MISSING, error=f"the file was not found by run {run_id}")
        )
    reelect(conn, {h for _, h in gone if h is not None})
    return len(gone)


def undisplay_path(text: str) -> str:
    """The file system path of a stored (display) path: the inverse of ``rows.display_path``."""
    if "\\" not in text:
        return text
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text.startswith("\\\\", i):
            out += b"\\"
            i += 2
        elif ch == "\\" and text.startswith("\\x", i) and i + 4 <= len(text):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out += ch.encode("utf-8")
            i += 1
    return os.fsdecode(bytes(out))
