"""Small generated training data: noise clips, random teacher distributions, a teacher HDF5, a label list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from soundnet.training.teacher_data import write_teacher_hdf5

RATE = 22050


def write_noise_clip(path: Path, seconds: float, seed: int) -> Path:
    samples = np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * RATE)).astype(np.float32)
    sf.write(path, samples, RATE, subtype="PCM_16")
    return path


def distributions(rows: int, classes: int, seed: int) -> np.ndarray:
    logits = 2 * np.random.default_rng(seed).standard_normal((rows, classes))
    p = np.exp(logits - logits.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def make_teacher_h5(folder: Path, frames=(4, 2, 1, 4), seconds=(20, 10, 3, 25), missing: int = 0) -> Path:
    """Clips with the given frame counts and audio lengths; `missing` more entries point at no file."""
    entries = {}
    for index, (count, length) in enumerate(zip(frames, seconds)):
        audio = write_noise_clip(folder / f"clip{index}.wav", length, index).name
        entries[f"videos/clip{index}"] = (
            distributions(count, 1000, index),
            distributions(count, 401, 100 + index),
            audio,
        )
    for index in range(missing):
        entries[f"gone{index}"] = (distributions(4, 1000, 50), distributions(4, 401, 51), f"gone{index}.wav")
    write_teacher_hdf5(folder / "teacher.h5", entries)
    return folder / "teacher.h5"


def make_label_list(folder: Path, count: int = 8, classes: int = 3) -> Path:
    lines = [f"{write_noise_clip(folder / f'sound {i}.wav', 2 + i % 3, i).name} {i % classes}" for i in range(count)]
    (folder / "train.txt").write_text("\n".join(lines) + "\n")
    return folder / "train.txt"
