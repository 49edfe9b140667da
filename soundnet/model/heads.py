"""What the Torch7 net did after its heads (modules 26-28), and the prediction recipe.

The saved SoundNet splits each head B x C x T x 1 into T slices B x C x 1 (SplitTable(3)), flattens the
object and scene lists into 2T outputs and applies LogSoftMax + Squeeze to each. On CPU, nn's LogSoftMax
treats a 3-D B x C x 1 slice as C x H x W and normalises over dim 1 = the BATCH (with B = 1 every output
is exactly 0). `torch7_cpu_outputs` reproduces that; `class_log_softmax_outputs` is the paper's intent.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .architecture import Architecture

# The teacher heads, defined once: module names and one-word labels (HEAD_FIELDS below: output names).
HEAD_LABELS = ("object", "scene")
TEACHER_HEAD_MODULES = ("object_head", "scene_head")
CLASSIFIER_MODULE = "classifier"
CUSTOM_HEAD_MODULE = "head"  # a SoundNet body + a generic head of its own (formats/custom_head.py)


class HeadOutputs(NamedTuple):
    """The two teacher heads' outputs (Torch index 25 of SoundNet8, 16 of SoundNet5), each B x C x T."""

    objects: torch.Tensor
    scenes: torch.Tensor


HEAD_FIELDS = HeadOutputs._fields


def head_module_names(architecture: Architecture) -> tuple[str, ...]:
    """The PyTorch module names of the head index: a custom head, the classifier, or the object and scene heads."""
    if architecture.has_custom_head:
        return (CUSTOM_HEAD_MODULE,)
    return (CLASSIFIER_MODULE,) if architecture.is_classifier else TEACHER_HEAD_MODULES


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
    """extract_predictions.lua: softmax over the channels of each head, B x C x T (same tuple type)."""
    probabilities = [F.softmax(head, dim=1) for head in heads]
    return HeadOutputs(*probabilities) if isinstance(heads, HeadOutputs) else tuple(probabilities)
