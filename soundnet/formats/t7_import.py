"""From a Torch7 module tree (as convert.read_t7 returns it) to a SoundNet model.

The architecture is detected by matching the top-level module list against each table in
architecture.py; channel widths and class counts come from the file. nn.*, cudnn.* and cunn.* names of a
layer are treated alike, and fields a layer does not need (cudnn's iSize, groups, buffers...) are ignored.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

import convert

from ..model.architecture import ARCHITECTURES, Architecture, Layer
from ..model.heads import head_module_names
from ..model.network import SoundNet
from .validation import float32_array

# Torch class names (without the nn./cudnn./cunn. prefix) and the layer kind they implement.
CLASS_KINDS = {
    "SpatialConvolution": "conv",
    "SpatialConvolutionMM": "conv",
    "SpatialBatchNormalization": "bn",
    "ReLU": "relu",
    "SpatialMaxPooling": "pool",
    "ConcatTable": "heads",
}
PACKAGES = ("nn", "cudnn", "cunn")


class NotSoundNetError(ValueError):
    """The file holds something other than a SoundNet; the message names the first module that differs."""


def short_class(typename: str) -> str:
    """'cudnn.SpatialConvolution' -> 'SpatialConvolution' (only the packages SoundNet was saved with)."""
    package, _, name = typename.partition(".")
    return name if package in PACKAGES and name else typename


def _kind(module: Any) -> str | None:
    typename = getattr(module, "typename", None)
    return CLASS_KINDS.get(short_class(typename)) if typename else None


def _describe(module: Any) -> str:
    return getattr(module, "typename", None) or type(module).__name__


def _expected(layer: Layer) -> str:
    names = {
        "conv": "SpatialConvolution",
        "bn": "SpatialBatchNormalization",
        "relu": "ReLU",
        "pool": "SpatialMaxPooling",
        "heads": "ConcatTable of 2 SpatialConvolution",
        "classifier": "SpatialConvolution",
    }
    sizes = f" k{layer.kernel} s{layer.stride} p{layer.padding}" if layer.kind not in ("bn", "relu") else ""
    return f"{names[layer.kind]}{sizes}"


GEOMETRY_FIELDS = ("kW", "kH", "dW", "dH", "padW", "padH")


def _geometry(module: Any) -> tuple:
    """A Torch7 conv or pool's window, stride and padding fields, in GEOMETRY_FIELDS order."""
    return tuple(module.get(name, 0 if name.startswith("pad") else None) for name in GEOMETRY_FIELDS)


def _conv_mismatch(module: Any, layer: Layer) -> str | None:
    if _kind(module) != "conv":
        return f"found {_describe(module)}"
    found = _geometry(module)
    if found != (1, layer.kernel, 1, layer.stride, 0, layer.padding):
        sizes = " ".join(f"{name}{value}" for name, value in zip(GEOMETRY_FIELDS, found))
        return f"found {_describe(module)} {sizes}"
    return None


def _mismatch(module: Any, layer: Layer) -> str | None:
    """Why `module` is not `layer`, or None when it matches."""
    if layer.kind in ("conv", "classifier"):
        return _conv_mismatch(module, layer)
    if layer.kind == "heads":
        children = module.get("modules") if _kind(module) == "heads" else None
        if not isinstance(children, list) or len(children) != 2:
            return f"found {_describe(module)}"
        for child in children:
            problem = _conv_mismatch(child, layer)
            if problem:
                return f"{problem} inside the ConcatTable"
        return None
    if _kind(module) != layer.kind:
        return f"found {_describe(module)}"
    if layer.kind == "pool":
        found = (*_geometry(module), bool(module.get("ceil_mode", False)))
        if found != (1, layer.kernel, 1, layer.stride, 0, 0, False):
            return f"found {_describe(module)} with kW, kH, dW, dH, padW, padH, ceil_mode = {found}"
    return None


def _first_mismatch(arch: Architecture, modules: list) -> tuple[int, str] | None:
    """(1-based module index, message) of the first module that differs from `arch`, or None."""
    for layer in arch.layers:
        if layer.index > len(modules):
            return (
                layer.index,
                f"module {layer.index} ({layer.name}): expected {_expected(layer)}, found end of the module list",
            )
        problem = _mismatch(modules[layer.index - 1], layer)
        if problem:
            return layer.index, f"module {layer.index} ({layer.name}): expected {_expected(layer)}, {problem}"
    found_tail = [short_class(_describe(m)) for m in modules[len(arch.layers) :]]
    wanted_tail = [short_class(name) for name in arch.tail]
    if found_tail and found_tail != wanted_tail:
        end = "end of the module list"
        for offset in range(max(len(found_tail), len(wanted_tail))):
            found = found_tail[offset] if offset < len(found_tail) else end
            wanted = wanted_tail[offset] if offset < len(wanted_tail) else end
            if found != wanted:
                index = len(arch.layers) + offset + 1
                return index, f"module {index}: expected {wanted}, found {found}"
    return None


def top_level_modules(root: Any) -> list:
    """The module list of the top-level Sequential, or a NotSoundNetError saying what was found."""
    typename = getattr(root, "typename", None)
    if typename is None or short_class(typename) != "Sequential":
        raise NotSoundNetError(f"not a SoundNet: the file holds {_describe(root)}, expected nn.Sequential")
    modules = root.get("modules")
    if not isinstance(modules, list):
        raise NotSoundNetError("not a SoundNet: the top-level nn.Sequential has no module list")
    return modules


def detect_architecture(modules: list) -> Architecture:
    """The architecture whose table the module list matches; else the error of the closest candidate."""
    misses = []
    for arch in ARCHITECTURES.values():
        miss = _first_mismatch(arch, modules)
        if miss is None:
            return arch
        misses.append(miss)
    index, message = max(misses, key=lambda miss: miss[0])
    raise NotSoundNetError(f"not a SoundNet: {message}")


def _array(module: Any, field: str, where: str) -> np.ndarray:
    """A float32 C-contiguous array: a view when the file already holds one (no copy), else a copy.

    Views keep the tree's flat parameter storage alive; that storage holds exactly the parameters.
    """
    value = module.get(field)
    if not isinstance(value, np.ndarray) or value.size == 0:
        raise NotSoundNetError(f"not a SoundNet: {where} has no {field} tensor")
    storage = getattr(value, "storage", None)
    if storage is not None and value.size > len(storage):  # checked before anything is copied
        raise NotSoundNetError(
            f"not a SoundNet: {where} {field} declares {value.size} elements "
            f"(shape {list(value.shape)}) over a storage of {len(storage)}: zero or overlapping "
            f"strides, which no parameter has"
        )
    return float32_array(value, f"{where} {field}").view(np.ndarray)


def _number(module: Any, field: str, where: str, default: float | None = None) -> float:
    """A numeric field (bool excluded), or `default` when absent; a clear error for anything else."""
    value = module.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NotSoundNetError(f"not a SoundNet: {where} field {field} is {value!r}, expected a number")
    return value


def _conv_params(module: Any, where: str, in_channels: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight nOut x nIn x k from 4-D nOut x nIn x k x 1 or legacy 2-D nOut x (nIn*k)."""
    weight = _array(module, "weight", where)
    kernel = int(_number(module, "kH", where))
    out_channels = int(_number(module, "nOutputPlane", where, weight.shape[0]))
    in_channels = int(
        _number(module, "nInputPlane", where, in_channels or weight.size // max(1, out_channels * kernel))
    )
    if weight.size != out_channels * in_channels * kernel or weight.shape[0] != out_channels:
        raise NotSoundNetError(
            f"not a SoundNet: {where} weight has shape {weight.shape}, "
            f"expected {out_channels} x {in_channels} x {kernel} x 1"
        )
    bias = _array(module, "bias", where)
    if bias.shape != (out_channels,):
        raise NotSoundNetError(f"not a SoundNet: {where} bias has shape {bias.shape}, expected ({out_channels},)")
    return torch.from_numpy(weight.reshape(out_channels, in_channels, kernel)), torch.from_numpy(bias)


def _bn_params(module: Any, where: str) -> dict[str, torch.Tensor]:
    """BN tensors; legacy files (class version < 2) store running_std = 1/sqrt(var + eps)."""
    eps = float(_number(module, "eps", where, 1e-5))
    mean = _array(module, "running_mean", where)
    legacy = "running_std" in module and (getattr(module, "version", 2) < 2 or "running_var" not in module)
    if legacy:
        std = torch.from_numpy(_array(module, "running_std", where))
        var = (std.pow(-2) - eps).numpy()  # in float32, as nn's BN:read does
    else:
        var = _array(module, "running_var", where)
    count = mean.shape[0]
    weight = _array(module, "weight", where) if module.get("affine", True) else np.ones(count, np.float32)
    bias = _array(module, "bias", where) if module.get("affine", True) else np.zeros(count, np.float32)
    params = {"weight": weight, "bias": bias, "running_mean": mean, "running_var": var}
    for name, value in params.items():
        if value.shape != (count,):
            raise NotSoundNetError(f"not a SoundNet: {where} {name} has shape {value.shape}, expected ({count},)")
    return {name: torch.from_numpy(value) for name, value in params.items()}


def _head_convs(module: Any, arch: Architecture) -> list:
    return module.get("modules") if arch.head.kind == "heads" else [module]


def body_state(arch: Architecture, modules: list) -> tuple[dict[str, torch.Tensor], dict[str, float], list[int]]:
    """(state dict, BN epsilons, conv widths) of the body layers of `arch` read from `modules`."""
    state: dict[str, torch.Tensor] = {}
    bn_eps: dict[str, float] = {}
    widths: list[int] = []
    in_channels = 1
    for layer in arch.body:
        module = modules[layer.index - 1]
        where = f"module {layer.index} ({layer.name})"
        if layer.kind == "conv":
            weight, bias = _conv_params(module, where, in_channels)
            if weight.shape[1] != in_channels:
                raise NotSoundNetError(
                    f"not a SoundNet: {where} takes {weight.shape[1]} channels, the layer before gives {in_channels}"
                )
            state[f"{layer.name}.weight"], state[f"{layer.name}.bias"] = weight, bias
            in_channels = weight.shape[0]
            widths.append(in_channels)
        elif layer.kind == "bn":
            bn = _bn_params(module, where)
            if bn["weight"].shape[0] != in_channels:
                raise NotSoundNetError(
                    f"not a SoundNet: {where} normalises {bn['weight'].shape[0]} channels, "
                    f"the conv before gives {in_channels}"
                )
            state.update({f"{layer.name}.{name}": value for name, value in bn.items()})
            bn_eps[layer.name] = float(_number(module, "eps", where, 1e-5))
    return state, bn_eps, widths


def model_from_t7(root: Any) -> SoundNet:
    """Build the SoundNet a Torch7 module tree describes and copy its weights; eval mode."""
    modules = top_level_modules(root)
    arch = detect_architecture(modules)
    state, bn_eps, widths = body_state(arch, modules)
    in_channels = widths[-1]
    head_names = head_module_names(arch)
    classes = []
    for name, conv in zip(head_names, _head_convs(modules[arch.head.index - 1], arch)):
        weight, bias = _conv_params(conv, f"module {arch.head.index} ({name})", in_channels)
        if weight.shape[1] != in_channels:
            raise NotSoundNetError(
                f"not a SoundNet: module {arch.head.index} ({name}) takes {weight.shape[1]} "
                f"channels, conv7 gives {in_channels}"
            )
        state[f"{name}.weight"], state[f"{name}.bias"] = weight, bias
        classes.append(weight.shape[0])
    model = SoundNet.from_state_dict(arch, widths, classes[0] if arch.is_classifier else classes, state)
    model.set_bn_eps(bn_eps)
    return model


def read_torch7(path: str | os.PathLike) -> Any:
    """convert.read_t7 with its format errors as one ValueError line naming the file."""
    try:
        return convert.read_t7(path)
    except convert.T7FormatError as error:
        raise ValueError(f"{path}: not a readable Torch7 file: {error}") from None
