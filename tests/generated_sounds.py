"""Four kinds of generated sound, written as WAV by the tests: tones, noise bursts, chirps and clicks.

Each clip draws its own frequencies, timings and loudness, so a class is a kind of sound, not one waveform.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 22050
KINDS = ("tone", "noise", "chirp", "clicks")


def sound(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One clip of `kind` in [-1, 1]."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    if kind == "tone":
        f = rng.uniform(300, 3000)
        wave = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t + rng.uniform(0, 6))
    elif kind == "noise":
        wave = np.zeros(n)
        for _ in range(rng.integers(3, 7)):
            start, width = rng.integers(0, n - RATE // 4), rng.integers(RATE // 20, RATE // 5)
            wave[start : start + width] += rng.standard_normal(width)
    elif kind == "chirp":
        f0, f1 = rng.uniform(100, 800), rng.uniform(2000, 6000)
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))
    else:
        wave = np.zeros(n)
        wave[rng.integers(0, RATE // 10) :: int(RATE / rng.uniform(5, 20))] = 1.0
    return rng.uniform(0.3, 0.9) * wave / max(np.abs(wave).max(), 1e-9)


def write_clip(path: Path, kind: str, seconds: float, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, sound(kind, seconds, np.random.default_rng(seed)), RATE, subtype="PCM_16")
    return path


def write_esc50(folder: Path, per_fold: int = 2, folds: int = 3, seconds: float = 2.0) -> list[Path]:
    """An ESC-50-like folder (audio/{FOLD}-{ID}-{TAKE}-{TARGET}.wav, no meta CSV); per_fold clips per class."""
    paths = []
    for fold in range(1, folds + 1):
        for target, kind in enumerate(KINDS):
            for take in range(per_fold):
                seed = 1000 * fold + 10 * target + take
                paths.append(
                    write_clip(folder / "audio" / f"{fold}-{seed}-{'ABCDEFGH'[take]}-{target}.wav", kind, seconds, seed)
                )
    return paths
