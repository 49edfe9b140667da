"""SoundNet to ONNX with dynamic batch and length axes, through PyTorch's exporter (the `onnx` extra).

The graph is PortableSoundNet's (stock Conv / BatchNormalization / Relu / MaxPool nodes); its input
`waveform` is batch x samples scaled to [-256, 256], in the model's dtype. The exporter is traced with
the shortest input the chosen layer accepts, which it records as the lower bound of `samples`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..model.portable import PortableSoundNet

INPUT_NAME = "waveform"


def _quiet_exporter():
    """The exporter prints progress, warns about its own internals and logs about optional packages."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    for name in ("torch.onnx", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes"):
        logger = logging.getLogger(name)
        stack.callback(logger.setLevel, logger.level)
        logger.setLevel(logging.ERROR)
    return stack


def export_onnx(model: nn.Module, path: str | Path, layer: int | str | None = None) -> Path:
    """Write `model` (up to `layer`, default its head) as an ONNX file at `path`, atomically."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"ONNX export needs {' and '.join(missing)}: pip install 'soundnet-t7[onnx]'")
    portable = PortableSoundNet(model, layer).eval()
    target = model.architecture.layer(layer or model.architecture.head.index)
    weight = model.conv1.weight
    example = torch.zeros(1, model.architecture.min_input_length(target), dtype=weight.dtype, device=weight.device)
    axes = {INPUT_NAME: {0: "batch", 1: "samples"}}
    path = Path(path)
    with atomic_path(path, suffix=".onnx.tmp") as tmp, torch.inference_mode(False), _quiet_exporter():
        torch.onnx.export(
            portable,
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=portable.output_names,
            dynamic_axes=axes,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return path
