"""Atomic output: write to a temporary file beside the target, rename over it only on success.

A killed or failing job therefore never leaves a half-written output under the final name. Temporary
names carry the writer's host and process id, so the next write into a folder removes the leftovers of
writers on this host that were killed (SIGKILL leaves no chance to clean up) and never a live one's.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

FULL_DISK_BYTES = 1 << 20  # a failed write with less free space than this is reported as a full disk
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_TEMPORARY = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[^.]+\..*tmp$")
_swept: set[Path] = set()


class DiskFullError(OSError):
    """Writing an output failed because its file system is full."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files of killed writers on this host in `folder`; returns what was removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMPORARY.match(entry.name)
            if match and match["host"] == _HOST and not _alive(int(match["pid"])) and entry.is_file():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _full(folder: Path) -> bool:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < FULL_DISK_BYTES


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on normal exit it replaces `target`.

    The result gets the permissions the umask gives new files, whatever the writer created; a write
    that fails on a full file system raises DiskFullError naming the target.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.parent.resolve() not in _swept:
        remove_stale_temporaries(target.parent)
        _swept.add(target.parent.resolve())
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{_HOST}-{os.getpid()}-", suffix=suffix or target.suffix + ".tmp", dir=target.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600, and some writers recreate the file
        os.replace(tmp, target)
    except BaseException as error:
        full = isinstance(error, Exception) and (getattr(error, "errno", None) == errno.ENOSPC or _full(target.parent))
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if full:
            raise DiskFullError(errno.ENOSPC, "No space left on device", str(target)) from None
        raise
