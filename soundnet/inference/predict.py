"""Objects and scenes per conv8 time step, as the original extract_predictions.lua computed them.

The original dropped the LogSoftMax tail (modules 26-28), took a softmax over the classes of each head,
repeated clips shorter than 10 s ceil(10 s / length) times, and printed the most likely object and scene
at the middle step (Lua's ceil(T / 2)). Long clips go through the exact chunked path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Sequence

import numpy as np
import torch

from ..model.architecture import SAMPLE_RATE, ReceptiveField
from ..formats.categories import default_categories, display_name, load_categories
from .chunked import iter_chunked
from .features import collect
from ..model.heads import softmax_heads
from ..model.network import SoundNet, as_waveform_batch

TILE_SAMPLES = 10 * SAMPLE_RATE  # extract_predictions.lua's min_length


@dataclass(frozen=True)
class Ranked:
    """One class of one head at one step: its 0-based output index, its name and its probability."""

    index: int
    name: str
    probability: float

    @property
    def label(self) -> str:
        return display_name(self.name)


@dataclass(frozen=True)
class Prediction:
    """Softmax probabilities of both heads (classes x steps) for one clip, with what produced them."""

    objects: torch.Tensor
    scenes: torch.Tensor
    names: tuple[Sequence[str], Sequence[str]]
    samples: int  # the clip's length before tiling
    repeats: int  # copies of the clip fed to the net (1: not tiled)
    field: ReceptiveField

    @property
    def steps(self) -> int:
        return self.objects.shape[-1]

    @property
    def seconds(self) -> float:
        """The clip's duration before tiling."""
        return self.samples / SAMPLE_RATE

    @property
    def tiled(self) -> bool:
        return self.repeats > 1

    @property
    def middle_step(self) -> int:
        """0-based index of the step the original printed (ceil(T / 2) in 1-based Lua)."""
        return math.ceil(self.steps / 2) - 1

    def window_seconds(self, step: int) -> tuple[float, float]:
        """The span of (tiled) input that step's outputs see, in seconds, clipped to the input."""
        start, end = self.field.window(step)
        total = self.samples * self.repeats
        return max(start, 0) / SAMPLE_RATE, min(end, total) / SAMPLE_RATE

    def top(self, step: int, k: int = 5) -> tuple[list[Ranked], list[Ranked]]:
        """The k most likely objects and scenes at `step`."""
        return tuple(_ranked(probabilities[:, step], names, k)
                     for probabilities, names in zip((self.objects, self.scenes), self.names))

    def summary(self) -> tuple[Ranked, Ranked]:
        """The top object and scene at the middle step, as the original script printed them."""
        objects, scenes = self.top(self.middle_step, 1)
        return objects[0], scenes[0]


def _ranked(probabilities: torch.Tensor, names: Sequence[str], k: int) -> list[Ranked]:
    values, indices = torch.topk(probabilities, min(k, probabilities.shape[0]))
    return [Ranked(int(i), names[int(i)], float(v)) for v, i in zip(values, indices)]


def category_names(model: SoundNet, categories: str | Path | None = None) -> tuple[Sequence[str], Sequence[str]]:
    """Names from a categories folder if given, else the model file's, else the shipped teacher lists."""
    if categories is not None:
        return load_categories(categories, model.classes)
    if model.metadata.get("categories"):
        return tuple(model.metadata["categories"])
    if shipped := default_categories(model.classes):
        return shipped
    return tuple([f"#{i}" for i in range(count)] for count in model.classes)


def tile_repeats(samples: int) -> int:
    """How many copies the original fed for a clip of `samples` (1 when it is at least 10 s long)."""
    return 1 if samples >= TILE_SAMPLES else math.ceil(TILE_SAMPLES / samples)


def _tiled(blocks: Iterable[torch.Tensor], counted: list[int]) -> Iterator[torch.Tensor]:
    """The blocks as they come, or the whole clip repeated when it ends before 10 s; counts the samples."""
    blocks, head = iter(blocks), []
    for block in blocks:
        head.append(torch.as_tensor(block, dtype=torch.float32).reshape(1, -1))
        counted[0] += head[-1].shape[1]
        if counted[0] >= TILE_SAMPLES:
            break
    if counted[0] < TILE_SAMPLES:
        if counted[0] == 0:
            raise ValueError("predict needs a non-empty clip")
        yield torch.cat(head, dim=1).repeat(1, tile_repeats(counted[0]))
        return
    yield from head
    for block in blocks:
        counted[0] += block.shape[-1]
        yield block.reshape(1, -1)


def predict_blocks(model: SoundNet, blocks: Iterable[torch.Tensor], *, categories: str | Path | None = None,
                   chunk_samples: int | None = None) -> Prediction:
    """predict() for one clip given as consecutive 1-D blocks (e.g. iter_audio_blocks): bounded memory."""
    if model.architecture.is_classifier:
        raise ValueError("a fine-tuned model has no object and scene heads; use soundnet extract for its outputs")
    names = category_names(model, categories)
    head, counted = model.architecture.head, [0]
    objects, scenes = softmax_heads(collect(iter_chunked(model, _tiled(blocks, counted), head, chunk_samples)))
    if not (torch.isfinite(objects).all() and torch.isfinite(scenes).all()):
        raise ValueError("the model's output is not finite (NaN or infinity); no prediction is reported")
    return Prediction(objects[0], scenes[0], names, counted[0], tile_repeats(counted[0]),
                      model.architecture.receptive_field(head))


def predict(model: SoundNet, waveform: torch.Tensor | np.ndarray, *, categories: str | Path | None = None,
            chunk_samples: int | None = None) -> Prediction:
    """Per-step object and scene probabilities of one clip (a waveform scaled to [-256, 256])."""
    batch = as_waveform_batch(waveform)
    if batch.shape[0] != 1:
        raise ValueError(f"predict takes one clip, got a batch of {batch.shape[0]}")
    return predict_blocks(model, [batch[0, 0]], categories=categories, chunk_samples=chunk_samples)
