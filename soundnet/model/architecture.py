"""The SoundNet architectures, each as ONE table of Torch modules.

Model building, `.t7` mapping, feature extraction, chunked inference and export all read these tables,
so the Torch index of a layer, its name and its sizes are written down exactly once. Channel widths are
not part of the table: they come from the weights being loaded (full width, quarter width, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

SAMPLE_RATE = 22050
INPUT_SCALE = 256.0
OBJECT_CLASSES = 1000
SCENE_CLASSES = 401


@dataclass(frozen=True)
class Layer:
    """One top-level Torch module: its 1-based index, a readable name, its kind and its sizes.

    `block` is the conv block the layer belongs to (1-based): conv, BN, ReLU and pooling of one block
    share the block's channel width.
    """

    index: int
    name: str
    kind: str  # "conv" | "bn" | "relu" | "pool" | "heads" | "classifier" | "custom"
    block: int
    kernel: int = 1
    stride: int = 1
    padding: int = 0

    def output_length(self, length: int) -> int:
        """Torch's floor arithmetic for the time axis (ceil_mode is off everywhere)."""
        if self.kind in ("bn", "relu", "custom"):
            return length
        return (length + 2 * self.padding - self.kernel) // self.stride + 1

    def required_input(self, output_length: int) -> int:
        """The shortest input giving `output_length` outputs (inverse of output_length)."""
        if self.kind in ("bn", "relu"):
            return output_length
        return max(1, (output_length - 1) * self.stride + self.kernel - 2 * self.padding)


@dataclass(frozen=True)
class ReceptiveField:
    """Output j of a layer reads input samples [j*stride - offset, j*stride - offset + size)."""

    stride: int
    offset: int
    size: int

    def window(self, step: int) -> tuple[int, int]:
        start = step * self.stride - self.offset
        return start, start + self.size

    def chunk_start(self, step: int) -> int:
        """The multiple of the stride at or before the window of `step`, never before sample 0."""
        return self.stride * max(0, step - math.ceil(self.offset / self.stride))


@dataclass(frozen=True)
class Architecture:
    """A SoundNet variant: its body+head layers (Torch indices 1..n) and the Torch tail it was saved with."""

    name: str
    layers: tuple[Layer, ...]
    default_widths: tuple[int, ...]  # out channels of conv1..convN at full width
    tail: tuple[str, ...]  # Torch class names after the head, as the original script built them

    @cached_property
    def by_index(self) -> dict[int, Layer]:
        return {layer.index: layer for layer in self.layers}

    @cached_property
    def by_name(self) -> dict[str, Layer]:
        return {layer.name: layer for layer in self.layers}

    @property
    def head(self) -> Layer:
        return self.layers[-1]

    @property
    def body(self) -> tuple[Layer, ...]:
        return self.layers[:-1]

    @property
    def is_classifier(self) -> bool:
        return self.head.kind == "classifier"

    @property
    def has_custom_head(self) -> bool:
        """A SoundNet body followed by any Torch7 modules (a fine-tune's own head), kept as a generic module."""
        return self.head.kind == "custom"

    def layer(self, key: int | str) -> Layer:
        """A layer by Torch index (1-based) or by name; a clear error otherwise."""
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        found = self.by_index.get(key) if isinstance(key, int) else self.by_name.get(key)
        if found is None:
            names = ", ".join(f"{layer.index}={layer.name}" for layer in self.layers)
            raise ValueError(f"{self.name} has no layer {key!r}; layers are {names}")
        return found

    def output_length(self, length: int, upto: Layer | None = None) -> int:
        """Time steps at the output of `upto` (default: the head) for an input of `length` samples."""
        last = (upto or self.head).index
        for layer in self.layers:
            if layer.index > last:
                break
            length = layer.output_length(length)
        return length

    def receptive_field(self, upto: Layer | None = None) -> ReceptiveField:
        """The input window of one output of `upto` (default: the head), carried back through the table."""
        last = (upto or self.head).index
        start, end, stride = 0, 1, 1
        for layer in reversed(self.layers):
            if layer.index > last or layer.kind in ("bn", "relu"):
                continue
            start = start * layer.stride - layer.padding
            end = (end - 1) * layer.stride - layer.padding + layer.kernel
            stride *= layer.stride
        return ReceptiveField(stride, -start, end - start)

    def min_input_length(self, upto: Layer | None = None, steps: int = 1) -> int:
        """The shortest input giving `steps` time steps at `upto` (209,374 samples for SoundNet8's head)."""
        last = (upto or self.head).index
        length = steps
        for layer in reversed(self.layers):
            if layer.index <= last:
                length = layer.required_input(length)
        return length


def _conv_block(first_index: int, block: int, kernel: int, stride: int, padding: int, pool: int = 0) -> list[Layer]:
    """conv, BN, ReLU (and an optional max-pool of kernel = stride = `pool`) as Torch numbered them."""
    layers = [
        Layer(first_index, f"conv{block}", "conv", block, kernel, stride, padding),
        Layer(first_index + 1, f"bn{block}", "bn", block),
        Layer(first_index + 2, f"relu{block}", "relu", block),
    ]
    if pool:
        layers.append(Layer(first_index + 3, f"pool{block}", "pool", block, pool, pool))
    return layers


_SOUNDNET8_BODY = (
    _conv_block(1, 1, 64, 2, 32, pool=8)
    + _conv_block(5, 2, 32, 2, 16, pool=8)
    + _conv_block(9, 3, 16, 2, 8)
    + _conv_block(12, 4, 8, 2, 4)
    + _conv_block(15, 5, 4, 2, 2, pool=4)
    + _conv_block(19, 6, 4, 2, 2)
    + _conv_block(22, 7, 4, 2, 2)
)
_TEACHER_TAIL = ("nn.ParallelTable", "nn.FlattenTable", "nn.ParallelTable")

SOUNDNET8 = Architecture(
    name="soundnet8",
    layers=tuple(_SOUNDNET8_BODY) + (Layer(25, "heads", "heads", 8, 8, 2, 0),),
    default_widths=(16, 32, 64, 128, 256, 512, 1024),
    tail=_TEACHER_TAIL,
)

SOUNDNET5 = Architecture(
    name="soundnet5",
    layers=tuple(
        _conv_block(1, 1, 64, 2, 32, pool=8)
        + _conv_block(5, 2, 32, 2, 16, pool=8)
        + _conv_block(9, 3, 16, 2, 8, pool=8)
        + _conv_block(13, 4, 8, 2, 4)
    )
    + (Layer(16, "heads", "heads", 5, 16, 12, 4),),
    default_widths=(32, 64, 128, 256),
    tail=_TEACHER_TAIL,
)

# main_finetune.lua: SoundNet8 up to module 24, then conv 1024->N (k4 s1 p0) and View(N).
SOUNDNET8_FINETUNED = Architecture(
    name="soundnet8-finetuned",
    layers=tuple(_SOUNDNET8_BODY) + (Layer(25, "classifier", "classifier", 8, 4, 1, 0),),
    default_widths=SOUNDNET8.default_widths,
    tail=("nn.View",),
)

ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (SOUNDNET8, SOUNDNET5, SOUNDNET8_FINETUNED)}


CUSTOM_HEAD_NAME = re.compile(r"^(soundnet8|soundnet5)-body(\d+)-custom-head$")


def custom_head_architecture(base: Architecture, body_end: int) -> Architecture:
    """`base`'s modules 1..body_end, then one generic head module (index body_end + 1)."""
    body = tuple(layer for layer in base.body if layer.index <= body_end)
    if not body or body[-1].index != body_end:
        raise ValueError(f"{base.name} has no body module {body_end}")
    blocks = body[-1].block
    return Architecture(
        name=f"{base.name}-body{body_end}-custom-head",
        layers=body + (Layer(body_end + 1, "head", "custom", blocks),),
        default_widths=base.default_widths[:blocks],
        tail=(),
    )


def get_architecture(name: str | Architecture) -> Architecture:
    if isinstance(name, Architecture):
        return name
    custom = CUSTOM_HEAD_NAME.match(name)
    if custom:
        return custom_head_architecture(ARCHITECTURES[custom.group(1)], int(custom.group(2)))
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def pool_after_relu(body: Sequence[Layer], position: int) -> Layer | None:
    """The max-pool two layers after `position` when a ReLU lies between (conv, BN, ReLU, pool in SoundNet).

    The fast paths run the ReLU after the pool (both are monotone, so they commute) and fuse the pool
    into the layer before it; only pools with kernel = stride qualify.
    """
    following = body[position + 1 : position + 3]
    if [spec.kind for spec in following] == ["relu", "pool"] and following[1].stride == following[1].kernel:
        return following[1]
    return None
