"""Class probabilities per output step, as the original scripts computed them, for teacher and fine-tuned nets.

Teacher nets (extract_predictions.lua): the LogSoftMax tail (modules 26-28) is dropped, a softmax is
taken over the classes of each head, clips shorter than 10 s are repeated ceil(10 s / length) times,
and the most likely object and scene at the middle step (Lua's ceil(T / 2)) are the summary.
Fine-tuned nets (main_finetune.lua): clips shorter than the 5 s training crop are tiled as fine-tuning
tiled them, each step gets a softmax over the classes, and the clip's decision is the softmax of the
step logits' mean (what model(wave) returns). Long clips go through the exact chunked path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..audio import iter_audio_blocks
from ..devices import on_host
from ..formats.categories import default_categories, display_name, load_categories, read_category_file
from ..model.architecture import INPUT_SCALE, SAMPLE_RATE, ReceptiveField
from ..model.heads import HEAD_LABELS
from ..model.network import AudioInput, SoundNet, as_waveform_batch, is_clip_list
from . import tiling
from .chunked import default_chunk_samples, iter_chunked
from .features import collect

CLASS_LABEL = "class"  # the head label of a fine-tuned net's classifier


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
    """Softmax probabilities of each head (classes x steps) for one clip, with what produced them.

    heads: ("object", "scene") for a teacher net, ("class",) for a fine-tuned one. `logits` (classes x
    steps) is kept for a fine-tuned net, whose clip decision averages them over the steps.
    """

    probabilities: tuple[torch.Tensor, ...]
    names: tuple[Sequence[str], ...]
    heads: tuple[str, ...]
    samples: int  # the clip's length before tiling
    repeats: int  # copies of the clip fed to the net (1: not tiled)
    field: ReceptiveField
    recipe: str  # the original script whose tiling and summary this follows
    logits: torch.Tensor | None = None

    @property
    def objects(self) -> torch.Tensor:
        return self.probabilities[HEAD_LABELS.index("object")]

    @property
    def scenes(self) -> torch.Tensor:
        return self.probabilities[HEAD_LABELS.index("scene")]

    @property
    def is_classifier(self) -> bool:
        return self.heads == (CLASS_LABEL,)

    @property
    def steps(self) -> int:
        return self.probabilities[0].shape[-1]

    @property
    def seconds(self) -> float:
        """The clip's duration before tiling."""
        return self.samples / SAMPLE_RATE

    @property
    def tiled(self) -> bool:
        return self.repeats > 1

    @property
    def middle_step(self) -> int:
        """0-based index of the step extract_predictions.lua printed (ceil(T / 2) in 1-based Lua)."""
        return math.ceil(self.steps / 2) - 1

    def window_seconds(self, step: int) -> tuple[float, float]:
        """The span of (tiled) input that step's outputs see, in seconds, clipped to the input."""
        start, end = self.field.window(step)
        total = self.samples * self.repeats
        return max(start, 0) / SAMPLE_RATE, min(end, total) / SAMPLE_RATE

    def top(self, step: int, k: int = 5) -> tuple[list[Ranked], ...]:
        """The k most likely classes of each head at `step`."""
        return tuple(
            _ranked(probabilities[:, step], names, k) for probabilities, names in zip(self.probabilities, self.names)
        )

    def clip_probabilities(self) -> torch.Tensor:
        """A fine-tuned net's per-clip class probabilities: softmax of the mean step logits."""
        if self.logits is None:
            raise ValueError(
                "a per-clip decision is made by fine-tuned models; a teacher net's summary is the middle step"
            )
        return F.softmax(self.logits.double().mean(dim=-1), dim=0).float()

    def decision(self, k: int = 1) -> list[Ranked]:
        """A fine-tuned net's k most likely classes for the whole clip."""
        return _ranked(self.clip_probabilities(), self.names[0], k)

    def summary(self) -> tuple[Ranked, ...]:
        """Teacher: the top object and scene at the middle step, as the original printed; fine-tuned: the decision."""
        if self.is_classifier:
            return tuple(self.decision(1))
        return tuple(ranked[0] for ranked in self.top(self.middle_step, 1))


def _ranked(probabilities: torch.Tensor, names: Sequence[str], k: int) -> list[Ranked]:
    values, indices = torch.topk(probabilities, min(k, probabilities.shape[0]))
    return [Ranked(int(i), names[int(i)], float(v)) for v, i in zip(values, indices)]


def category_names(model: SoundNet, categories: str | Path | None = None) -> tuple[Sequence[str], ...]:
    """Teacher heads: names from a categories folder if given, else the model file's, else the shipped lists."""
    if categories is not None:
        return load_categories(categories, model.classes)
    if model.metadata.get("categories"):
        return tuple(model.metadata["categories"])
    if shipped := default_categories(model.classes):
        return shipped
    return tuple([f"#{i}" for i in range(count)] for count in model.classes)


def class_names(model: SoundNet, classes_file: str | Path | None = None) -> tuple[Sequence[str]]:
    """A fine-tuned net's class names: from a file (one per line), else from the model file, else index labels."""
    count = model.classes[0]
    if classes_file is not None:
        names = read_category_file(classes_file)
        if len(names) != count:
            raise ValueError(f"classes file {classes_file} has {len(names)} names, the model has {count} classes")
        return (names,)
    if model.metadata.get("class_names"):
        return (list(model.metadata["class_names"]),)
    return ([f"#{i}" for i in range(count)],)


def _names(
    model: SoundNet, categories: str | Path | None, classes_file: str | Path | None
) -> tuple[Sequence[str], ...]:
    if model.architecture.is_classifier:
        if categories is not None:
            raise ValueError("category files name the object and scene heads; a fine-tuned model takes a classes file")
        return class_names(model, classes_file)
    if classes_file is not None:
        raise ValueError("a classes file names a fine-tuned model's classes; this model has object and scene heads")
    return category_names(model, categories)


def predict_blocks(
    model: SoundNet,
    blocks: Iterable[torch.Tensor],
    *,
    categories: str | Path | None = None,
    classes_file: str | Path | None = None,
    chunk_samples: int | None = None,
) -> Prediction:
    """predict() for one clip given as consecutive 1-D blocks (e.g. iter_audio_blocks): bounded memory."""
    names = _names(model, categories, classes_file)
    head, counted = model.architecture.head, [0]
    if model.architecture.is_classifier:
        minimum, tile, repeats = tiling.FINETUNE_CROP_SAMPLES, tiling.main_finetune, tiling.main_finetune_repeats
        recipe = "main_finetune.lua"
    else:
        minimum, tile, repeats = tiling.TILE_SAMPLES, tiling.extract_predictions, tiling.extract_predictions_repeats
        recipe = "extract_predictions.lua"
    output = on_host(
        collect(iter_chunked(model, tiling.tiled_blocks(blocks, counted, minimum, tile), head, chunk_samples))
    )  # float32 on the CPU, whatever the model ran in
    if not all(torch.isfinite(part).all() for part in output):
        raise ValueError("the model's output is not finite (NaN or infinity); no prediction is reported")
    field = model.architecture.receptive_field(head)
    copies = repeats(counted[0]) if counted[0] < minimum else 1
    if model.architecture.is_classifier:
        logits = output[0]
        return Prediction((F.softmax(logits, dim=0),), names, (CLASS_LABEL,), counted[0], copies, field, recipe, logits)
    probabilities = tuple(F.softmax(part[0], dim=0) for part in output)
    return Prediction(probabilities, names, HEAD_LABELS, counted[0], copies, field, recipe)


def predict(
    model: SoundNet,
    audio: AudioInput | Sequence[AudioInput] | Iterator[torch.Tensor],
    *,
    categories: str | Path | None = None,
    classes_file: str | Path | None = None,
    scale: float = INPUT_SCALE,
    chunk_samples: int | None = None,
) -> Prediction | list[Prediction]:
    """Per-step class probabilities of a clip (a waveform scaled to [-256, 256], or a path decoded at `scale`).

    A batch (B x N, B x 1 x N) or a list of clips of any lengths (waveforms or paths) gives a list of
    Predictions, one per clip (a 1-D waveform gives one Prediction); an iterator of 1-D blocks is one clip streamed.
    """
    options = {"categories": categories, "classes_file": classes_file, "chunk_samples": chunk_samples}
    if is_clip_list(audio):
        if not audio:
            raise ValueError("the list of clips is empty")
        return [predict(model, clip, scale=scale, **options) for clip in audio]
    if isinstance(audio, (str, os.PathLike)):
        block = chunk_samples or default_chunk_samples(model, model.architecture.head)
        return predict_blocks(model, iter_audio_blocks(audio, block, scale=scale), **options)
    if isinstance(audio, Iterator):
        return predict_blocks(model, audio, **options)
    if not isinstance(audio, (torch.Tensor, np.ndarray)):
        raise ValueError(
            f"audio must be a waveform, a path, a list of clips or an iterator of blocks, not {type(audio).__name__}"
        )
    predictions = [predict_blocks(model, [clip[0]], **options) for clip in as_waveform_batch(audio)]
    return predictions if torch.as_tensor(audio).dim() > 1 else predictions[0]
