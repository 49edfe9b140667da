"""Error messages on one line: every failure the tool reports is a single `Error: ...` line."""

from __future__ import annotations

import errno
import os


def one_line(error: BaseException | str) -> str:
    """The message with its whitespace (newlines from libraries included) collapsed; the type if empty."""
    text = " ".join(str(error).split())
    return text or (type(error).__name__ if isinstance(error, BaseException) else "")


_OS_REASONS = {
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EEXIST: "it already exists",
}


def _file_in_the_way(path: str) -> str | None:
    """The first existing non-folder among `path`'s parents (or `path` itself), where a folder was needed."""
    parts = os.path.abspath(path).split(os.sep)
    for end in range(2, len(parts) + 1):
        prefix = os.sep.join(parts[:end])
        if not os.path.exists(prefix):
            return None
        if not os.path.isdir(prefix):
            return prefix
    return None


def describe_os_error(error: OSError) -> str:
    """What happened, in words, and to which path: 'permission denied: clip.wav' rather than '[Errno 13] ...'."""
    reason = _OS_REASONS.get(error.errno or -1)
    if reason is None or error.filename is None:
        return one_line(error)
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        blocking = _file_in_the_way(os.fspath(error.filename))
        if blocking:
            return f"{blocking}: it is a file, not a folder"
    if error.errno == errno.ENOENT:  # our own messages name the kind of file ("no such list file")
        own = (error.strerror or "").startswith("no such ")
        return f"{error.strerror if own else 'no such file'}: {error.filename}"
    return f"{error.filename}: {reason}"
