"""Exact chunked inference: any length in bounded memory, with the outputs of one pass.

The geometry comes from the architecture table alone. Walking back from one output of a layer through
every conv and pool (kernel k, stride s, padding p; BN and ReLU are pointwise), output j reads the input
samples [j*S - P, j*S - P + R): S is the product of the strides, P the padding carried back and R the
receptive field (SoundNet8 conv7: S 32768, P 55584, R 91166).

A chunk that starts at a multiple of S lines up with the whole signal at every layer: index i of layer l
in the chunk is index i + start/S_l of the whole, S_l dividing S. Hence
- an output whose window lies inside the chunk touched no zero padding and equals the one-pass value;
- a chunk starting at sample 0 pads its left edge as one pass does, and a chunk ending at the last
  sample pads and floors its right edge as one pass does (floor((N - a + 2p - k)/s) + 1 is the
  one-pass length minus a/s when s divides a).
So each chunk starts at the multiple of S at or before its first output's window, ends where its last
output's window ends (or where the signal ends), and keeps only its own outputs. Chunks overlap by
about R - S samples; the last one is cut when the input ends, whose length need not be known before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from ..model.architecture import Layer
from ..model.network import Output, SoundNet

# Largest activation one forward may allocate. glibc serves blocks above 32 MiB with fresh mmaps that are
# page-faulted on every pass; below that the allocator reuses memory. Measured on 2 cores (full-width
# SoundNet8, layer 24): about 1,400x real time at 0.3-0.6 M samples per pass, 900x at 0.9 M.
ACTIVATION_BUDGET = 16 * 2**20


def activation_bytes_per_sample(model: SoundNet, layer: Layer) -> float:
    """Bytes of the largest float32 activation up to `layer`, per input sample (full width conv1: 32)."""
    largest, stride = 4.0, 1
    for spec in model.architecture.layers:
        if spec.index > layer.index:
            break
        stride *= spec.stride
        head = spec.index == model.architecture.head.index
        channels = sum(model.classes) if head else model.widths[spec.block - 1]
        largest = max(largest, 4.0 * channels / stride)
    return largest


def default_chunk_samples(model: SoundNet, layer: Layer, batch: int = 1) -> int:
    """Samples per chunk (per clip of a batch of `batch`) keeping the largest activation in budget."""
    field = model.architecture.receptive_field(layer)
    budget = int(ACTIVATION_BUDGET / activation_bytes_per_sample(model, layer) / max(1, batch))
    return max(budget, field.size + field.stride)


def _as_rows(block: torch.Tensor) -> torch.Tensor:
    block = torch.as_tensor(block)
    block = block if block.is_floating_point() else block.float()  # the model casts to its own dtype
    if block.dim() not in (1, 2):
        raise ValueError(f"audio blocks must be N or B x N, got shape {tuple(block.shape)}")
    return block if block.dim() == 2 else block[None]


def _select(output: Output, first: int, count: int) -> Output:
    if isinstance(output, tuple):
        return type(output)(*(part[..., first : first + count] for part in output))
    return output[..., first : first + count]


def run_as_original(model: SoundNet, x: torch.Tensor, layer: Layer | int | str) -> Output:
    """forward_features as the original scripts ran it: eval-mode BN whatever the mode, no autograd."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return model.forward_features(x, layer.index if isinstance(layer, Layer) else layer)
    finally:
        model.train(was_training)


class _Buffer:
    """Samples from `start` on, gathered from blocks and concatenated only when a chunk needs them."""

    def __init__(self) -> None:
        self.parts: list[torch.Tensor] = []
        self.start = 0
        self.length = 0

    @property
    def end(self) -> int:
        return self.start + self.length

    def add(self, block: torch.Tensor) -> None:
        if self.parts and block.shape[0] != self.parts[0].shape[0]:
            raise ValueError(
                f"audio blocks must keep one batch size, got {block.shape[0]} after {self.parts[0].shape[0]}"
            )
        self.parts.append(block)
        self.length += block.shape[-1]

    def slice(self, first: int, last: int) -> torch.Tensor:
        if len(self.parts) > 1:
            self.parts = [torch.cat(self.parts, dim=-1)]
        return self.parts[0][:, first - self.start : last - self.start]

    def drop_before(self, first: int) -> None:
        whole = self.slice(self.start, self.end)[:, first - self.start :]
        self.parts, self.start, self.length = [whole], first, whole.shape[-1]


def iter_chunked(
    model: SoundNet, blocks: Iterable[torch.Tensor], layer: Layer, chunk_samples: int | None = None
) -> Iterator[Output]:
    """Outputs of `layer` (B x C x t pieces, in time order) for a waveform given as consecutive blocks.

    Blocks are N or B x N tensors (a batch of equally long clips); their sizes are free, for instance
    those of iter_audio_blocks. No chunk exceeds chunk_samples (at least R + S); concatenated along
    time the pieces equal one pass of run_as_original.
    """
    field = model.architecture.receptive_field(layer)
    limit = max(chunk_samples or default_chunk_samples(model, layer), field.size + field.stride)
    buffer, done = _Buffer(), 0

    def run(count: int, last: int) -> Output:
        first = field.chunk_start(done)
        output = run_as_original(model, buffer.slice(first, last)[:, None, :], layer)
        return _select(output, done - first // field.stride, count)

    for block in blocks:
        buffer.add(_as_rows(block))
        while buffer.end - (first := field.chunk_start(done)) > limit:
            # every output whose window ends inside [first, first + limit)
            count = (first + limit + field.offset - field.size) // field.stride + 1 - done
            yield run(count, field.window(done + count - 1)[1])
            done += count
            buffer.drop_before(field.chunk_start(done))
    if buffer.length == 0 and done == 0:
        raise ValueError("no audio samples to process")
    model.check_length(buffer.end, layer)
    remaining = model.architecture.output_length(buffer.end, layer) - done
    if remaining > 0:
        yield run(remaining, buffer.end)
