"""The HDF5 files prediction and extraction write, every one atomically.

- `<audio>.soundnet.h5` (extract_feat.lua): dataset `layer<N>`, float32, the output squeezed as Torch's
  squeeze() does, so C x T (C alone when T is 1, or when pooled over time).
- `<audio>.soundnet_categories.h5` (extract_predictions.lua): datasets `object` and `scene`, float32
  softmax probabilities laid out 1 x C x T x 1 as Torch held them.
- A consolidated file (ours): `features/<key>` per clip (C x T, or C when pooled), `paths` and `keys`
  (same order) as the index, and the layer, pool and model as root attributes. Keys derive from the
  path alone, so shards of one list merge without clashes.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path

FEATURE_SUFFIX = ".soundnet.h5"
CATEGORY_SUFFIX = ".soundnet_categories.h5"
_STRING = h5py.string_dtype("utf-8")


def dataset_name(layer_index: int) -> str:
    return f"layer{layer_index}"


def output_path(audio: str | os.PathLike, suffix: str, out_dir: str | os.PathLike | None = None) -> Path:
    """`<audio><suffix>` beside the audio, or under out_dir mirroring the audio's path.

    A relative path is mirrored as given; an absolute one (or one climbing out with ..) is mirrored
    from the file system root, so distinct audio files never share an output.
    """
    name = os.path.normpath(os.fspath(audio))
    if out_dir is None:
        return Path(name + suffix)
    if os.path.isabs(name) or name.split(os.sep)[0] == os.pardir:
        name = os.path.abspath(name).lstrip(os.sep)
    return Path(out_dir) / (name + suffix)


def torch7_squeeze(array: np.ndarray) -> np.ndarray:
    """Torch7's squeeze(): drop every size-1 dimension but keep at least one."""
    squeezed = np.squeeze(array)
    return squeezed.reshape(1) if squeezed.ndim == 0 else squeezed


def _write(path: Path, datasets: dict[str, np.ndarray], attrs: dict | None = None) -> Path:
    with atomic_path(path, suffix=".h5.tmp") as tmp, h5py.File(tmp, "w") as handle:
        for name, data in datasets.items():
            handle.create_dataset(name, data=np.asarray(data, dtype=np.float32))
        handle.attrs.update(attrs or {})
    return path


def write_layer_file(path: str | os.PathLike, layer_index: int, features: np.ndarray, pool: str = "none") -> Path:
    """extract_feat.lua's file: dataset layer<N> holding the squeezed float32 features."""
    return _write(Path(path), {dataset_name(layer_index): torch7_squeeze(features)},
                  {"pool": pool} if pool != "none" else None)


def write_categories_file(path: str | os.PathLike, objects: np.ndarray, scenes: np.ndarray) -> Path:
    """extract_predictions.lua's file: `object` and `scene` probabilities (C x T) stored 1 x C x T x 1."""
    return _write(Path(path), {"object": np.asarray(objects)[None, :, :, None],
                               "scene": np.asarray(scenes)[None, :, :, None]})


def clip_key(path: str) -> str:
    """The dataset name of a clip in a consolidated file: a digest of its path as listed."""
    return hashlib.sha1(os.path.normpath(path).encode("utf-8")).hexdigest()[:20]


def read_index(path: str | os.PathLike) -> dict[str, str]:
    """path -> key of the clips in a consolidated file; a clear error when it is not one."""
    if not Path(path).is_file():
        raise ValueError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as handle:
            paths, keys = handle["paths"].asstr()[()], handle["keys"].asstr()[()]
    except (OSError, KeyError, TypeError):
        raise ValueError(f"{path}: not a consolidated SoundNet feature file (no paths/keys index)") from None
    return dict(zip(paths, keys))


def read_attrs(path: str | os.PathLike) -> dict:
    with h5py.File(path, "r") as handle:
        return dict(handle.attrs)


def write_consolidated(target: str | os.PathLike, entries: Iterable[tuple[str, np.ndarray]], attrs: dict,
                       sources: Iterable[str | os.PathLike] = ()) -> int:
    """Write (path, features) entries plus every clip of the consolidated `sources` into `target`.

    Sources must share the layer, pool and model attributes; a clip present twice is kept once.
    Returns the number of clips written. The target may be one of the sources (it is replaced whole).
    """
    paths: list[str] = []
    with atomic_path(target, suffix=".h5.tmp") as tmp, h5py.File(tmp, "w") as out:
        group = out.create_group("features")
        out.attrs.update(attrs)
        for source in sources:
            _copy_clips(source, group, attrs, paths)
        for path, features in entries:
            key = clip_key(path)
            if key not in group:
                group.create_dataset(key, data=np.asarray(features, dtype=np.float32))
                paths.append(path)
        out.create_dataset("paths", data=np.array(paths, dtype=object), dtype=_STRING)
        out.create_dataset("keys", data=np.array([clip_key(p) for p in paths], dtype=object), dtype=_STRING)
    return len(paths)


def check_compatible(source: str | os.PathLike, attrs: dict) -> None:
    """A consolidated file made with other settings (layer, pool, model, ...) cannot be merged."""
    theirs = read_attrs(source)
    differing = sorted(name for name in attrs if str(theirs.get(name)) != str(attrs[name]))
    if differing:
        found = ", ".join(f"{name}={theirs.get(name)} (not {attrs[name]})" for name in differing)
        raise ValueError(f"{source} was made with other settings: {found}")


def _copy_clips(source: str | os.PathLike, group: h5py.Group, attrs: dict, paths: list[str]) -> None:
    index = read_index(source)
    check_compatible(source, attrs)
    with h5py.File(source, "r") as handle:
        for path, key in index.items():
            if key not in group:
                handle.copy(handle["features"][key], group, key)
                paths.append(path)


def merge_consolidated(target: str | os.PathLike, parts: Iterable[str | os.PathLike]) -> int:
    """One consolidated file from shard files made with the same layer, pool and model."""
    parts = list(parts)
    if not parts:
        raise ValueError("name at least one consolidated file to merge")
    if Path(target).exists() and Path(target).resolve() not in {Path(part).resolve() for part in parts}:
        raise ValueError(f"{target} exists; name it among the files to merge to add to it")
    for part in parts:
        read_index(part)  # a missing or foreign file fails here, before anything is written
    return write_consolidated(target, (), read_attrs(parts[0]), parts)
