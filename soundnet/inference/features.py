"""Features of one layer, as the original extract_feat.lua computed them, for waveforms of any length.

`extract_features` is the one function for audio of any length: everything runs through the chunked
path (inference.chunked), so a clip of hours takes the memory of a chunk plus its features; pooling over
time is done chunk by chunk, so pooled features of any length take the memory of one vector.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch

from ..audio import iter_audio_blocks
from ..model.architecture import INPUT_SCALE, Layer
from ..model.network import AudioInput, Output, SoundNet, as_waveform_batch, is_clip_list
from .chunked import default_chunk_samples, iter_chunked

POOLS = ("none", "mean", "max")
DEFAULT_LAYER = 24  # conv7 after its ReLU, the original script's default


def feature_layer(model: SoundNet, layer: int | str | Layer) -> Layer:
    """The layer by Torch index (1-based, as the original's `layer=24`) or by name."""
    return layer if isinstance(layer, Layer) else model.architecture.layer(layer)


def _pool_tensor(piece: torch.Tensor, pool: str) -> torch.Tensor:
    if pool == "mean":
        return piece.double().sum(dim=-1)
    return piece.amax(dim=-1)


class _Pooled:
    """Concatenation, running sum or running max of the pieces along time."""

    def __init__(self, pool: str):
        self.pool = pool
        self.pieces: list[torch.Tensor] = []
        self.steps = 0
        self.dtype = torch.float32  # the pieces' (the model's) dtype, which the mean is returned in

    def add(self, piece: torch.Tensor) -> None:
        self.steps += piece.shape[-1]
        self.dtype = piece.dtype
        if self.pool == "none":
            self.pieces.append(piece)
            return
        pooled = _pool_tensor(piece, self.pool)
        if not self.pieces:
            self.pieces.append(pooled)
        elif self.pool == "mean":
            self.pieces[0] += pooled
        else:
            torch.maximum(self.pieces[0], pooled, out=self.pieces[0])

    def result(self) -> torch.Tensor:
        if self.pool == "none":
            return torch.cat(self.pieces, dim=-1)
        if self.pool == "mean":
            return (self.pieces[0] / self.steps).to(self.dtype)
        return self.pieces[0]


def collect(pieces: Iterable[Output], pool: str = "none") -> Output:
    """Join chunk outputs along time (pool "none") or pool them over time ("mean", "max")."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    pooled: list[_Pooled] | None = None
    for piece in pieces:
        parts = piece if isinstance(piece, tuple) else (piece,)
        pooled = pooled or [_Pooled(pool) for _ in parts]
        for accumulator, part in zip(pooled, parts):
            accumulator.add(part)
    if pooled is None:
        raise ValueError("no outputs to collect")
    results = [accumulator.result() for accumulator in pooled]
    return type(piece)(*results) if isinstance(piece, tuple) else results[0]


def extract_features(
    model: SoundNet,
    audio: AudioInput | Sequence[AudioInput] | Iterator[torch.Tensor],
    layer: int | str | Layer = DEFAULT_LAYER,
    *,
    pool: str = "none",
    scale: float = INPUT_SCALE,
    chunk_samples: int | None = None,
) -> Output | list[Output]:
    """Features of `layer` (Torch index 1-25 or name) for audio of any length, exact and in bounded memory.

    The chunked counterpart of model.forward_features, with the same shapes: B x C x T (B x C pooled
    over time with pool="mean" or "max"; HeadOutputs at the head index). `audio` is one of
    - a waveform scaled to [-256, 256] (N, B x N or B x 1 x N: equally long clips), run in chunks;
    - a path: the file is decoded block by block (at `scale`), never held whole; gives 1 x C x T;
    - a list of clips of any lengths (waveforms or paths): a list with each clip's 1 x C x T;
    - an iterator of consecutive N or B x N blocks of one waveform (e.g. iter_audio_blocks).
    """
    target = feature_layer(model, layer)
    if is_clip_list(audio):
        if not audio:
            raise ValueError("the list of clips is empty")
        return [
            extract_features(model, clip, target, pool=pool, scale=scale, chunk_samples=chunk_samples) for clip in audio
        ]
    if isinstance(audio, (str, os.PathLike)):
        chunk = chunk_samples or default_chunk_samples(model, target)
        blocks: Iterable[torch.Tensor] = iter_audio_blocks(audio, chunk, scale=scale)
    elif isinstance(audio, (torch.Tensor, np.ndarray)):
        batch = as_waveform_batch(audio)[:, 0, :]
        chunk = chunk_samples or default_chunk_samples(model, target, batch.shape[0])
        blocks = [batch]
    elif isinstance(audio, Iterator):
        chunk, blocks = chunk_samples, audio
    else:
        raise ValueError(
            f"audio must be a waveform, a path, a list of clips or an iterator of blocks, not {type(audio).__name__}"
        )
    return collect(iter_chunked(model, blocks, target, chunk), pool)
