"""Where `soundnet extract` puts features: one file per clip, or one consolidated file.

Both know which clips are finished (for skipping and resuming) and never leave a half-written file.
The consolidated sink writes what it has every FLUSH_EVERY clips as a small part file beside the target
(`<target>.parts/`), and on closing merges the parts and the old target into the target: a killed job
loses at most the clips since its last part, and the next run finds the parts and skips their clips.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from .feature_files import (
    FEATURE_FORMATS,
    check_compatible,
    output_path,
    read_index,
    read_settings,
    same_settings,
    write_consolidated,
    write_layer_file,
)

FLUSH_EVERY = 256


class Sink:
    """The interface: done(path), write(path, features, samples), used as a context manager (exit = finish)."""

    def done(self, path: str) -> bool:
        raise NotImplementedError

    def write(self, path: str, features: np.ndarray, samples: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc) -> None:
        return None


class PerFileSink(Sink):
    """`<audio>.soundnet.h5` (or .npz; beside the audio or under out_dir) with dataset layer<N>, as
    extract_feat.lua wrote it, plus the settings.

    An existing output counts as finished only when it records the same model sha256, layer, pool,
    scale and channel (feature_files.SETTING_KEYS); one made otherwise, or by an older version that
    recorded nothing, is recomputed, never silently kept. `force` recomputes every output.
    """

    def __init__(self, settings: dict, out_dir: str | os.PathLike | None = None, fmt: str = "h5"):
        if fmt not in FEATURE_FORMATS:
            raise ValueError(f"feature format must be one of {', '.join(FEATURE_FORMATS)}, got {fmt!r}")
        self.settings, self.out_dir, self.suffix = settings, out_dir, FEATURE_FORMATS[fmt]

    def output(self, path: str) -> Path:
        return output_path(path, self.suffix, self.out_dir)

    def done(self, path: str) -> bool:
        output = self.output(path)
        return output.exists() and same_settings(read_settings(output), self.settings)

    def write(self, path: str, features: np.ndarray, samples: int) -> None:
        write_layer_file(self.output(path), self.settings["layer"], features, self.settings, samples)


class ConsolidatedSink(Sink):
    """One HDF5 file: features/<key> per clip plus the paths/keys index (see feature_files)."""

    def __init__(self, target: str | os.PathLike, attrs: dict, flush_every: int = FLUSH_EVERY):
        self.target, self.attrs, self.flush_every = Path(target), attrs, flush_every
        self.parts_dir = self.target.with_name(self.target.name + ".parts")
        self.pending: list[tuple[str, np.ndarray, int]] = []
        self.finished: set[str] = set()
        for source in self._sources():
            self.finished.update(read_index(source))
            check_compatible(source, attrs)

    def _sources(self) -> list[Path]:
        """Part files newest first (their clips win), then the target: the order merging keeps."""
        parts = sorted(self.parts_dir.glob("part-*.h5"), reverse=True) if self.parts_dir.is_dir() else []
        return parts + ([self.target] if self.target.exists() else [])

    def done(self, path: str) -> bool:
        return path in self.finished

    def write(self, path: str, features: np.ndarray, samples: int) -> None:
        self.pending.append((path, features, samples))
        if len(self.pending) >= self.flush_every:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            part = self.parts_dir / f"part-{time.time_ns():020d}-{os.getpid()}.h5"
            write_consolidated(part, self.pending, self.attrs)
            self.finished.update(path for path, _, _ in self.pending)
            self.pending = []

    def __exit__(self, *exc) -> None:
        self._flush()
        sources = self._sources()
        if sources and sources[0] != self.target:  # parts to merge, also after a failure
            write_consolidated(self.target, (), self.attrs, sources)
            shutil.rmtree(self.parts_dir, ignore_errors=True)
