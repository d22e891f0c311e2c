"""Find the images to ingest (on the driver): a recursive listing filtered by globs, minus what is ingested.

Globs are matched, case-insensitively, against the path relative to the source folder with ``/``
separators: ``*`` and ``?`` stay within one folder, ``**`` spans folders (``**/`` also matches no
folder at all, so ``**/*.tif`` matches ``a.tif`` too), ``[abc]``/``[!abc]`` are character classes.
A pattern without ``/`` matches the file name at any depth (``*.tif`` is ``**/*.tif``). A file is
listed when it matches an include pattern and no exclude pattern.

A file is skipped when the database has it already with the same path, size and mtime, and its
sidecars unchanged (see ``database.queries.known_files``); a file whose size or mtime changed, or
whose sidecar was added, removed or edited, is ingested again.
Symbolic links are followed (directory loops are detected); unreadable folders are reported,
not fatal. Sidecar files (JEOL/Hitachi ``.txt``, TESCAN ``.hdr``) are found beside each image.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from semingest_api.spec import spec_schema

from .database.rows import path_key, sidecar_stamp
from .metadata import find_sidecars
from .records import ImageFile

log = logging.getLogger(__name__)

# Every format the decoder reads (the SemIngest CRD's own default is TIFF only).
# The CRD's default for spec.source.include (one definition: crds/semingest.yaml).
DEFAULT_INCLUDE: tuple[str, ...] = tuple(spec_schema()["properties"]["source"]["properties"]["include"]["default"])


def glob_to_regex(pattern: str) -> str:
    """The regular expression (anchored) for one glob pattern; see the module docstring."""
    pat = pattern.replace("\\", "/").lstrip("/")
    if "/" not in pat:
        pat = "**/" + pat
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            start = i + 1
            if start < n and pat[start] == "!":
                start += 1
            if start < n and pat[start] == "]":
                start += 1  # a leading ] is a literal member
            end = pat.find("]", start)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            body = pat[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            body = body.replace("\\", "\\\\")
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def compile_globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any of ``patterns`` (None when there are none)."""
    parts = [glob_to_regex(p) for p in patterns if p]
    if not parts:
        return None
    return re.compile("(?:" + "|".join(parts) + r")\Z", re.IGNORECASE | re.DOTALL)


@dataclass
class Listing:
    files: list[ImageFile]
    unreadable: list[str] = field(default_factory=list)  # "path: reason" of folders that could not be read


def list_images(root: str, include: Sequence[str], exclude: Sequence[str] = ()) -> Listing:
    """Every file under ``root`` matching the globs, sorted by path, with size, mtime and sidecars."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"source folder {root!r} does not exist or is not a folder")
    inc = compile_globs(include)
    exc = compile_globs(exclude)
    files: list[ImageFile] = []
    unreadable: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()
    root = os.path.abspath(root)
    stack = [(root, "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            st = os.stat(directory)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                continue  # a symlink loop or a folder linked twice
            seen_dirs.add(key)
            entries = list(os.scandir(directory))
        except OSError as error:
            unreadable.append(f"{directory}: {error.strerror or error}")
            continue
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append((entry.path, rel + "/"))
                    continue
                if not entry.is_file(follow_symlinks=True):
                    continue
            except OSError:
                continue
            if inc is None or not inc.match(rel) or (exc is not None and exc.match(rel)):
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError as error:
                unreadable.append(f"{entry.path}: {error.strerror or error}")
                continue
            files.append(
                ImageFile(
                    path=entry.path,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    sidecars=find_sidecars(entry.path),
                )
            )
    files.sort(key=lambda f: os.fsencode(f.path))
    for problem in unreadable:
        log.warning("cannot read %s", problem)
    return Listing(files=files, unreadable=unreadable)


@dataclass
class Plan:
    """What a run will do: the files to process and the counts of what it found."""

    todo: list[ImageFile]
    discovered: int
    skipped: int
    changed: int  # files known to the database whose size or mtime changed
    unreadable: list[str] = field(default_factory=list)


def plan_ingest(listing: Listing, known: Mapping[str, tuple[int, int, str | None]]) -> Plan:
    """Split ``listing`` into files to process and files already ingested (same path, size, mtime,
    and the same sidecars with the same sizes and mtimes)."""
    todo: list[ImageFile] = []
    skipped = changed = 0
    for f in listing.files:
        seen = known.get(path_key(f.path))
        if seen is None:
            todo.append(f)
        elif seen == (f.size, f.mtime_ns, sidecar_stamp(f.sidecars)):
            skipped += 1
        else:
            changed += 1
            todo.append(f)
    return Plan(
        todo=todo,
        discovered=len(listing.files),
        skipped=skipped,
        changed=changed,
        unreadable=listing.unreadable,
    )
