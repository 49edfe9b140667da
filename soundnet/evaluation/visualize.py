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
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from ..audio import iter_audio_blocks
from ..inference import tiling
from ..inference.features import extract_features
from ..model.architecture import SAMPLE_RATE, Layer
from ..model.network import SoundNet

MIN_SEGMENT_SECONDS = 0.5
DEFAULT_UNITS_LAYER = "conv7"  # the deepest conv, whose units the paper's visualisation figure shows
DEFAULT_UNITS = "0-5"
DEFAULT_TOP = 9
STREAM_BLOCK = 10 * SAMPLE_RATE  # samples decoded at a time


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
            raise ValueError(f"units are 0-based numbers and ranges like '0,5,9-12', got {part!r}")
        units.extend(range(int(first), int(last or first) + 1))
    bad = [u for u in units if u >= channels]
    if not units or bad:
        raise ValueError(f"units must lie in 0..{channels - 1} for this layer, got {text!r}")
    return list(dict.fromkeys(units))


def heard_blocks(path: Path, scale: float, block_samples: int = STREAM_BLOCK) -> Iterator[torch.Tensor]:
    """The clip as the net hears it here, in 1 x n blocks: tiled to 10 s when shorter (as the evaluation
    scripts), else streamed whole from the file (never held in memory at once)."""
    blocks = iter_audio_blocks(path, block_samples, scale=scale)
    return tiling.tiled_blocks(blocks, [0], tiling.TILE_SAMPLES, tiling.eval_esc50)


def heard_span(path: Path, scale: float, begin: int, end: int) -> torch.Tensor:
    """Samples [begin, end) of heard_blocks (shorter when the clip ends first), reading no further."""
    pieces, position = [], 0
    for block in heard_blocks(path, scale):
        row = block[0]
        if position + len(row) > begin:
            pieces.append(row[max(0, begin - position):max(0, end - position)])
        position += len(row)
        if position >= end:
            break
    return torch.cat(pieces) if pieces else torch.zeros(0)


def layer_activations(model: SoundNet, paths: Iterable[Path], layer: Layer, scale: float) -> Iterable[np.ndarray]:
    """C x T activations of each clip in turn (heads concatenated), through the exact chunked path."""
    for path in paths:
        output = extract_features(model, heard_blocks(path, scale), layer)
        parts = tuple(output) if isinstance(output, tuple) else (output,)
        yield torch.cat(parts, dim=1)[0].numpy()


def rank_units(model: SoundNet, paths: Sequence[Path], layer: Layer, units: Sequence[int], top: int,
               scale: float) -> dict[int, list[Hit]]:
    """Per unit, the `top` clips with the highest peak activation, streaming over the clips once."""
    ranking = TopK(units, top)
    progress = tqdm(paths, desc=f"ranking units of {layer.name}", unit="clip", disable=None, leave=False)
    for clip, activations in enumerate(layer_activations(model, progress, layer, scale)):
        ranking.update(clip, activations)
    return ranking.ranking()
