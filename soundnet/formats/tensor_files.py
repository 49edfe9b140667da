"""Converted weights on disk: safetensors (default, with metadata), .pth state_dict, HDF5.

Every format holds the model's state_dict under its PyTorch names (conv1.weight, bn1.running_var,
object_head.weight, ...). safetensors and HDF5 also carry metadata (architecture, class counts, sample
rate, input scale, the Torch index map, the source file's sha256, the package version and, when given,
the category names); a .pth is a plain state_dict and the architecture is read back from its shapes.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..atomic import atomic_path
from ..errors import one_line
from ..model.architecture import INPUT_SCALE, SAMPLE_RATE
from ..model.heads import head_module_names
from ..model.network import SoundNet
from ..model.weights import descriptive_metadata
from .custom_head import HEAD_KEY, head_metadata, soundnet_with_head_from_weights
from .networks import is_network
from .peer_formats import NPY_MAGIC, rename_port_state
from .validation import float32_state

SUFFIX_FORMATS = {".safetensors": "safetensors", ".pth": "pth", ".pt": "pth", ".h5": "h5", ".hdf5": "h5", ".t7": "t7"}
FORMATS = ("safetensors", "pth", "h5", "t7")
MAX_PARAMETER_BYTES = 1 << 30  # a full-width SoundNet8 is 115 MB


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The file format, from an explicit name or the suffix; a clear error for anything else."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise ValueError(
            f"cannot tell the format of {path} from its suffix; use one of {', '.join(sorted(SUFFIX_FORMATS))}"
        )
    return SUFFIX_FORMATS[suffix]


def sniff_format(path: str | Path) -> str | None:
    """The format the file's first bytes show (None when they show nothing known)."""
    with open(path, "rb") as handle:
        head = handle.read(16)
        size = os.fstat(handle.fileno()).st_size
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80\x02\x8a\x0a"):  # torch.save: zip or legacy
        return "pth"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "h5"
    if len(head) >= 9 and 0 < int.from_bytes(head[:8], "little") <= size - 8 and head[8:9] == b"{":
        return "safetensors"
    return None


def detect_format(path: str | Path) -> str:
    """The format of an existing file: by content, else by suffix (.t7 files have no magic bytes)."""
    return sniff_format(path) or format_of(path)


def torch_index_map(model: SoundNet) -> dict[str, list[str]]:
    """Torch top-level index -> the PyTorch module names it became (the heads index has two)."""
    mapping = {str(layer.index): [layer.name] for layer in model.architecture.body}
    head = model.architecture.head
    mapping[str(head.index)] = list(head_module_names(model.architecture))
    return mapping


def model_metadata(model: SoundNet) -> dict[str, str]:
    """String metadata describing the model (safetensors metadata must be str -> str)."""
    from .. import __version__

    meta = {
        "format": "soundnet-t7",
        "architecture": model.name,
        "widths": json.dumps(list(model.widths)),
        "classes": json.dumps(list(model.classes)),
        "sample_rate": str(SAMPLE_RATE),
        "input_scale": str(INPUT_SCALE),
        "torch_index_map": json.dumps(torch_index_map(model)),
        "bn_eps": json.dumps(model.bn_eps()),
        "soundnet_t7_version": __version__,
    }
    for key in ("source_sha256", "source_file"):
        if key in model.metadata:
            meta[key] = str(model.metadata[key])
    weights = getattr(model, "weights", None)
    categories = model.metadata.get("categories") or (weights.meta.get("categories") if weights else None)
    if categories:
        meta["categories"] = json.dumps([list(names) for names in categories])
    if model.metadata.get("class_names"):
        meta["class_names"] = json.dumps(list(model.metadata["class_names"]))
    meta.update(descriptive_metadata(weights))
    meta.update(head_metadata(model))
    return meta


def tensors_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        key: value.detach().cpu().contiguous()
        for key, value in model.state_dict().items()
        if not key.endswith("num_batches_tracked")
    }


def save_weights(model: SoundNet, path: str | Path, fmt: str) -> None:
    """Write the model as safetensors, pth or h5, atomically."""
    write_tensors(tensors_of(model), model_metadata(model), path, fmt)


def write_tensors(state: dict[str, torch.Tensor], meta: dict[str, str], path: str | Path, fmt: str) -> None:
    """Write tensors (and, but for pth, the metadata) as safetensors, pth or h5, atomically."""
    if fmt == "pth" and (HEAD_KEY in meta or is_network(meta)):
        raise ValueError("a .pth state_dict cannot hold the module tree this model needs; write .safetensors or .h5")
    with atomic_path(path) as tmp:
        if fmt == "safetensors":
            save_file(state, str(tmp), metadata=meta)
        elif fmt == "pth":
            torch.save(state, tmp)
        elif fmt == "h5":
            image = io.BytesIO()  # built in memory: HDF5 can crash when the disk fills under it
            with h5py.File(image, "w") as h5:
                for key, value in state.items():
                    h5.create_dataset(key, data=value.numpy())
                h5.attrs.update(meta)
            tmp.write_bytes(image.getbuffer())
        else:
            raise ValueError(f"save_weights does not write {fmt!r}")


def _h5_state(h5: h5py.File) -> dict[str, torch.Tensor]:
    """Every dataset as a tensor; declared sizes are checked before anything is read (gzip can hide gigabytes)."""
    datasets: dict[str, h5py.Dataset] = {}
    h5.visititems(
        lambda name, item: (
            datasets.__setitem__(name.replace("/", "."), item) if isinstance(item, h5py.Dataset) else None
        )
    )
    declared = sum(item.size * item.dtype.itemsize for item in datasets.values())
    if declared > MAX_PARAMETER_BYTES:
        raise ValueError(
            f"its datasets declare {declared / 2**30:.1f} GiB, more than any SoundNet "
            f"({MAX_PARAMETER_BYTES / 2**30:.0f} GiB at most)"
        )
    return {name: torch.from_numpy(np.asarray(item[()])) for name, item in datasets.items()}


def read_weights(path: str | Path, fmt: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state_dict, metadata) from a safetensors, pth or h5 file; one-line ValueError when unreadable."""
    try:
        if fmt == "safetensors":
            with safe_open(str(path), framework="pt") as handle:
                return {key: handle.get_tensor(key) for key in handle.keys()}, dict(handle.metadata() or {})
        if fmt == "pth":
            state = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise ValueError("not a state_dict of tensors")
            key = next((key for key in state if not isinstance(key, str)), None)
            if key is not None:
                raise ValueError(f"not a state_dict: key {key!r} is not a parameter name")
            return dict(state), {}
        with h5py.File(path, "r") as h5:
            return _h5_state(h5), {key: str(value) for key, value in h5.attrs.items()}
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower():  # torch's advice to load it unsafely is not repeated
            raise ValueError(
                f"refused {path}: it holds Python objects other than tensors, which could run code "
                f"when loaded; only state_dicts of tensors are read"
            ) from None
        raise ValueError(f"cannot read {path} as {fmt}: {one_line(error)}") from None
    except Exception as error:  # each backend has its own exception types; all mean "unreadable"
        raise ValueError(f"cannot read {path} as {fmt}: {one_line(error)}") from None


def infer_architecture(state: dict[str, torch.Tensor]) -> tuple[str, list[int], Any]:
    """(architecture, widths, classes) from state-dict names and shapes, for files without metadata."""
    if "classifier.weight" in state:
        name, classes = "soundnet8-finetuned", state["classifier.weight"].shape[0]
    elif "object_head.weight" in state and "scene_head.weight" in state:
        name = "soundnet8" if "conv7.weight" in state else "soundnet5"
        classes = [state["object_head.weight"].shape[0], state["scene_head.weight"].shape[0]]
    else:
        raise ValueError("not SoundNet weights: no object_head/scene_head or classifier parameters")
    widths, block = [], 1
    while f"conv{block}.weight" in state:
        widths.append(state[f"conv{block}.weight"].shape[0])
        block += 1
    return name, widths, classes


def model_from_weights(state: dict[str, torch.Tensor], meta: dict[str, str], source: str | Path) -> SoundNet:
    """Build the model the metadata (or, lacking it, the shapes) describe and load the state strictly."""
    if HEAD_KEY in meta:
        return soundnet_with_head_from_weights(float32_state(state, source), meta, source)
    state = float32_state(rename_port_state(state), source)
    name, widths, classes = infer_architecture(state)
    if meta.get("architecture") and meta["architecture"] != name:
        raise ValueError(f"{source}: metadata says {meta['architecture']} but the parameters are {name}")
    try:
        model = SoundNet.from_state_dict(name, widths, classes, state)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    if "bn_eps" in meta:
        try:
            model.set_bn_eps(json.loads(meta["bn_eps"]))
        except (ValueError, TypeError, AttributeError) as error:
            raise ValueError(f"{source}: bad bn_eps metadata: {one_line(error)}") from None
    model.metadata.update({key: value for key, value in meta.items() if key in ("source_sha256", "source_file")})
    if "categories" in meta:
        try:
            model.metadata["categories"] = json.loads(meta["categories"])
        except ValueError as error:
            raise ValueError(f"{source}: bad categories metadata: {one_line(error)}") from None
    if "class_names" in meta:
        try:
            names = json.loads(meta["class_names"])
        except ValueError as error:
            raise ValueError(f"{source}: bad class_names metadata: {one_line(error)}") from None
        if not (isinstance(names, list) and len(names) == model.classes[0] and all(isinstance(n, str) for n in names)):
            raise ValueError(f"{source}: class_names metadata must list {model.classes[0]} names")
        model.metadata["class_names"] = names
    return model
