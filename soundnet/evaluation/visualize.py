"""What SoundNet's units respond to, as the paper showed it: conv1's kernels, and the sounds that excite a unit most.

`filters_figure` draws conv1's kernels, sorted by peak frequency, beside their magnitude responses and as
a heatmap of the bank. `rank_units` streams clips through the net once (chunked) and keeps, per unit, a
running top-k heap of (peak activation, clip, time step) and running statistics of the clip peaks: memory
is O(units x k) however many clips there are, never all activations.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from ..audio import iter_audio_blocks
from ..inference import tiling
from ..inference.features import extract_features
from ..model.architecture import SAMPLE_RATE, Layer, ReceptiveField
from ..model.network import SoundNet
from ..optional import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MIN_SEGMENT_SECONDS = 0.5
DEFAULT_UNITS_LAYER = "conv7"  # the deepest conv, whose units the paper's visualisation figure shows
DEFAULT_UNITS = "all"
DEFAULT_TOP = 9  # as the paper's figure
STREAM_BLOCK = 10 * SAMPLE_RATE  # samples decoded at a time
FFT_POINTS = 1024
FLOOR_DB = -40.0  # the magnitude plots and the heatmap show this far below each kernel's peak
PAIRS_PER_ROW = 4


def kernel_responses(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in kHz, K x F magnitude in dB re. each kernel's own peak) of K x taps kernels."""
    magnitude = np.abs(np.fft.rfft(weights, n=FFT_POINTS, axis=1))
    peaks = np.maximum(magnitude.max(axis=1, keepdims=True), 1e-12)
    decibels = 20 * np.log10(np.maximum(magnitude / peaks, 1e-6))
    return np.fft.rfftfreq(FFT_POINTS, 1 / SAMPLE_RATE) / 1000, decibels


def filters_figure(model: SoundNet) -> Figure:
    """conv1's kernels sorted by peak frequency: a kernels x frequency heatmap of the bank, then each kernel
    (time domain) beside its magnitude response. Kernels keep their 0-based channel numbers, as units do.

    Sized for a page's full width (12 in at 100 dpi): 16 or 32 kernels stay legible.
    """
    weights = model.conv1.weight.detach().double().numpy()[:, 0, :]
    count, taps = weights.shape
    freqs_khz, decibels = kernel_responses(weights)
    peak_khz = freqs_khz[decibels.argmax(axis=1)]
    order = np.argsort(peak_khz, kind="stable")
    rows = math.ceil(count / PAIRS_PER_ROW)
    heat_height = 0.8 + 0.12 * count
    matplotlib_figure = require("matplotlib.figure", "the filter plot")
    figure = matplotlib_figure.Figure(figsize=(12, heat_height + 1.45 * rows + 0.6), layout="constrained")
    figure.suptitle(
        f"{model.name} conv1: {count} kernels of {taps} taps ({taps / SAMPLE_RATE * 1000:.1f} ms at "
        f"{SAMPLE_RATE} Hz), sorted by the frequency of their peak response",
        fontsize=12,
    )
    top, bottom = figure.subfigures(2, 1, height_ratios=[heat_height, 1.45 * rows])
    heat = top.subplots()
    image = heat.imshow(
        decibels[order],
        aspect="auto",
        cmap="magma",
        vmin=FLOOR_DB,
        vmax=0,
        interpolation="nearest",
        extent=(0, freqs_khz[-1], count - 0.5, -0.5),
    )
    heat.set_yticks(range(count), [f"kernel {k}" for k in order], fontsize=8 if count <= 16 else 6.5)
    heat.set_xlabel("frequency (kHz)", fontsize=9)
    heat.set_title("magnitude response of every kernel, dB re. the kernel's peak", fontsize=10)
    heat.tick_params(labelsize=8)
    top.colorbar(image, ax=heat, label="dB re. kernel's peak", pad=0.01)
    axes = bottom.subplots(rows, 2 * PAIRS_PER_ROW, squeeze=False)
    time_ms = np.arange(taps) / SAMPLE_RATE * 1000
    for slot, (time_ax, freq_ax) in enumerate(zip(axes[:, 0::2].flat, axes[:, 1::2].flat)):
        if slot >= count:
            time_ax.axis("off")
            freq_ax.axis("off")
            continue
        kernel = order[slot]
        time_ax.plot(time_ms, weights[kernel], linewidth=0.9, color="tab:blue")
        time_ax.axhline(0, color="0.7", linewidth=0.5)
        time_ax.set_title(f"kernel {kernel}", fontsize=9, loc="left")
        time_ax.set_xlabel("ms", fontsize=8, labelpad=1)
        freq_ax.plot(freqs_khz, decibels[kernel], linewidth=0.9, color="tab:red")
        freq_ax.set_ylim(FLOOR_DB, 3)
        freq_ax.set_title(f"peak {peak_khz[kernel]:.2f} kHz", fontsize=9, loc="left")
        freq_ax.set_xlabel("kHz", fontsize=8, labelpad=1)
        if slot % PAIRS_PER_ROW == 0:
            time_ax.set_ylabel("weight", fontsize=8)
            freq_ax.set_ylabel("dB re. peak", fontsize=8)
        for ax in (time_ax, freq_ax):
            ax.tick_params(labelsize=7, pad=1)
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

    def update(self, clip: int, activations: np.ndarray, first_step: int = 0) -> None:
        """Offer one clip's C x T activations (of steps first_step, first_step + 1, ...)."""
        chosen = activations[self.units]
        steps = chosen.argmax(axis=1)
        peaks = chosen[np.arange(len(self.units)), steps]
        for unit, peak, step in zip(self.units, peaks, steps + first_step):
            item = (float(peak), -clip, int(step))  # min-heap: the weakest, then the latest clip, leaves first
            heap = self.heaps[unit]
            if len(heap) < self.k:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)

    def ranking(self) -> dict[int, list[Hit]]:
        return {
            unit: [Hit(peak, -negative, step) for peak, negative, step in sorted(heap, reverse=True)]
            for unit, heap in self.heaps.items()
        }


def layer_channels(model: SoundNet, layer: Layer) -> int:
    """Channels of a layer's output (the heads' outputs concatenated)."""
    if layer.index == model.architecture.head.index:
        return sum(model.classes)
    return model.widths[layer.block - 1]


def parse_units(text: str, channels: int) -> list[int]:
    """'0,5,9-12' -> [0, 5, 9, 10, 11, 12] (0-based channel numbers), checked against the layer's width; 'all'."""
    if text.strip() == "all":
        return list(range(channels))
    units: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"units are 'all' or 0-based numbers and ranges like '0,5,9-12', got {part!r}")
        if int(last or first) >= channels:  # checked before the range is expanded
            raise ValueError(f"units must lie in 0..{channels - 1} for this layer, got {text!r}")
        units.extend(range(int(first), int(last or first) + 1))
    if not units:
        raise ValueError(f"units must lie in 0..{channels - 1} for this layer, got {text!r}")
    return list(dict.fromkeys(units))


def as_heard(waveform: torch.Tensor) -> torch.Tensor:
    """The clip as the net hears it here: tiled to 10 s when shorter (as the evaluation scripts), else whole."""
    return waveform if waveform.shape[-1] >= tiling.TILE_SAMPLES else tiling.eval_esc50(waveform)


def heard_blocks(
    path: Path, scale: float, counted: list[int], block_samples: int = STREAM_BLOCK
) -> Iterator[torch.Tensor]:
    """as_heard in 1 x n blocks, streamed from the file (a long clip is never held whole); counted[0]
    receives the clip's length."""
    blocks = iter_audio_blocks(path, block_samples, scale=scale)
    return tiling.tiled_blocks(blocks, counted, tiling.TILE_SAMPLES, tiling.eval_esc50)


class PeakStats:
    """Per unit, the sum, sum of squares, minimum and maximum of each clip's peak activation, how many clips
    rise above 0, and (once ranked) the mean of the top-k peaks. O(units) memory whatever the number of clips.
    """

    def __init__(self, units: Sequence[int]):
        self.count = 0
        self.active = np.zeros(len(units), dtype=np.int64)
        self.total = np.zeros(len(units))
        self.squares = np.zeros(len(units))
        self.low = np.full(len(units), np.inf)
        self.high = np.full(len(units), -np.inf)
        self.top_mean = np.zeros(len(units))

    def update(self, peaks: np.ndarray) -> None:
        self.count += 1
        self.active += peaks > 0
        self.total += peaks
        self.squares += peaks.astype(np.float64) ** 2
        np.minimum(self.low, peaks, out=self.low)
        np.maximum(self.high, peaks, out=self.high)

    def means(self) -> list[float]:
        return (self.total / max(self.count, 1)).tolist()

    def selectivity(self) -> list[float | None]:
        """How far the mean of the top-k clip peaks lies above the mean of all clip peaks, in their standard
        deviations: high for a unit that a few clips (k of them, not one) drive well above the rest; None for
        a unit with the same peak on every clip."""
        mean = self.total / max(self.count, 1)
        spread = np.sqrt(np.maximum(self.squares / max(self.count, 1) - mean**2, 0))
        return [
            float((top - m) / s) if high > low else None
            for top, m, s, high, low in zip(self.top_mean, mean, spread, self.high, self.low)
        ]


def unpadded_steps(field: ReceptiveField, steps: int, samples: int) -> range:
    """The steps whose input window lies wholly inside the input; all steps when none does.

    Edge steps also hear the zero padding: ranking them would credit a unit for the silence beyond the clip,
    and their segment could not be shown as heard.
    """
    first = -(-field.offset // field.stride)
    last = min(steps - 1, (samples + field.offset - field.size) // field.stride)
    return range(first, last + 1) if first <= last else range(steps)


def layer_activations(
    model: SoundNet, paths: Iterable[Path], layer: Layer, scale: float
) -> Iterable[tuple[np.ndarray, int]]:
    """Each clip's C x T activations at its unpadded steps, and the first such step; chunked, one clip at a time."""
    field = model.architecture.receptive_field(layer)
    for path in paths:
        counted = [0]
        output = extract_features(model, heard_blocks(path, scale, counted), layer)
        activations = torch.cat(tuple(output) if isinstance(output, tuple) else (output,), dim=1)[0].numpy()
        steps = unpadded_steps(field, activations.shape[-1], max(counted[0], tiling.TILE_SAMPLES))
        yield activations[:, steps.start : steps.stop], steps.start


def rank_units(
    model: SoundNet, paths: Sequence[Path], layer: Layer, units: Sequence[int], top: int, scale: float
) -> tuple[dict[int, list[Hit]], PeakStats]:
    """Per unit, the `top` clips with the highest peak (at unpadded steps), and the peaks' statistics: one pass."""
    ranking, stats = TopK(units, top), PeakStats(units)
    progress = tqdm(paths, desc=f"ranking units of {layer.name}", unit="clip", disable=None, leave=False)
    for clip, (activations, first_step) in enumerate(layer_activations(model, progress, layer, scale)):
        ranking.update(clip, activations, first_step)
        stats.update(activations[list(units)].max(axis=1))
    ranked = ranking.ranking()
    stats.top_mean = np.array([np.mean([hit.activation for hit in hits]) for hits in ranked.values()])
    return ranked, stats


def informative(ranking: dict[int, list[Hit]], stats: PeakStats) -> dict[int, list[Hit]]:
    """The hits above their unit's lowest clip peak: ties at that floor (a ReLU's zeros) say nothing of the unit."""
    return {
        unit: [hit for hit in hits if hit.activation > low] for (unit, hits), low in zip(ranking.items(), stats.low)
    }
