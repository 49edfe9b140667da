"""What the Torch7 net did after its heads (modules 26-28), and the prediction recipe.

The saved SoundNet splits each head B x C x T x 1 into T slices B x C x 1 (SplitTable(3)), flattens the
object and scene lists into 2T outputs and applies LogSoftMax + Squeeze to each. On CPU, nn's LogSoftMax
treats a 3-D B x C x 1 slice as C x H x W and normalises over dim 1 = the BATCH (with B = 1 every output
is exactly 0). `torch7_cpu_outputs` reproduces that; `class_log_softmax_outputs` is the paper's intent.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def split_steps(heads: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """SplitTable(3) on each head, then FlattenTable: all object steps, then all scene steps (each B x C)."""
    return [head[..., step] for head in heads for step in range(head.shape[-1])]


def torch7_cpu_outputs(heads: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """net:forward's output on CPU nn: per step log-softmax over the batch dim, then Squeeze (all 1-dims)."""
    return [F.log_softmax(step, dim=0).squeeze() for step in split_steps(heads)]


def class_log_softmax_outputs(heads: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Per step, per clip log-softmax over the classes (what the paper meant), squeezed like Torch."""
    return [F.log_softmax(step, dim=1).squeeze() for step in split_steps(heads)]


def softmax_heads(heads: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """extract_predictions.lua: softmax over the channels of each head, B x C x T."""
    return tuple(F.softmax(head, dim=1) for head in heads)
