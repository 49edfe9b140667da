"""Fine-tuning data: `path label` lists (0-based labels) and main_finetune.lua's random 5 s crops.

donkey_audio_labeled.lua decoded a clip, repeated it 3 times, and cropped fineSize = 5 s starting at
ceil(uniform(0.01, iT - oT)) (1-based), so the last possible start is never drawn; a clip that failed to
decode became silence.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..model.architecture import SAMPLE_RATE
from ..input_files import read_text_lines
from .teacher_data import load_or_silence

CROP_SECONDS = 5
TILES = 3


@dataclass(frozen=True)
class LabeledClip:
    path: Path
    label: int


def read_label_list(path: str | os.PathLike, classes: int, root: str | os.PathLike | None = None) -> list[LabeledClip]:
    """Lines `audio-path label` (label last, 0-based, < classes); relative paths from `root` or the list's folder."""
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    clips = []
    for number, line in enumerate(read_text_lines(path), 1):
        if not line.strip():
            continue
        parts = line.rsplit(maxsplit=1)
        try:
            label = int(parts[1]) if len(parts) == 2 else None
        except ValueError:
            label = None
        if label is None:
            raise ValueError(f"{path}:{number}: expected 'audio-path label', got {line.strip()!r}")
        if not 0 <= label < classes:
            raise ValueError(f"{path}:{number}: label {label} is outside 0..{classes - 1} (labels are 0-based)")
        clips.append(LabeledClip(base / parts[0].strip(), label))
    if not clips:
        raise ValueError(f"{path} lists no clips")
    return clips


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


def _tiled(waveform: torch.Tensor, crop: int) -> torch.Tensor:
    """The clip repeated 3 times, and more when that is still not longer than the crop (the original failed)."""
    return waveform.repeat(max(TILES, crop // len(waveform) + 1))


def random_crop(waveform: torch.Tensor, crop: int, rng: np.random.Generator) -> torch.Tensor:
    """The training crop: start = ceil(0.01 + (iT - oT - 0.01) * u) - 1 on the 3x tiled clip."""
    x = _tiled(waveform, crop)
    start = math.ceil(0.01 + (len(x) - crop - 0.01) * rng.random()) - 1
    return x[start:start + crop]


def center_crop(waveform: torch.Tensor, crop: int) -> torch.Tensor:
    """The held-out crop: the middle 5 s of the 3x tiled clip (deterministic)."""
    x = _tiled(waveform, crop)
    start = (len(x) - crop) // 2
    return x[start:start + crop]


class LabeledDataset(Dataset):
    """Items keyed (clip index, step, slot); training crops draw from a generator seeded by (seed, step, slot)."""

    def __init__(self, clips: list[LabeledClip], seed: int = 0, train: bool = True,
                 crop: int = CROP_SECONDS * SAMPLE_RATE):
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
