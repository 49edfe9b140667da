"""The files prediction and extraction write, every one atomically, each saying how it was made.

- `<audio>.soundnet.h5` (extract_feat.lua): dataset `layer<N>`, float32, the output squeezed as Torch's
  squeeze() does, so C x T (C alone when T is 1, or when pooled over time); `<audio>.soundnet.npz`
  holds the same arrays for NumPy users.
- `<audio>.soundnet_categories.h5` (extract_predictions.lua): datasets `object` and `scene` (a
  fine-tuned net: `class`), float32 softmax probabilities laid out 1 x C x T x 1 as Torch held them.
- A consolidated file (ours): `features/<key>` per clip (C x T, or C when pooled), `paths` and `keys`
  (same order) as the index, `times/<key>` per clip. Keys derive from the path alone, so shards of one
  list merge without clashes.
Every file records its settings as attributes (npz: 0-d arrays): the model (name and sha256), layer,
input scale, channel, pool, the hop in samples and seconds, and a `times` dataset with each step's time
(the centre of its receptive field clipped to the audio, seconds) in the original file's timeline; a tiled
clip says so
(`tiled`, `tile_repeats`, and its times folded back onto the clip).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path
from ..formats.loading import model_label, model_sha256
from ..model.architecture import SAMPLE_RATE, Layer
from ..model.network import SoundNet

FEATURE_SUFFIX = ".soundnet.h5"
FEATURE_FORMATS = {"h5": FEATURE_SUFFIX, "npz": ".soundnet.npz"}
CATEGORY_SUFFIX = ".soundnet_categories.h5"
KIND_FEATURES = "soundnet-features"
KIND_PREDICTIONS = "soundnet-predictions"
KIND_CONSOLIDATED = "soundnet-consolidated"
SETTING_KEYS = ("model_sha256", "layer", "pool", "scale", "channel")  # what a feature's values depend on
_STRING = h5py.string_dtype("utf-8")


def feature_settings(model: SoundNet, layer: Layer, pool: str, scale: float, channel: str) -> dict:
    """The attributes of a feature file: what its values depend on, and the time geometry of its steps."""
    return {
        "model": model_label(model),
        "model_sha256": model_sha256(model),
        "architecture": model.name,
        "layer": layer.index,
        "layer_name": layer.name,
        "pool": pool,
        "scale": float(scale),
        "channel": channel,
        **step_geometry(model, layer),
    }


def step_geometry(model: SoundNet, layer: Layer) -> dict:
    """Hop and receptive field of `layer`: step j sees samples [j*hop - offset, j*hop - offset + window)."""
    field = model.architecture.receptive_field(layer)
    return {
        "sample_rate": SAMPLE_RATE,
        "hop_samples": field.stride,
        "hop_seconds": field.stride / SAMPLE_RATE,
        "offset_samples": field.offset,
        "window_samples": field.size,
    }


def step_times(geometry: dict, steps: int, samples: int | None = None, repeats: int = 1) -> np.ndarray:
    """Each step's time in seconds: the centre of its window (clipped to the audio when its length is
    known), folded back onto the clip when it was tiled `repeats` times."""
    starts = np.arange(steps) * geometry["hop_samples"] - geometry["offset_samples"]
    ends = starts + geometry["window_samples"]
    if samples:
        starts, ends = np.clip(starts, 0, samples * repeats), np.clip(ends, 0, samples * repeats)
    centres = (starts + ends) / 2
    if repeats > 1 and samples:
        centres = np.mod(centres, samples)
    return centres / geometry["sample_rate"]


def same_settings(found: dict, wanted: dict) -> bool:
    """Whether a file's attributes match the settings that determine its values."""
    return all(str(found.get(key)) == str(wanted.get(key)) for key in SETTING_KEYS)


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


def _write(path: Path, datasets: dict[str, np.ndarray], attrs: dict) -> Path:
    """HDF5 (float32 datasets, `times` float64) or, for a .npz path, the same arrays plus 0-d attribute arrays."""
    arrays = {
        name: np.asarray(data, dtype=np.float64 if name == "times" else np.float32) for name, data in datasets.items()
    }
    if path.suffix == ".npz":
        with atomic_path(path, suffix=".npz.tmp") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays, **{f"attr_{key}": np.asarray(value) for key, value in attrs.items()})
        return path
    with atomic_path(path, suffix=".h5.tmp") as tmp, h5py.File(tmp, "w") as handle:
        for name, data in arrays.items():
            handle.create_dataset(name, data=data)
        handle.attrs.update(attrs)
    return path


def write_layer_file(
    path: str | os.PathLike, layer_index: int, features: np.ndarray, attrs: dict, samples: int | None = None
) -> Path:
    """extract_feat.lua's file: dataset layer<N> holding the squeezed float32 features, plus `times` and the
    settings (feature_settings) as attributes; `.npz` for a NumPy archive."""
    features = np.asarray(features)
    datasets = {dataset_name(layer_index): torch7_squeeze(features)}
    attrs = {**attrs, "kind": KIND_FEATURES, "layer": layer_index}
    if samples is not None:
        attrs["samples"] = int(samples)
    if attrs.get("pool", "none") == "none" and "hop_samples" in attrs:
        datasets["times"] = step_times(attrs, features.shape[-1], samples)
    return _write(Path(path), datasets, attrs)


def write_categories_file(
    path: str | os.PathLike, probabilities: dict[str, np.ndarray], attrs: dict, samples: int, repeats: int = 1
) -> Path:
    """extract_predictions.lua's file: each head's probabilities (C x T) stored 1 x C x T x 1 by head label
    (`object`, `scene`; a fine-tuned net: `class`), with `times` in the clip's timeline and the settings."""
    steps = next(iter(probabilities.values())).shape[-1]
    datasets = {head: np.asarray(values)[None, :, :, None] for head, values in probabilities.items()}
    datasets["times"] = step_times(attrs, steps, samples, repeats)
    attrs = {
        **attrs,
        "kind": KIND_PREDICTIONS,
        "samples": int(samples),
        "tiled": repeats > 1,
        "tile_repeats": int(repeats),
    }
    return _write(Path(path), datasets, attrs)


def read_settings(path: str | os.PathLike) -> dict:
    """The attributes of an h5 or npz feature file ({} when it has none or cannot be read)."""
    try:
        if str(path).endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                return {key[5:]: archive[key][()] for key in archive.files if key.startswith("attr_")}
        with h5py.File(path, "r") as handle:
            return dict(handle.attrs)
    except (OSError, ValueError, KeyError):
        return {}


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


def write_consolidated(
    target: str | os.PathLike,
    entries: Iterable[tuple[str, np.ndarray, int]],
    attrs: dict,
    sources: Iterable[str | os.PathLike] = (),
) -> int:
    """Write (path, features, samples) entries plus every clip of the consolidated `sources` into `target`.

    Sources must share the layer, pool and model attributes; a clip present twice is kept once.
    Returns the number of clips written. The target may be one of the sources (it is replaced whole).
    """
    paths: list[str] = []
    with atomic_path(target, suffix=".h5.tmp") as tmp, h5py.File(tmp, "w") as out:
        group, times = out.create_group("features"), out.create_group("times")
        out.attrs.update({**attrs, "kind": KIND_CONSOLIDATED})
        for source in sources:
            _copy_clips(source, out, attrs, paths)
        for path, features, samples in entries:
            key = clip_key(path)
            if key not in group:
                group.create_dataset(key, data=np.asarray(features, dtype=np.float32))
                group[key].attrs["samples"] = int(samples)
                if attrs.get("pool", "none") == "none" and "hop_samples" in attrs:
                    times.create_dataset(key, data=step_times(attrs, np.shape(features)[-1], samples))
                paths.append(path)
        out.create_dataset("paths", data=np.array(paths, dtype=object), dtype=_STRING)
        out.create_dataset("keys", data=np.array([clip_key(p) for p in paths], dtype=object), dtype=_STRING)
    return len(paths)


def check_compatible(source: str | os.PathLike, attrs: dict) -> None:
    """A consolidated file made with other settings (layer, pool, model, ...) cannot be merged."""
    theirs = read_attrs(source)
    differing = sorted(name for name in SETTING_KEYS if str(theirs.get(name)) != str(attrs.get(name)))
    if differing:
        found = ", ".join(f"{name}={theirs.get(name)} (not {attrs[name]})" for name in differing)
        raise ValueError(f"{source} was made with other settings: {found}")


def _copy_clips(source: str | os.PathLike, out: h5py.File, attrs: dict, paths: list[str]) -> None:
    index = read_index(source)
    check_compatible(source, attrs)
    with h5py.File(source, "r") as handle:
        for path, key in index.items():
            if key not in out["features"]:
                handle.copy(handle["features"][key], out["features"], key)
                if "times" in handle and key in handle["times"]:
                    handle.copy(handle["times"][key], out["times"], key)
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


def _describe_attrs(attrs: dict) -> list[str]:
    shown = (
        "model",
        "model_sha256",
        "architecture",
        "layer",
        "layer_name",
        "pool",
        "scale",
        "channel",
        "hop_samples",
        "hop_seconds",
        "window_samples",
        "samples",
        "recipe",
        "tiled",
        "tile_repeats",
    )
    return [f"  {key}: {_plain(attrs[key])}" for key in shown if key in attrs]


def _plain(value: object) -> object:
    return (
        value.item() if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0) else value
    )


def _describe_arrays(arrays: dict[str, tuple[tuple[int, ...], np.ndarray | None]]) -> list[str]:
    lines = []
    for name, (shape, times) in arrays.items():
        lines.append(f"  {name}: {'x'.join(map(str, shape)) or 'scalar'}")
        if times is not None and len(times):
            lines.append(f"  {name} step times: {len(times)} from {times[0]:.3f} s to {times[-1]:.3f} s")
    return lines


def describe_output_file(path: str | os.PathLike) -> str | None:
    """A report for a feature, consolidated or prediction file; None when the file is none of these."""
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read {path} as npz: {error}") from None
        attrs = {name[5:]: value[()] for name, value in arrays.items() if name.startswith("attr_")}
        layers = {
            name: (value.shape, arrays.get("times")) for name, value in arrays.items() if name.startswith("layer")
        }
        if not layers:
            return None
        return "\n".join(
            [
                f"{path}: SoundNet feature file (npz), {path.stat().st_size:,} bytes",
                *_describe_attrs(attrs),
                *_describe_arrays(layers),
            ]
        )
    if not h5py.is_hdf5(path):
        return None
    with h5py.File(path, "r") as handle:
        attrs, names = dict(handle.attrs), set(handle)
        times = handle["times"][()] if isinstance(handle.get("times"), h5py.Dataset) else None
        if {"features", "paths", "keys"} <= names:
            paths = handle["paths"].asstr()[()]
            lines = [
                f"{path}: consolidated SoundNet feature file, {len(paths)} clip(s), {path.stat().st_size:,} bytes",
                *_describe_attrs(attrs),
            ]
            for clip in list(paths)[:5]:
                key = clip_key(clip)
                shape = handle["features"][key].shape if key in handle["features"] else ()
                lines.append(f"  {clip}: {'x'.join(map(str, shape))}")
            if len(paths) > 5:
                lines.append(f"  ... and {len(paths) - 5} more")
            return "\n".join(lines)
        layers = sorted(name for name in names if name.startswith("layer") and name[5:].isdigit())
        if layers:
            arrays = {name: (handle[name].shape, times) for name in layers}
            return "\n".join(
                [
                    f"{path}: SoundNet feature file (extract_feat.lua layout), {path.stat().st_size:,} bytes",
                    *_describe_attrs(attrs),
                    *_describe_arrays(arrays),
                ]
            )
        heads = [name for name in ("object", "scene", "class") if name in names]
        if heads:
            arrays = {name: (handle[name].shape, times) for name in heads}
            return "\n".join(
                [
                    f"{path}: SoundNet prediction file (extract_predictions.lua layout, softmax "
                    f"probabilities 1 x C x T x 1), {path.stat().st_size:,} bytes",
                    *_describe_attrs(attrs),
                    *_describe_arrays(arrays),
                ]
            )
    return None
