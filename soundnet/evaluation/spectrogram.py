"""Small spectrogram pictures of audio segments, for pages that show thousands of them.

Drawn with numpy and a colour map's lookup table rather than a matplotlib figure per segment: a
thumbnail takes about a millisecond and a few kilobytes, so 1,024 units x 9 sounds stay fast and small.
The frequency axis is logarithmic (as hearing is), from LOWEST_HZ to the Nyquist frequency; the colour
spans DYNAMIC_RANGE_DB below full scale, the same for every thumbnail, so quiet segments look quiet
instead of being stretched to full contrast and thumbnails compare with each other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..model.architecture import SAMPLE_RATE
from ..optional import require

# matplotlib (the `plots` extra) is required on import: the unit page says in one line when it is missing.
colormaps = require("matplotlib", "the unit page").colormaps
imsave = require("matplotlib.image", "the unit page").imsave

WIDTH, HEIGHT = 160, 64  # pixels: nine side by side fit a laptop screen
LOWEST_HZ = 50.0
DYNAMIC_RANGE_DB = 80.0
FFT_SIZE = 512
COLOURS = (colormaps["magma"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def _frames(samples: np.ndarray, count: int) -> np.ndarray:
    """`count` Hann-windowed FFT frames spread evenly over the segment (zero-padded when it is short)."""
    padded = np.pad(samples, (0, max(0, FFT_SIZE - len(samples))))
    starts = np.linspace(0, len(padded) - FFT_SIZE, count).round().astype(int)
    return padded[starts[:, None] + np.arange(FFT_SIZE)] * np.hanning(FFT_SIZE)


def _log_frequency_rows(power: np.ndarray, rows: int, sample_rate: int) -> np.ndarray:
    """Average FFT bins into `rows` bands spaced logarithmically; the lowest frequency at the bottom."""
    edges = np.geomspace(LOWEST_HZ, sample_rate / 2, rows + 1) / (sample_rate / FFT_SIZE)
    bins = np.arange(power.shape[1])
    bands = [
        power[:, (bins >= lo) & (bins < max(hi, lo + 1))].mean(axis=1) if hi >= 1 else power[:, 0]
        for lo, hi in zip(np.floor(edges[:-1]), np.ceil(edges[1:]))
    ]
    return np.stack(bands)[::-1]


def spectrogram_image(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, width: int = WIDTH, height: int = HEIGHT
) -> np.ndarray:
    """height x width x 3 uint8: the segment's power in dB re. full scale (samples in [-1, 1])."""
    power = np.abs(np.fft.rfft(_frames(np.asarray(samples, dtype=np.float64), width), axis=1)) ** 2
    power /= (np.hanning(FFT_SIZE).sum() / 2) ** 2  # a full-scale sine reads 0 dB
    decibels = 10 * np.log10(np.maximum(_log_frequency_rows(power, height, sample_rate), 1e-20))
    levels = np.clip((decibels + DYNAMIC_RANGE_DB) / DYNAMIC_RANGE_DB, 0, 1)
    return COLOURS[(levels * 255).round().astype(np.uint8)]


def write_thumbnail(samples: np.ndarray, path: str | Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """The segment's spectrogram as a WIDTH x HEIGHT PNG, written atomically."""
    with atomic_path(path) as tmp:
        imsave(tmp, spectrogram_image(samples, sample_rate), format="png")
    return Path(path)
