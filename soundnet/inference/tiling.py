"""How the original scripts lengthened short clips: one recipe per script, named after the script.

- extract_predictions.lua: a clip shorter than 10 s is repeated ceil(10 s / length) times (not cut).
- eval_esc50.lua (and the DCASE script): every clip is repeated and cut to exactly 10 s.
- main_finetune.lua (donkey_audio_labeled.lua): the clip is repeated 3 times, then a 5 s crop is taken;
  here more copies are added when 3 are still not longer than the crop (the original failed there).
- main_train.lua (donkey_audio.lua): 4 frames of 5 s; a video of L < 4 frames keeps its first 5L s,
  repeated to 20 s, and its teacher rows cycle to 4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from ..model.architecture import SAMPLE_RATE

TILE_SECONDS = 10  # extract_predictions.lua's min_length and the evaluation scripts' clip length
TILE_SAMPLES = TILE_SECONDS * SAMPLE_RATE
FINETUNE_CROP_SECONDS = 5
FINETUNE_CROP_SAMPLES = FINETUNE_CROP_SECONDS * SAMPLE_RATE
FINETUNE_TILES = 3
TRAIN_FRAMES = 4
TRAIN_FRAME_SECONDS = 5


def repeat_to(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """The first `length` samples of the waveform repeated end to end along the last axis (cut if longer)."""
    repeats = math.ceil(length / waveform.shape[-1])
    return waveform.repeat(*([1] * (waveform.dim() - 1)), repeats)[..., :length]


def extract_predictions_repeats(samples: int) -> int:
    """Copies extract_predictions.lua fed for a clip of `samples` (1 from 10 s on)."""
    if samples < 1:
        raise ValueError("a clip needs at least one sample")
    return 1 if samples >= TILE_SAMPLES else math.ceil(TILE_SAMPLES / samples)


def extract_predictions(waveform: torch.Tensor) -> torch.Tensor:
    """extract_predictions.lua's input: the clip repeated up to at least 10 s (whole copies)."""
    repeats = extract_predictions_repeats(waveform.shape[-1])
    return waveform.repeat(*([1] * (waveform.dim() - 1)), repeats)


def tiled_blocks(
    blocks: Iterable[torch.Tensor], counted: list[int], minimum: int, tile: Callable[[torch.Tensor], torch.Tensor]
) -> Iterator[torch.Tensor]:
    """A clip given as 1-D blocks, tiled by `tile` when it ends before `minimum` samples, as 1 x n blocks.

    A long clip streams through untouched; only its first `minimum` samples are held at once.
    `counted[0]` receives the clip's length as the blocks go by.
    """
    blocks, head = iter(blocks), []
    for block in blocks:
        head.append(torch.as_tensor(block, dtype=torch.float32).reshape(1, -1))
        counted[0] += head[-1].shape[1]
        if counted[0] >= minimum:
            break
    if counted[0] < minimum:
        if counted[0] == 0:
            raise ValueError("the clip holds no samples")
        yield tile(torch.cat(head, dim=1))
        return
    yield from head
    for block in blocks:
        counted[0] += block.shape[-1]
        yield block.reshape(1, -1)


def eval_esc50(waveform: torch.Tensor, length: int = TILE_SAMPLES) -> torch.Tensor:
    """The evaluation scripts' input: the clip repeated ceil((10 s + 1 s) / length) times, cut to 10 s."""
    return repeat_to(waveform, length)


def main_finetune_repeats(samples: int, crop: int = FINETUNE_CROP_SAMPLES) -> int:
    """Copies of a clip main_finetune.lua cropped from: 3, or more while 3 are not longer than the crop."""
    if samples < 1:
        raise ValueError("a clip needs at least one sample")
    return max(FINETUNE_TILES, crop // samples + 1)


def main_finetune(waveform: torch.Tensor, crop: int = FINETUNE_CROP_SAMPLES) -> torch.Tensor:
    """The waveform fine-tuning crops from: the clip repeated main_finetune_repeats times."""
    repeats = main_finetune_repeats(waveform.shape[-1], crop)
    return waveform.repeat(*([1] * (waveform.dim() - 1)), repeats)


def main_train(
    waveform: torch.Tensor | None, objects: np.ndarray, scenes: np.ndarray, rate: int = SAMPLE_RATE
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """donkey_audio.lua's trainHook: a 20 s waveform and the teacher targets C x 4 of each head.

    Audio shorter than its frames is zero-padded (the original's fill also zeroes the last real sample);
    a video of L < 4 frames keeps its first 5L s, repeated to 20 s, and its rows cycle to 4. A missing
    clip (None) is 20 s of silence.
    """
    frames = len(objects)
    needed, length = frames * TRAIN_FRAME_SECONDS * rate, TRAIN_FRAMES * TRAIN_FRAME_SECONDS * rate
    x = torch.zeros(length) if waveform is None else waveform.float()
    if len(x) < needed:
        x = torch.cat([x[:-1], x.new_zeros(needed - len(x) + 1)])
    if frames < TRAIN_FRAMES:
        x = x[:needed].repeat(math.ceil(length / needed))
    rows = [i % frames for i in range(TRAIN_FRAMES)]
    return (
        x[:length].contiguous(),
        torch.from_numpy(np.ascontiguousarray(objects[rows].T)),
        torch.from_numpy(np.ascontiguousarray(scenes[rows].T)),
    )
