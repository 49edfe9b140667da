"""Per-module comparison of any converted network with a reference make_reference.lua wrote in generic mode.

The reference holds `inputs.input` (a tensor or a table of tensors), `outputs.input[i]` the output of
top-level module i (when the Torch root is an nn.Sequential) and `outputs.input.final` what net:forward
returned. A SoundNet with a custom head is stepped through its body layers and then its head's modules,
the Torch7 top-level modules it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..model.network import SoundNet, as_waveform_batch
from .verify import TOLERANCE, LayerCheck, compare, sequence

GENERIC_MODE = "generic"


def is_generic_reference(reference: Any) -> bool:
    meta = reference.get("meta") if isinstance(reference, dict) else None
    return isinstance(meta, dict) and meta.get("mode") == GENERIC_MODE


def as_value(value: Any) -> Any:
    """A stored input as tensors: float32 for floating data, integer tensors kept (token indices)."""
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.array(value))
        return tensor.float() if tensor.is_floating_point() else tensor
    if isinstance(value, (list, dict)):
        return [as_value(element) for element in sequence(value)]
    raise ValueError(f"reference input holds a {type(value).__name__}, expected tensors or tables of tensors")


def top_level_steps(model: nn.Module) -> list[tuple[str, Callable]]:
    """(label, module) standing for each of the Torch root's top-level modules, in order."""
    if isinstance(model, SoundNet):
        if not model.architecture.has_custom_head:
            raise ValueError(
                "generic references check generic networks and custom-head SoundNets; "
                "a SoundNet's own references come from make_reference.lua without -input"
            )
        body = [(layer.name, getattr(model, layer.name)) for layer in model.architecture.body]
        head = [(module.torch_class, module) for module in model.head.submodules]
        first_name, first = body[0]
        head_name, head_first = head[0]
        return [
            (first_name, lambda x: first(as_waveform_batch(x))),
            *body[1:],
            (head_name, lambda x: head_first(x[..., None])),
            *head[1:],
        ]  # the head sees B x C x T x 1
    if getattr(model, "torch_class", "").endswith(".Sequential"):
        return [(module.torch_class, module) for module in model.submodules]
    return []


def _checks(ours: Any, theirs: Any, label: str, tolerance: float) -> list[LayerCheck]:
    if isinstance(ours, (list, tuple)):
        stored = sequence(theirs)
        if len(stored) != len(ours):
            raise ValueError(f"{label}: ours gives a table of {len(ours)}, Torch7 stored {len(stored)}")
        return [
            check
            for n, (a, b) in enumerate(zip(ours, stored), 1)
            for check in _checks(a, b, f"{label}[{n}]", tolerance)
        ]
    return [compare(ours, theirs, "input", label, tolerance)]


def verify_network_reference(model: nn.Module, reference: dict, tolerance: float = TOLERANCE) -> list[LayerCheck]:
    """Every stored top-level output and the final output, compared with what `model` computes (eval mode)."""
    if not is_generic_reference(reference) or "input" not in (reference.get("inputs") or {}):
        raise ValueError("not a generic reference file: write it with make_reference.lua -input")
    stored = reference["outputs"]["input"]
    model.eval()
    checks: list[LayerCheck] = []
    with torch.inference_mode():
        steps = top_level_steps(model)
        x = as_value(reference["inputs"]["input"])
        for index, (name, step) in enumerate(steps, 1):
            if index not in stored:
                break
            x = step(x)
            checks += _checks(x, stored[index], f"{index} ({name})", tolerance)
        if "final" in stored:
            checks += _checks(model(as_value(reference["inputs"]["input"])), stored["final"], "final", tolerance)
    if not checks:
        raise ValueError("the reference file holds no outputs to compare")
    return checks
