"""The original's truncated forward pass for inference, with batch norm and ReLU done in place.

Prediction and feature extraction only need eval-mode outputs (the original scripts called
net:evaluate()). Allocating a fresh tensor for every BN and ReLU output made BN slower than the
convolutions on CPU: large fresh allocations are page-faulted in on first touch. Here BN is
`shift + x * scale` written over x with torch.addcmul, which gives the same bits as nn.BatchNorm1d
in eval mode (its CPU kernel computes the same fused multiply-add), and ReLU is relu_.
"""
from __future__ import annotations

import torch

from .architecture import Layer
from .model import SoundNet

Output = torch.Tensor | tuple[torch.Tensor, ...]


def _batch_norm_(module: torch.nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    scale = torch.rsqrt(module.running_var + module.eps) * module.weight
    shift = module.bias - module.running_mean * scale
    return torch.addcmul(shift[:, None], x, scale[:, None], out=x)


def forward_to(model: SoundNet, x: torch.Tensor, layer: Layer) -> Output:
    """model.extract(x, layer) (to float rounding) with eval-mode BN whatever model.training says; x is B x 1 x N.

    Like the original feature script the net stops after `layer` (23 = BN output before the ReLU);
    the head index returns the tuple of head outputs.
    """
    model.check_length(x.shape[-1], layer)
    with torch.inference_mode():
        for spec in model.architecture.body:
            if spec.index > layer.index:
                return x
            module = getattr(model, spec.name)
            if spec.kind == "bn":
                x = _batch_norm_(module, x)
            elif spec.kind == "relu":
                x = torch.relu_(x)
            else:
                x = module(x)
        if layer.index < model.architecture.head.index:
            return x
        return tuple(module(x) for module in model.head_modules())


def activation_bytes_per_sample(model: SoundNet, layer: Layer) -> float:
    """Bytes of the largest float32 activation up to `layer`, per input sample (full width conv1: 32)."""
    largest, stride = 4.0, 1
    for spec in model.architecture.layers:
        if spec.index > layer.index:
            break
        stride *= spec.stride
        head = spec.index == model.architecture.head.index
        channels = sum(model.classes) if head else model.widths[spec.block - 1]
        largest = max(largest, 4.0 * channels / stride)
    return largest
