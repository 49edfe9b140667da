"""Files a command reads: regular files only, and text lists of bounded size.

A FIFO or a device (/dev/zero) named as a model or a list would block or fill memory; a folder would fail
later with a misleading message. Each gets one line saying what the path actually is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_LIST_BYTES = 1 << 30  # a text list of a million clips is ~100 MB


class MissingFileError(FileNotFoundError, ValueError):
    """A named input does not exist (an OSError for callers that handle those, a ValueError for the rest)."""

    def __str__(self) -> str:
        return f"{self.strerror}: {self.filename}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """The path, if it names a readable regular file; else FileNotFoundError/PermissionError/ValueError."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise MissingFileError(errno.ENOENT, f"no such {what}", str(path)) from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what} {path} is {_kind(mode)}, not a regular file")
    with open(path, "rb"):  # PermissionError here says 'permission denied' with the path
        pass
    return path


def read_text_lines(path: str | os.PathLike, what: str = "list file") -> list[str]:
    """The lines of a UTF-8 text file of at most MAX_LIST_BYTES; one-line errors otherwise."""
    path = regular_file(path, what)
    size = path.stat().st_size
    if size > MAX_LIST_BYTES:
        raise ValueError(
            f"{what} {path} is {size / 2**30:.1f} GiB; lists larger than {MAX_LIST_BYTES / 2**30:.0f} GiB are refused"
        )
    try:
        return path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{what} {path} is not UTF-8 text") from None
