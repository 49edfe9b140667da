"""Small random SoundNets and generated audio files for the predict/extract/chunking tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from soundnet import SoundNet5, SoundNet8
from soundnet.model.network import SoundNet

RATE = 22050
SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}


def randomised(model: SoundNet, seed: int) -> SoundNet:
    """Random BN statistics and affine terms, so BN is not the identity; eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator))
                module.running_var.copy_(torch.rand(n, generator=generator) * 4 + 0.25)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model.eval()


def small_soundnet8(seed: int = 0) -> SoundNet:
    torch.manual_seed(seed)
    return randomised(SoundNet8(widths=(4, 4, 8, 8, 8, 16, 16), classes=(10, 6)), seed)


def small_soundnet5(seed: int = 0) -> SoundNet:
    torch.manual_seed(seed)
    return randomised(SoundNet5(widths=(4, 4, 8, 8), classes=(10, 6)), seed)


def tone(seconds: float, rate: int = RATE, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Frames x channels in [-0.8, 0.8]: a tone and noise, different in every channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    columns = [
        0.5 * np.sin(2 * np.pi * rng.uniform(100, 3000) * t) + 0.1 * rng.standard_normal(len(t))
        for _ in range(channels)
    ]
    return np.clip(np.stack(columns, axis=1), -0.8, 0.8).astype(np.float32)


def write_audio(path: Path, seconds: float, rate: int = RATE, channels: int = 1, seed: int = 0) -> Path:
    """A generated file in the format its suffix names (wav, flac, ogg, mp3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, rate, channels, seed), rate, subtype=SUBTYPES[path.suffix[1:]])
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
