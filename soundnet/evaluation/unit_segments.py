"""The sounds behind a unit ranking: each top segment as audio and a spectrogram, placed in its original file.

A segment is the receptive field of the peak time step (widened to MIN_SEGMENT_SECONDS when shorter, so
early layers stay audible), cut from the waveform the net heard and divided by the input scale. A clip
shorter than 10 s was heard tiled (repeated), so a segment's place in the original file is taken modulo
the clip's length: it may wrap past the end into the next copy, or cover the whole clip more than once.

Hits of several units often share a segment; each distinct segment is written once (FLAC: lossless, half
the size of WAV, played by browsers) with its thumbnail, named by clip and first sample. Each clip of the
ranking is decoded once more here; only clips that made some unit's top list are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ..atomic import atomic_path
from ..audio import load_audio
from ..formats.categories import display_name
from ..inference.features import extract_features
from ..jobs.clip_lists import Clip
from ..model.architecture import SAMPLE_RATE, ReceptiveField
from ..model.network import SoundNet
from .spectrogram import write_thumbnail
from .visualize import MIN_SEGMENT_SECONDS, Hit, as_heard

Span = tuple[float, float]


def segment_span(field: ReceptiveField, step: int, length: int, minimum: int = 0) -> tuple[int, int]:
    """The step's input window, widened about its centre to `minimum` samples, clipped to [0, length)."""
    begin, end = field.window(step)
    if end - begin < minimum:
        centre = (begin + end) // 2
        begin, end = centre - minimum // 2, centre + (minimum + 1) // 2
    return max(0, begin), min(length, end)


def file_spans(begin: int, end: int, clip_samples: int, tiled: bool) -> tuple[list[Span], bool]:
    """Where input samples [begin, end) lie in the original file, in seconds, and whether they loop it whole.

    Untiled input is the file itself. Tiled input repeats the clip, so the span is taken modulo its
    length: one span, two when it wraps past the end, or the whole clip when it is at least that long.
    """
    if not tiled:
        return [(begin / SAMPLE_RATE, end / SAMPLE_RATE)], False
    if end - begin >= clip_samples:
        return [(0.0, clip_samples / SAMPLE_RATE)], True
    start = begin % clip_samples
    stop = start + end - begin
    if stop <= clip_samples:
        return [(start / SAMPLE_RATE, stop / SAMPLE_RATE)], False
    return [(start / SAMPLE_RATE, clip_samples / SAMPLE_RATE), (0.0, (stop - clip_samples) / SAMPLE_RATE)], False


@dataclass(frozen=True)
class Concept:
    """The teacher heads' most likely object and scene (display names) around a segment."""

    object: str
    scene: str


def head_input(head: ReceptiveField) -> tuple[int, int, int]:
    """(lead, length, step): output `step` of an input of `length` samples reads exactly samples
    [lead, lead + head.size) of it, so that step touches no padding."""
    step = -(-head.offset // head.stride)
    lead = step * head.stride - head.offset
    return lead, lead + head.size, step


def concept_inputs(clip: torch.Tensor, tiled: bool, centres: Sequence[int], head: ReceptiveField) -> torch.Tensor:
    """B x N inputs whose head step is centred on each of `centres` (samples of the heard input).

    The heads see more than any body layer (SoundNet8: 14.5 s), more than a 10 s input gives them without
    padding. So a tiled clip is extended by tiling further; a long clip's window is moved inside the file.
    """
    lead, length, _ = head_input(head)
    rows = []
    for centre in centres:
        start = centre - head.size // 2 - lead
        if tiled or len(clip) < length:
            rows.append(clip[(start + torch.arange(length)) % len(clip)])
        else:
            start = min(max(start, 0), len(clip) - length)
            rows.append(clip[start : start + length])
    return torch.stack(rows)


def head_concepts(
    model: SoundNet,
    clip: torch.Tensor,
    tiled: bool,
    centres: Sequence[int],
    names: tuple[Sequence[str], Sequence[str]],
    batch: int = 8,
) -> list[Concept]:
    """The teacher heads' top object and scene on a window centred on each of `centres`."""
    head = model.architecture.receptive_field(model.architecture.head)
    step = head_input(head)[2]
    concepts = []
    for first in range(0, len(centres), batch):
        windows = concept_inputs(clip, tiled, centres[first : first + batch], head)
        objects, scenes = extract_features(model, windows, model.architecture.head.index)
        concepts += [
            Concept(display_name(names[0][int(o)]), display_name(names[1][int(s)]))
            for o, s in zip(objects[:, :, step].argmax(dim=1), scenes[:, :, step].argmax(dim=1))
        ]
    return concepts


def _write_segment(samples: np.ndarray, out_dir: Path, stem: str) -> tuple[str, str]:
    audio, thumbnail = f"segments/{stem}.flac", f"segments/{stem}.png"
    with atomic_path(out_dir / audio) as tmp:
        sf.write(tmp, samples, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    write_thumbnail(samples, out_dir / thumbnail)
    return audio, thumbnail


def write_segments(
    ranking: dict[int, list[Hit]],
    clips: Sequence[Clip],
    model: SoundNet,
    field: ReceptiveField,
    scale: float,
    out_dir: Path,
    names: tuple[Sequence[str], Sequence[str]] | None,
) -> list[dict]:
    """Write each distinct top segment (audio and thumbnail) under out_dir/segments; one record per hit.

    `names` (object and scene names) asks for each segment's concept from the teacher heads.
    """
    by_clip: dict[int, list[tuple[int, int, Hit]]] = defaultdict(list)
    for unit, hits in ranking.items():
        for rank, hit in enumerate(hits, 1):
            by_clip[hit.clip].append((unit, rank, hit))
    records: dict[tuple[int, int], dict] = {}
    minimum = int(MIN_SEGMENT_SECONDS * SAMPLE_RATE)
    for index in sorted(by_clip):
        clip, hits = clips[index], by_clip[index]
        original = load_audio(clip.path, scale=scale)
        heard = as_heard(original)
        samples = original.shape[-1]
        tiled = heard.shape[-1] > samples
        waveform = heard.numpy()
        steps = sorted({hit.step for _, _, hit in hits})
        written: dict[int, tuple[str, str]] = {}
        for step in steps:
            begin, end = segment_span(field, step, len(waveform), minimum)
            written[step] = _write_segment(np.clip(waveform[begin:end] / scale, -1, 1), out_dir, f"clip{index}_{begin}")
        concepts = {}
        if names:
            centres = [sum(field.window(step)) // 2 for step in steps]
            concepts = dict(zip(steps, head_concepts(model, original, tiled, centres, names)))
        for unit, rank, hit in hits:
            begin, end = segment_span(field, hit.step, len(waveform), minimum)
            spans, looped = file_spans(begin, end, samples, tiled)
            records[unit, rank] = {
                "unit": unit,
                "rank": rank,
                "clip": str(clip.path),
                "clip_index": index,
                "label": clip.label,
                "step": hit.step,
                "activation": hit.activation,
                "clip_seconds": round(samples / SAMPLE_RATE, 4),
                "input_start_s": round(begin / SAMPLE_RATE, 4),
                "input_end_s": round(end / SAMPLE_RATE, 4),
                "file_spans": [[round(a, 4), round(b, 4)] for a, b in spans],
                "looped": looped,
                "audio": written[hit.step][0],
                "thumbnail": written[hit.step][1],
                **({"object": concepts[hit.step].object, "scene": concepts[hit.step].scene} if concepts else {}),
            }
    return [records[unit, rank] for unit, hits in ranking.items() for rank in range(1, len(hits) + 1)]
