"""Features of one layer, as the original extract_feat.lua computed them, for waveforms of any length.

Everything runs through the chunked path (soundnet.chunked), so a clip of hours takes the memory of a
chunk plus its features; pooling over time is done chunk by chunk, so pooled features of any length take
the memory of one vector.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ..model.architecture import Layer
from .chunked import Output, default_chunk_samples, iter_chunked
from ..model.network import SoundNet, as_waveform_batch

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
    results = tuple(accumulator.result() for accumulator in pooled)
    return results if len(results) > 1 else results[0]


def extract_blocks(model: SoundNet, blocks: Iterable[torch.Tensor], layer: int | str = DEFAULT_LAYER, *,
                   pool: str = "none", chunk_samples: int | None = None) -> Output:
    """Features of a waveform given as consecutive blocks (e.g. iter_audio_blocks): B x C x T or B x C."""
    target = feature_layer(model, layer)
    return collect(iter_chunked(model, blocks, target, chunk_samples), pool)


def extract(model: SoundNet, waveform: torch.Tensor | np.ndarray, layer: int | str = DEFAULT_LAYER, *,
            pool: str = "none", chunk_samples: int | None = None) -> Output:
    """Features of `layer` (Torch index 1-25 or name) for a waveform already scaled to [-256, 256].

    A 1-D waveform gives C x T (C when pooled over time with pool="mean" or "max"); a batch of equally
    long clips (B x N, B x 1 x N) gives B x C x T. The head layer gives a tuple (objects, scenes).
    """
    batch = as_waveform_batch(waveform)[:, 0, :]
    target = feature_layer(model, layer)
    chunk = chunk_samples or default_chunk_samples(model, target, batch.shape[0])
    output = extract_blocks(model, [batch], target, pool=pool, chunk_samples=chunk)
    if torch.as_tensor(waveform).dim() > 1:
        return output
    return tuple(part[0] for part in output) if isinstance(output, tuple) else output[0]
