"""A facility-sized archive for the growth figures: N files on disk and in MariaDB, built cheaply.

* Disk: ``<cache>/archive-<N>/dNNNN/...``: hard links of one synthetic corpus (``base``), once per
  folder, so N files cost no space and every file has its own path (and the same size and mtime
  as its inode, as the skip check compares).
* Database: the base corpus under ``d0000/`` is ingested for real (``semingest run``); its rows
  are then cloned in SQL for every other folder (``image_files`` with the path and ``path_key``
  of the clone, ``images`` and the metadata tables with a distinct ``image_hash`` per clone), so
  the database holds what N ingested files would leave: rows, indexes and their sizes.

Measured on it (``run_bench``): a re-run with nothing new (every file skipped), a re-run with 100
new files, and the per-image CPU of ingesting new images into the full database against an
empty one. MariaDB only (the clone uses ``SHA2``).
"""

from __future__ import annotations

import os
from pathlib import Path

CLONE_RUN_ID = "bench-archive-clone"


def build_tree(cache: Path, base_root: Path, files: int) -> tuple[Path, int, list[Path]]:
    """The hard-link tree (reused when complete): (root, folders, base files relative paths)."""
    base = sorted(
        p.relative_to(base_root) for p in base_root.rglob("*") if p.is_file() and p.name != "corpus.json"
    )
    folders = max(1, -(-files // len(base)))
    root = cache / f"archive-{folders * len(base)}"
    done = root / ".complete"
    if not done.is_file():
        for c in range(folders):
            for rel in base:
                target = root / f"d{c:04d}" / rel
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(base_root / rel, target)
        done.write_text(f"{folders} x {len(base)}\n", encoding="utf-8")
    return root, folders, base


def clone_rows(url: str, root: Path, folders: int) -> int:
    """Copy the rows of ``root/d0000`` to ``d0001``..; returns the ``image_files`` rows in the end."""
    import sqlalchemy as sa

    from semingest_worker.database import create_engine, schema

    first = f"{root}/d0000/"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # our own paths (checked by _like) and names
            source_hashes = f"SELECT image_hash FROM images WHERE path LIKE '{_like(first)}' AND run_id <> '{CLONE_RUN_ID}'"  # noqa: S608
            for c in range(1, folders):
                to = f"{root}/d{c:04d}/"
                new_path = f"REPLACE(path, '{first}', '{to}')"
                new_hash = f"CONCAT(LEFT(image_hash, 56), LPAD(HEX({c}), 8, '0'))"
                for table in (schema.image_files, schema.images, *schema.IMAGE_TABLES):
                    if table is schema.inference:
                        continue  # no model in the benchmark
                    cols = [col.name for col in table.columns]
                    values = []
                    for name in cols:
                        if name == "path_key":
                            values.append(f"SHA2({new_path}, 256)")
                        elif name == "path":
                            values.append(new_path)
                        elif name == "image_hash":
                            values.append(new_hash)
                        elif name == "run_id":
                            values.append(f"'{CLONE_RUN_ID}'")
                        else:
                            values.append(f"`{name}`")
                    if table is schema.image_files or table is schema.images:
                        where = f"path LIKE '{_like(first)}' AND run_id <> '{CLONE_RUN_ID}'"
                    else:
                        where = f"image_hash IN ({source_hashes})"
                    conn.exec_driver_sql(
                        f"INSERT INTO `{table.name}` ({', '.join(f'`{n}`' for n in cols)}) "  # noqa: S608 - our own names
                        f"SELECT {', '.join(values)} FROM `{table.name}` WHERE {where}".replace("%", "%%")
                    )
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.image_files)).scalar_one())
    finally:
        engine.dispose()


def _like(prefix: str) -> str:
    """``prefix%`` for LIKE. A ``%`` or ``_`` in the folder also matches itself, and the archive's
    database holds nothing else, so only quotes and backslashes are refused."""
    if any(ch in prefix for ch in "\\'"):
        raise ValueError(f"the archive path {prefix!r} must not contain a quote or a backslash")
    return prefix + "%"
