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

from .feature_files import (FEATURE_SUFFIX, check_compatible, output_path, read_index,
                            write_consolidated, write_layer_file)

FLUSH_EVERY = 256


class Sink:
    """The interface: done(path), write(path, features), used as a context manager (exit = finish)."""

    def done(self, path: str) -> bool:
        raise NotImplementedError

    def write(self, path: str, features: np.ndarray) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc) -> None:
        return None


class PerFileSink(Sink):
    """`<audio>.soundnet.h5` (or under out_dir) with dataset layer<N>, as extract_feat.lua wrote it.

    As the original, an existing output counts as finished; use force to recompute (for instance after
    changing the layer).
    """

    def __init__(self, layer_index: int, pool: str = "none", out_dir: str | os.PathLike | None = None):
        self.layer_index, self.pool, self.out_dir = layer_index, pool, out_dir

    def output(self, path: str) -> Path:
        return output_path(path, FEATURE_SUFFIX, self.out_dir)

    def done(self, path: str) -> bool:
        return self.output(path).exists()

    def write(self, path: str, features: np.ndarray) -> None:
        write_layer_file(self.output(path), self.layer_index, features, self.pool)


class ConsolidatedSink(Sink):
    """One HDF5 file: features/<key> per clip plus the paths/keys index (see feature_files)."""

    def __init__(self, target: str | os.PathLike, attrs: dict, flush_every: int = FLUSH_EVERY):
        self.target, self.attrs, self.flush_every = Path(target), attrs, flush_every
        self.parts_dir = self.target.with_name(self.target.name + ".parts")
        self.pending: list[tuple[str, np.ndarray]] = []
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

    def write(self, path: str, features: np.ndarray) -> None:
        self.pending.append((path, features))
        if len(self.pending) >= self.flush_every:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            part = self.parts_dir / f"part-{time.time_ns():020d}-{os.getpid()}.h5"
            write_consolidated(part, self.pending, self.attrs)
            self.finished.update(path for path, _ in self.pending)
            self.pending = []

    def __exit__(self, *exc) -> None:
        self._flush()
        sources = self._sources()
        if sources and sources[0] != self.target:  # parts to merge, also after a failure
            write_consolidated(self.target, (), self.attrs, sources)
            shutil.rmtree(self.parts_dir, ignore_errors=True)


def consolidated_attrs(model_sha256: str, layer_index: int, layer_name: str, pool: str, scale: float,
                       channel: str) -> dict:
    """What a consolidated file's features depend on; merging checks that they agree."""
    return {"model_sha256": model_sha256, "layer": layer_index, "layer_name": layer_name, "pool": pool,
            "scale": float(scale), "channel": channel}
