"""A SoundNet body with a head of its own: what people fine-tuned in Torch7 (View + Dropout + Linear after
pool5, other class counts, extra layers). The body maps onto the SoundNet layers (so extraction, chunking and
fine-tuning work as for any SoundNet) and the head stays a generic convert.nn module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

import convert.nn

from ..model.architecture import SOUNDNET5, SOUNDNET8, Architecture, custom_head_architecture, get_architecture
from ..model.network import SoundNet
from .t7_import import _mismatch, body_state, top_level_modules

HEAD_KEY = "head_tree"
MIN_BODY = 4  # at least conv1, bn1, relu1 and pool1


def matching_body(modules: list) -> tuple[Architecture, int]:
    """The SoundNet whose body the module list starts with, and the index of the last matching module."""
    best = (SOUNDNET8, 0)
    for base in (SOUNDNET8, SOUNDNET5):
        end = 0
        for layer in base.body:
            if layer.index > len(modules) or _mismatch(modules[layer.index - 1], layer) is not None:
                break
            end = layer.index
        best = max(best, (base, end), key=lambda pair: pair[1])
    return best


def head_classes(head: nn.Module) -> tuple[int, ...]:
    """The output count of the head's last Linear or convolution (what fine-tuning names `classes`)."""
    for module in reversed(list(head.modules())):
        options = getattr(module, "options", {})
        if "nOutputPlane" in options:
            return (options["nOutputPlane"],)
        if getattr(module, "torch_class", "") == "nn.Linear":
            return (module.weight.shape[0],)
    return ()


def assemble(arch: Architecture, widths: list[int], state: dict, head: nn.Module) -> SoundNet:
    model = SoundNet.from_state_dict(arch, widths, head_classes(head), state)
    model.head = head.eval()
    return model


def soundnet_with_head_from_t7(root: Any) -> SoundNet | None:
    """The SoundNet body + generic head a module tree holds, or None when it does not start with a body."""
    modules = top_level_modules(root)
    base, end = matching_body(modules)
    if end < MIN_BODY or end >= len(modules):
        return None
    arch = custom_head_architecture(base, end)
    state, bn_eps, widths = body_state(arch, modules)
    children = [convert.nn.from_t7(module, str(index)) for index, module in enumerate(modules[end:], end + 1)]
    model = assemble(arch, widths, state, convert.nn.containers.Sequential({}, {}, children))
    model.set_bn_eps(bn_eps)
    return model


def head_metadata(model: SoundNet) -> dict[str, str]:
    return {HEAD_KEY: json.dumps(convert.nn.describe(model.head))} if model.architecture.has_custom_head else {}


def soundnet_with_head_from_weights(
    state: dict[str, torch.Tensor], meta: dict[str, str], source: str | Path
) -> SoundNet:
    """Rebuild a custom-head SoundNet from a converted file (its metadata names the body and the head tree)."""
    try:
        arch = get_architecture(meta["architecture"])
        widths = json.loads(meta["widths"])
        head_state = {key[5:]: value for key, value in state.items() if key.startswith("head.")}
        head = convert.nn.rebuild(json.loads(meta[HEAD_KEY]), head_state)
        head.load_state_dict(head_state, strict=True)
        body = {key: value for key, value in state.items() if not key.startswith("head.")}
        model = assemble(arch, widths, body, head)
        model.set_bn_eps(json.loads(meta.get("bn_eps", "{}")))
    except (KeyError, ValueError, RuntimeError, TypeError) as error:
        raise ValueError(f"{source}: not a readable custom-head SoundNet: {error}") from None
    return model


def describe_body(modules: list) -> str | None:
    """'soundnet8 body (modules 1-18) + a custom head (modules 19-21)' when that is what the list holds."""
    base, end = matching_body(modules)
    if end < MIN_BODY or end >= len(modules):
        return None
    return f"{base.name} body (modules 1-{end}) + a custom head (modules {end + 1}-{len(modules)})"
