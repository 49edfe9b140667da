"""The embedded example checkpoint and generated test sounds, so every command runs without downloads.

The example is a reduced-width SoundNet8 with random weights (scripts/make_example_model.py makes it):
its predictions are meaningless, it only proves the pipeline runs. `--model example` selects it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .architecture import SAMPLE_RATE

EXAMPLE_MODEL = Path(__file__).resolve().parent.parent / "data" / "example_soundnet8.t7"
EXAMPLE_WIDTHS = (4, 8, 16, 32, 32, 32, 32)
EXAMPLE_NAME = "example"


def synthetic_sound(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """A reproducible test sound scaled like SoundNet input: tones, a chirp, an envelope, noise, clicks."""
    generator = torch.Generator().manual_seed(seed)
    n = int(round(seconds * sample_rate))
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    freqs = 40 * (100 ** torch.rand(4, generator=generator, dtype=torch.float64))  # 40 Hz .. 4 kHz
    wave = sum(torch.sin(2 * torch.pi * f * t + 6.28 * float(torch.rand(1, generator=generator))) for f in freqs)
    wave = wave + torch.sin(2 * torch.pi * (100 + 900 * t / max(seconds, 1e-9)) * t)
    wave = wave * (0.6 + 0.4 * torch.sin(2 * torch.pi * 0.3 * t))
    wave = wave + 0.3 * torch.randn(n, generator=generator, dtype=torch.float64)
    wave = 40 * wave / wave.std().clamp_min(1e-9)
    clicks = torch.arange(sample_rate // 2, n, sample_rate)
    wave[clicks] = 230.0
    return wave.clamp(-256, 256).float()
