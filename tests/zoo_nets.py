"""The Torch7 zoo (../shared/torch7/zoo): net names, their reference data as tensors, and error measures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

import convert
from ground_truth import torch7_refs_dir, unavailable

# Relative error bound for float32 against Torch7: the converted modules sum in another order than THNN's
# loops and OpenBLAS (oneDNN/MKL kernels, AVX2 or AVX-512 alike); the zoo's worst is ~4e-6 (fast_style_transformer's
# five stacked convolutions with activations near 150), so 1e-5 holds with room on any x86 CPU.
TOLERANCE = 1e-5


def zoo_dir() -> Path:
    return torch7_refs_dir() / "zoo"


def zoo_names() -> list[str]:
    """Every net of the zoo index (an empty list without the shared folder: the tests then skip)."""
    index = zoo_dir() / "index.json"
    return sorted(json.loads(index.read_text())) if index.is_file() else []


def require_zoo(name: str) -> Path:
    path = zoo_dir() / f"{name}.t7"
    if not path.is_file():
        unavailable(f"zoo net {path} not found (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    return path


def as_value(value: Any) -> Any:
    """A Torch7 tensor or table (lists, or dicts keyed 1..n with torchfile's `_n`) as tensors and lists."""
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.array(value))
        return tensor.float() if tensor.is_floating_point() else tensor
    if isinstance(value, dict):
        return [as_value(value[key]) for key in sorted(k for k in value if isinstance(k, int))]
    if isinstance(value, list):
        return [as_value(element) for element in value]
    raise TypeError(f"unexpected {type(value).__name__} in reference data")


def io_file(name: str) -> Path:
    """The zoo's {input, output, per_module, meta} file of a net (make_reference.lua -input takes it)."""
    return require_zoo(name).with_name(f"{name}_io.t7")


def load_io(name: str) -> tuple[Any, Any, list]:
    """(input, output, per-module outputs) that Torch7 wrote for a zoo net."""
    io = convert.read_t7(zoo_dir() / f"{name}_io.t7")
    return as_value(io["input"]), as_value(io["output"]), as_value(io["per_module"])


def relative_error(ours: Any, theirs: Any) -> float:
    """max |ours - theirs| / max(1, max |theirs|) over a tensor or (nested) table; shapes must agree."""
    if isinstance(theirs, list):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), f"table of {len(theirs)} expected"
        return max([relative_error(a, b) for a, b in zip(ours, theirs)], default=0.0)
    assert isinstance(ours, torch.Tensor), f"tensor expected, got {type(ours).__name__}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"shape {tuple(ours.shape)} != Torch7's {tuple(theirs.shape)}"
    if theirs.numel() == 0:
        return 0.0
    ours, theirs = ours.detach().double(), theirs.double()
    return float((ours - theirs).abs().max() / max(1.0, float(theirs.abs().max())))


def clone_value(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else [clone_value(v) for v in value]


def per_module_errors(network: torch.nn.Module, x: Any, per_module: list) -> list[float]:
    """Step the root Sequential's children one at a time, comparing each output at once (in-place safe)."""
    errors = []
    with torch.inference_mode():
        for module, theirs in zip(network.submodules, per_module):
            x = module(x)
            errors.append(relative_error(x, theirs))
    return errors
