"""Find the images to ingest (on the driver): a recursive listing filtered by globs, minus what is ingested.

A file is listed when its path relative to the source folder matches an include pattern and no
exclude pattern (see ``globs``: case-insensitive, linear-time matching).

A file is skipped when the database has it already with the same path, size and mtime, and its
sidecars unchanged (see ``database.queries.known_files``); a file whose size or mtime changed, or
whose sidecar was added, removed or edited, is ingested again.
Symbolic links are followed only while they stay inside the source folder (a link to ``/`` or
to another tree is reported, never walked; directory loops are detected). Unreadable folders are
reported, not fatal. A matching name that is not a regular file (a FIFO, socket or device), a
dangling link, a link loop or a link out of the source folder is listed with its ``problem``, so
the run records it as a failed file with that reason instead of opening it. Sidecar files
(JEOL/Hitachi ``.txt``, TESCAN ``.hdr``) are found beside each image.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from semingest_api.spec import spec_schema

from .files import file_kind
from .globs import GlobSet
from .metadata.sidecars import index_sidecars, sidecars_in
from .records import ImageFile

log = logging.getLogger(__name__)

# Every format the decoder reads (the SemIngest CRD's own default is TIFF only).
# The CRD's default for spec.source.include (one definition: crds/semingest.yaml).
DEFAULT_INCLUDE: tuple[str, ...] = tuple(
    spec_schema()["properties"]["source"]["properties"]["include"]["default"]
)


@dataclass
class Listing:
    files: list[ImageFile]
    unreadable: list[str] = field(default_factory=list)  # "path: reason" of folders that could not be read


def check_source(root: str) -> None:
    """FileNotFoundError unless ``root`` is a folder (checked before anything is created)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"source folder {root!r} does not exist or is not a folder")


def list_images(root: str, include: Sequence[str], exclude: Sequence[str] = ()) -> Listing:
    """Every file under ``root`` matching the globs, sorted by path, with size, mtime and sidecars."""
    check_source(root)
    inc, exc = GlobSet(include), GlobSet(exclude)
    files: list[ImageFile] = []
    unreadable: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()
    root = os.path.abspath(root)
    real_root = os.path.realpath(root)
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
        sidecars = index_sidecars(entry.name for entry in entries)
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            outside = entry.is_symlink() and not _inside(os.path.realpath(entry.path), real_root)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if outside:
                    unreadable.append(
                        f"{entry.path}: a symbolic link out of the source folder (not followed)"
                    )
                else:
                    stack.append((entry.path, rel + "/"))
                continue
            if not inc.matches(rel) or exc.matches(rel):
                continue
            files.append(_listed(entry, outside, sidecars_in(directory, entry.name, sidecars)))
    files.sort(key=lambda f: os.fsencode(f.path))
    for problem in unreadable:
        log.warning("cannot read %s", problem)
    return Listing(files=files, unreadable=unreadable)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _listed(entry: os.DirEntry[str], outside: bool, sidecars: tuple[str, ...]) -> ImageFile:
    """The file as listed (``sidecars``: its folder's sidecar files for it); anything that must
    not be opened carries its ``problem``."""
    try:
        link = entry.stat(follow_symlinks=False)
    except OSError as error:
        return ImageFile(
            path=entry.path, size=0, mtime_ns=0, problem=f"cannot stat: {error.strerror or error}"
        )
    if outside:
        target = os.readlink(entry.path)
        return ImageFile(
            path=entry.path,
            size=0,
            mtime_ns=link.st_mtime_ns,
            problem=f"a symbolic link out of the source folder (to {target!r}): not followed",
        )
    try:
        st = entry.stat(follow_symlinks=True)
    except OSError as error:
        what = "a symbolic link loop" if error.errno == errno.ELOOP else "a dangling symbolic link"
        return ImageFile(
            path=entry.path, size=0, mtime_ns=link.st_mtime_ns, problem=f"{what}: {error.strerror}"
        )
    if not stat.S_ISREG(st.st_mode):
        return ImageFile(
            path=entry.path,
            size=0,
            mtime_ns=st.st_mtime_ns,
            problem=f"not a regular file: {file_kind(st.st_mode)}",
        )
    return ImageFile(path=entry.path, size=st.st_size, mtime_ns=st.st_mtime_ns, sidecars=sidecars)


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
        seen = known.get(f.path_key)
        if seen is None:
            todo.append(f)
        elif seen == (f.size, f.mtime_ns, f.sidecar_stamp):
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
