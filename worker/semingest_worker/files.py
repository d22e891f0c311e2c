"""Opening input files safely: only regular files, never blocking on a pipe or a device.

``open(path)`` on a FIFO blocks until a writer appears, forever in an unattended run; opening a
device may have side effects. ``open_regular`` opens with ``O_NONBLOCK`` (a FIFO then opens at
once), checks with ``fstat`` on the opened descriptor (so a file swapped for a FIFO after
discovery is caught too) that it is a regular file, and only then hands out a normal, blocking
binary file object.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link"),
)


class NotRegularFileError(OSError):
    """The path is not a regular file; ``kind`` says what it is ("a FIFO (named pipe)", ...)."""

    def __init__(self, path: str, kind: str):
        super().__init__(f"not a regular file: {kind}")
        self.path = path
        self.kind = kind


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, for messages: "a regular file", "a FIFO (named pipe)", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "a special file"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symbolic links followed).

    Raises ``NotRegularFileError`` for FIFOs, sockets, devices and directories (without blocking)
    and ``OSError`` for everything else (missing, permission denied, a link loop, ...).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(os.fspath(path), file_kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file (see ``open_regular``); ``ValueError`` if larger."""
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data
