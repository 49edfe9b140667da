"""What SoundNet's units respond to, as the paper showed it: conv1's kernels, and the sounds that excite a unit most.

`filters_figure` draws conv1's kernels in time and their magnitude responses. `rank_units` streams clips
through the net once and keeps, per unit, a running top-k heap of (peak activation, clip, time step):
memory is O(units x k) however many clips there are, never all activations.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from ..model.architecture import SAMPLE_RATE, Layer
from ..audio import load_audio
from ..jobs.clip_lists import tile
from ..jobs.feature_cache import CLIP_SECONDS, extract_batch
from ..model.network import SoundNet

MIN_SEGMENT_SECONDS = 0.5


def filters_figure(model: SoundNet, columns: int = 8) -> Figure:
    """conv1's kernels (time domain, in Torch's order) beside their magnitude responses in dB."""
    weights = model.conv1.weight.detach().double().numpy()[:, 0, :]
    count, taps = weights.shape
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(2 * columns * 1.8, rows * 1.5 + 1), layout="constrained")
    figure.suptitle(f"{model.name} conv1: {count} kernels of {taps} taps at {SAMPLE_RATE} Hz "
                    "(left: time domain; right: magnitude response, dB)", fontsize=10)
    left, right = figure.subfigures(1, 2)
    time_ms = np.arange(taps) / SAMPLE_RATE * 1000
    spectrum = np.abs(np.fft.rfft(weights, n=1024, axis=1))
    decibels = 20 * np.log10(np.maximum(spectrum / max(spectrum.max(), 1e-12), 1e-6))
    freqs_khz = np.fft.rfftfreq(1024, 1 / SAMPLE_RATE) / 1000
    time_axes = left.subplots(rows, columns, squeeze=False, sharex=True)
    freq_axes = right.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for k, (t_ax, f_ax) in enumerate(zip(time_axes.flat, freq_axes.flat)):
        if k >= count:
            t_ax.axis("off")
            f_ax.axis("off")
            continue
        t_ax.plot(time_ms, weights[k], linewidth=0.8)
        t_ax.set_title(f"#{k + 1}", fontsize=7)
        f_ax.plot(freqs_khz, decibels[k], linewidth=0.8, color="tab:red")
        f_ax.set_title(f"#{k + 1}: peak {freqs_khz[decibels[k].argmax()]:.2f} kHz", fontsize=7)
        f_ax.set_ylim(-60, 3)
        for ax in (t_ax, f_ax):
            ax.tick_params(labelsize=5)
    time_axes[-1, 0].set_xlabel("ms", fontsize=7)
    freq_axes[-1, 0].set_xlabel("kHz", fontsize=7)
    return figure


@dataclass(frozen=True)
class Hit:
    """One clip's peak activation of a unit and the time step where it first reached it."""

    activation: float
    clip: int
    step: int


class TopK:
    """A running top-k of clips per unit; among equal activations the earlier clip ranks first."""

    def __init__(self, units: Sequence[int], k: int):
        self.units, self.k = list(units), k
        self.heaps: dict[int, list[tuple[float, int, int]]] = {unit: [] for unit in self.units}

    def update(self, clip: int, activations: np.ndarray) -> None:
        """Offer one clip's C x T activations."""
        chosen = activations[self.units]
        steps = chosen.argmax(axis=1)
        peaks = chosen[np.arange(len(self.units)), steps]
        for unit, peak, step in zip(self.units, peaks, steps):
            item = (float(peak), -clip, int(step))  # min-heap: the weakest, then the latest clip, leaves first
            heap = self.heaps[unit]
            if len(heap) < self.k:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)

    def ranking(self) -> dict[int, list[Hit]]:
        return {unit: [Hit(peak, -negative, step) for peak, negative, step in sorted(heap, reverse=True)]
                for unit, heap in self.heaps.items()}


def layer_channels(model: SoundNet, layer: Layer) -> int:
    """Channels of a layer's output (the heads' outputs concatenated)."""
    if layer.index == model.architecture.head.index:
        return sum(model.classes)
    return model.widths[layer.block - 1]


def parse_units(text: str, channels: int) -> list[int]:
    """'0,5,9-12' -> [0, 5, 9, 10, 11, 12] (0-based channel numbers), checked against the layer's width."""
    units: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"--units takes 0-based numbers and ranges like '0,5,9-12', got {part!r}")
        if int(last or first) >= channels:  # checked before the range is expanded
            raise ValueError(f"units must lie in 0..{channels - 1} for this layer, got {text!r}")
        units.extend(range(int(first), int(last or first) + 1))
    if not units:
        raise ValueError(f"units must lie in 0..{channels - 1} for this layer, got {text!r}")
    return list(dict.fromkeys(units))


def network_input(path: Path, scale: float) -> torch.Tensor:
    """The clip as the net hears it here: tiled up to 10 s when shorter (as the prediction script), else whole."""
    waveform = load_audio(path, scale=scale)
    return tile(waveform, max(waveform.shape[-1], CLIP_SECONDS * SAMPLE_RATE))


def layer_activations(model: SoundNet, paths: Iterable[Path], layer: Layer, scale: float) -> Iterable[np.ndarray]:
    """C x T activations of each clip in turn (clips differ in length, so one at a time)."""
    for path in paths:
        yield extract_batch(model, [network_input(path, scale)], layer)[0]


def rank_units(model: SoundNet, paths: Sequence[Path], layer: Layer, units: Sequence[int], top: int,
               scale: float) -> dict[int, list[Hit]]:
    """Per unit, the `top` clips with the highest peak activation, streaming over the clips once."""
    ranking = TopK(units, top)
    progress = tqdm(paths, desc=f"ranking units of {layer.name}", unit="clip", disable=None, leave=False)
    for clip, activations in enumerate(layer_activations(model, progress, layer, scale)):
        ranking.update(clip, activations)
    return ranking.ranking()
