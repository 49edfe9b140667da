"""Features of one layer for clips tiled to 10 s, cached in one HDF5 file.

Extraction is the slow part of the evaluation protocol; the SVM's C and the time window are cheap to
vary. So each clip's whole C x T feature map is cached under a key of everything it depends on (the
model file's sha256, layer, input scale, the clip's absolute path, size and mtime): a rerun with another
C or window reads them back, a changed model or clip is recomputed. The cache is rewritten atomically
every FLUSH_EVERY new clips, so a killed run keeps what it finished and never leaves a broken file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_path
from ..audio import load_audio
from ..devices import as_numpy, dtype_name
from ..inference.features import extract_features
from ..inference.tiling import TILE_SECONDS, eval_esc50
from ..input_files import regular_file
from ..model.architecture import Layer
from ..model.network import Output, SoundNet

FLUSH_EVERY = 256
CACHE_MARK = "soundnet_feature_cache"  # attribute of every cache file written here; others are never replaced
CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheStats:
    computed: int
    reused: int


def feature_key(model_sha256: str, layer: Layer, scale: float, path: Path, dtype: str = "float32") -> dict:
    """What a cached feature map depends on; its JSON's sha1 names the HDF5 dataset."""
    stat = path.stat()
    return {
        "model_sha256": model_sha256,
        "layer": layer.index,
        "scale": float(scale),
        "dtype": dtype,
        "seconds": TILE_SECONDS,
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _dataset_name(key: dict) -> str:
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()


class FeatureCache:
    """An HDF5 file with one float32 C x T dataset per key; the key's fields are its attributes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            return
        if not h5py.is_hdf5(regular_file(self.path, "feature cache")):
            raise ValueError(f"feature cache {self.path} is not an HDF5 file; remove it or choose another cache file")
        with h5py.File(self.path, "r") as handle:
            if handle.attrs.get(CACHE_MARK) != CACHE_VERSION:
                raise ValueError(
                    f"{self.path} is an HDF5 file this tool did not write as a feature cache; it is left "
                    f"untouched (choose another cache file)"
                )

    def read(self, keys: Sequence[dict]) -> dict[str, np.ndarray]:
        """The cached maps among `keys`, by dataset name."""
        if not self.path.exists():
            return {}
        names = {_dataset_name(key) for key in keys}
        with h5py.File(self.path, "r") as handle:
            return {name: handle[name][()] for name in names if name in handle}

    def write(self, entries: Sequence[tuple[dict, np.ndarray]]) -> None:
        """Add entries: copy the old file and the new maps into a temporary file, then rename it over."""
        with atomic_path(self.path, suffix=".h5.tmp") as tmp, h5py.File(tmp, "w") as out:
            out.attrs[CACHE_MARK] = CACHE_VERSION
            if self.path.exists():
                with h5py.File(self.path, "r") as old:
                    for name in old:
                        old.copy(old[name], out, name)
            for key, features in entries:
                name = _dataset_name(key)
                if name in out:
                    del out[name]
                out.create_dataset(name, data=features.astype(np.float32))
                out[name].attrs.update(key)


def _as_array(output: Output) -> np.ndarray:
    """B x C x T features; the two heads of the head index are concatenated along C."""
    if isinstance(output, tuple):
        output = torch.cat(tuple(output), dim=1)
    return as_numpy(output)


def clip_features(
    model: SoundNet,
    model_sha256: str,
    paths: Sequence[Path],
    layer: Layer,
    scale: float,
    cache: FeatureCache,
    batch_size: int = 16,
) -> tuple[np.ndarray, CacheStats]:
    """N x C x T features of each clip tiled (or cut) to 10 s, read from the cache where possible."""
    keys = [feature_key(model_sha256, layer, scale, path, dtype_name(model)) for path in paths]
    names = [_dataset_name(key) for key in keys]
    found = cache.read(keys)
    missing = [i for i, name in enumerate(names) if name not in found]
    pending: list[tuple[dict, np.ndarray]] = []
    with tqdm(
        total=len(missing),
        desc=f"features of layer {layer.index} ({layer.name})",
        unit="clip",
        disable=None,
        leave=False,
    ) as progress:
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            waves = torch.stack([eval_esc50(load_audio(paths[i], scale=scale)) for i in batch])
            for i, features in zip(batch, _as_array(extract_features(model, waves, layer))):
                found[names[i]] = features
                pending.append((keys[i], features))
            if len(pending) >= FLUSH_EVERY:
                cache.write(pending)
                pending = []
            progress.update(len(batch))
    if pending:
        cache.write(pending)
    features = np.stack([found[name] for name in names]) if names else np.zeros((0, 0, 0), np.float32)
    return features, CacheStats(computed=len(missing), reused=len(paths) - len(missing))
