"""An independent NumPy forward pass of a Torch7 SoundNet module tree, in float64.

It interprets the .t7 modules directly (SpatialConvolution fields kH/dH/padH, the BN evaluation formula,
floor-mode max pooling) without any of the PyTorch model code, so it can check a conversion where no
Torch7 is installed: `soundnet demo` verifies the converted example against it. It writes the same
layout as Torch7 reference files, so `verify_reference` compares both the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..formats.t7_import import short_class


def _conv(x: np.ndarray, module: Any) -> np.ndarray:
    """SpatialConvolution with kW = 1 on C x N: im2col over the time axis, then one tensordot."""
    kernel, stride, pad = int(module["kH"]), int(module["dH"]), int(module.get("padH", 0))
    out_channels = int(module["nOutputPlane"])
    weight = np.asarray(module["weight"], np.float64).reshape(out_channels, -1, kernel)
    padded = np.pad(x, ((0, 0), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=1)[:, ::stride]  # C x T x k
    return np.tensordot(weight, windows, axes=([1, 2], [0, 2])) + np.asarray(module["bias"], np.float64)[:, None]


def _batch_norm(x: np.ndarray, module: Any) -> np.ndarray:
    eps = float(module.get("eps", 1e-5))
    if "running_std" in module and "running_var" not in module:
        inv_std = np.asarray(module["running_std"], np.float64)
    else:
        inv_std = 1.0 / np.sqrt(np.asarray(module["running_var"], np.float64) + eps)
    mean = np.asarray(module["running_mean"], np.float64)
    return (x - mean[:, None]) * inv_std[:, None] * np.asarray(module["weight"], np.float64)[:, None] + np.asarray(
        module["bias"], np.float64
    )[:, None]


def _max_pool(x: np.ndarray, module: Any) -> np.ndarray:
    kernel, stride = int(module["kH"]), int(module["dH"])
    return np.lib.stride_tricks.sliding_window_view(x, kernel, axis=1)[:, ::stride].max(axis=2)


LAYERS = {
    "SpatialConvolution": _conv,
    "SpatialConvolutionMM": _conv,
    "SpatialBatchNormalization": _batch_norm,
    "ReLU": lambda x, module: np.maximum(x, 0.0),
    "SpatialMaxPooling": _max_pool,
}


def numpy_forward(modules: list, waveform: np.ndarray, indices: set[int]) -> dict[int, Any]:
    """Outputs (1 x C x T x 1, as Torch shaped them) of the requested top-level modules for one waveform."""
    x = np.asarray(waveform, np.float64).reshape(1, -1)
    outputs: dict[int, Any] = {}
    for index, module in enumerate(modules, 1):
        if index > max(indices):
            break
        name = short_class(module.typename)
        if name == "ConcatTable":
            outputs[index] = [_conv(x, child)[None, :, :, None] for child in module["modules"]]
            break
        x = LAYERS[name](x, module)
        if index in indices:
            outputs[index] = x[None, :, :, None]
    return outputs


def numpy_reference(modules: list, inputs: dict[str, np.ndarray], indices: dict[str, set[int]]) -> dict:
    """A reference table in Torch7's refs layout: {inputs: {name: 1x1xNx1}, outputs: {name: {index: ...}}}."""
    return {
        "inputs": {name: np.asarray(x, np.float32).reshape(1, 1, -1, 1) for name, x in inputs.items()},
        "outputs": {
            name: {index: value for index, value in numpy_forward(modules, x, indices[name]).items()}
            for name, x in inputs.items()
        },
    }
