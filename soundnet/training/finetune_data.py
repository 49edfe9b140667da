"""Fine-tuning data: labeled clips (0-based labels or class names) and main_finetune.lua's random 5 s crops.

donkey_audio_labeled.lua decoded a clip, repeated it 3 times, and cropped fineSize = 5 s starting at
ceil(uniform(0.01, iT - oT)) (1-based), so the last possible start is never drawn; a clip that failed to
decode became silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..inference.tiling import FINETUNE_CROP_SAMPLES, main_finetune
from ..jobs.clip_lists import Clip, sorted_labels
from .teacher_data import load_or_silence


@dataclass(frozen=True)
class LabeledClip:
    path: Path
    label: int


def labeled_clips(clips: list[Clip], classes: int | None = None) -> tuple[list[LabeledClip], list[str]]:
    """Training clips and class names from a list's clips (clip_lists.read_list, labels required).

    Integer labels are 0-based class indices (< classes; default: the largest + 1), named by their
    number; any other labels are class names, numbered in sorted order.
    """
    if not clips:
        raise ValueError("no clips to fine-tune on")
    missing = next((clip for clip in clips if clip.label is None), None)
    if missing is not None:
        raise ValueError(f"{missing.where or missing.path}: expected 'audio-path label'")
    numeric = [clip.label.isdigit() for clip in clips]
    if any(numeric) and not all(numeric):
        clip = clips[numeric.index(not numeric[0])]
        raise ValueError(f"{clip.where or clip.path}: label {clip.label!r}: the list mixes class numbers and names")
    if all(numeric):
        count = classes if classes is not None else max(int(clip.label) for clip in clips) + 1
        for clip in clips:
            if int(clip.label) >= count:
                raise ValueError(
                    f"{clip.where or clip.path}: label {clip.label} is outside 0..{count - 1} (labels are 0-based)"
                )
        names = [str(i) for i in range(count)]
    else:
        names = sorted_labels({clip.label for clip in clips})
        if classes is not None and classes != len(names):
            raise ValueError(f"the list names {len(names)} classes ({', '.join(names[:5])}...), not {classes}")
    index = {name: i for i, name in enumerate(names)}
    return [LabeledClip(clip.path, index[clip.label]) for clip in clips], names


def split_held_out(clips: list[LabeledClip], fraction: float, seed: int) -> tuple[list[LabeledClip], list[LabeledClip]]:
    """A seeded random split: (training clips, held-out clips); fraction 0 holds nothing out."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the held-out fraction must be in [0, 1), got {fraction}")
    count = round(len(clips) * fraction)
    if fraction and not 0 < count < len(clips):
        raise ValueError(f"a held-out fraction of {fraction} of {len(clips)} clips leaves no training or held-out clip")
    order = np.random.default_rng(seed).permutation(len(clips))
    held = set(order[:count].tolist())
    return ([c for i, c in enumerate(clips) if i not in held], [c for i, c in enumerate(clips) if i in held])


def random_crop(waveform: torch.Tensor, crop: int, rng: np.random.Generator) -> torch.Tensor:
    """The training crop: start = ceil(0.01 + (iT - oT - 0.01) * u) - 1 on the 3x tiled clip."""
    x = main_finetune(waveform, crop)
    start = math.ceil(0.01 + (len(x) - crop - 0.01) * rng.random()) - 1
    return x[start : start + crop]


def center_crop(waveform: torch.Tensor, crop: int) -> torch.Tensor:
    """The held-out crop: the middle 5 s of the 3x tiled clip (deterministic)."""
    x = main_finetune(waveform, crop)
    start = (len(x) - crop) // 2
    return x[start : start + crop]


class LabeledDataset(Dataset):
    """Items keyed (clip index, step, slot); training crops draw from a generator seeded by (seed, step, slot)."""

    def __init__(self, clips: list[LabeledClip], seed: int = 0, train: bool = True, crop: int = FINETUNE_CROP_SAMPLES):
        self.clips, self.seed, self.train, self.crop = clips, seed, train, crop

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int, int]) -> dict:
        index, step, slot = key
        clip = self.clips[index]
        waveform, problem = load_or_silence(clip.path)
        if waveform is None:
            x = torch.zeros(self.crop)
        elif self.train:
            x = random_crop(waveform, self.crop, np.random.default_rng([self.seed, step, slot]))
        else:
            x = center_crop(waveform, self.crop)
        return {"waveform": x.contiguous(), "label": clip.label, "missing": waveform is None, "problem": problem}
