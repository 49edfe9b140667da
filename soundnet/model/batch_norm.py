"""Training-mode batch norm as Torch7 computes it, at memory speed on CPU, optionally fused with max-pooling.

PyTorch's CPU batch norm is the slowest part of a SoundNet training step: bn1 sees the channels-last
output oneDNN gives for conv1 (8 x 16 x 220,501 for a batch of 8 20 s clips), where its forward took
257 ms and its backward 511 ms of a 1.3 s step (torch 2.13, one thread); on contiguous input of that size
it took 149 ms and 90 ms. Here every pass runs over the time-major (B x T x C) memory, so a channel's
statistic is a column reduction that vectorises:

- statistics in two passes as Torch7's SpatialBatchNormalization: the mean, then the sum of squared
  deviations from it (no E[x^2] - E[x]^2 cancellation), per block of rows so the deviations stay in
  cache; block sums add up in float64, as Torch7 accumulates in double;
- the output (x - mean) * (gamma / std) + beta written once, from the centred values of that pass;
- with a max-pool after the BN (SoundNet's bn1/pool1, bn2/pool2, bn5/pool5: the ReLU between them runs
  after the pool, as they commute), the pool is taken here with first-maximum indices, as Torch7's
  SpatialMaxPooling; the backward then needs the BN input only at those positions, and writes the
  input gradient in one dense pass plus a sparse add at the maxima.

With a process group (DDP), the sums are all-reduced so that each rank normalises with the statistics
of the global batch, and the backward all-reduces the two gradient sums the input gradient needs
(the parameter gradients stay local: DDP reduces those).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

# Rows (time steps of all channels) per block of the variance pass: 8192 x 16 float32 = 512 KiB, inside L2.
ROW_BLOCK_ELEMENTS = 1 << 17


@dataclass
class Synchronisation:
    """All-reduce the statistics over a process group (None: the default group)."""

    group: Any = None

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(tensor, group=self.group)
        return tensor


def _column_sums(rows: torch.Tensor) -> torch.Tensor:
    """Column sums of an N x C matrix, accumulated in float64 over blocks that stay in cache."""
    block = max(1, ROW_BLOCK_ELEMENTS // rows.shape[1])
    total = torch.zeros(rows.shape[1], dtype=torch.float64, device=rows.device)
    for start in range(0, rows.shape[0], block):
        total += rows[start : start + block].sum(0)
    return total


def _centre_(rows: torch.Tensor, mean: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """out = rows - mean, block by block; returns the column sums of out**2 (float64)."""
    block = max(1, ROW_BLOCK_ELEMENTS // rows.shape[1])
    total = torch.zeros(rows.shape[1], dtype=torch.float64, device=rows.device)
    scratch = rows.new_empty(min(block, rows.shape[0]), rows.shape[1])
    for start in range(0, rows.shape[0], block):
        centred = torch.sub(rows[start : start + block], mean, out=out[start : start + block])
        square = scratch[: centred.shape[0]]
        torch.mul(centred, centred, out=square)
        total += square.sum(0)
    return total


def _first_max_pool(y: torch.Tensor, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over windows of `kernel` steps of B x T x C (floor mode), and the time index of each window's first
    maximum (Torch7's SpatialMaxPooling's choice on ties, and PyTorch's).

    The memory of B x T x C is a channels-last B x C x 1 x T image, whose pooling kernel vectorises over
    the channels: bn1's pool of 8 clips took 20 ms so, 82-88 ms as a max over a window axis.
    """
    image = y.permute(0, 2, 1).unsqueeze(2)
    pooled, index = F.max_pool2d(image, (1, kernel), (1, kernel), return_indices=True)
    # a copy, not a view, of the pooled values: the ReLU after the pool runs in place on the Function's output
    return pooled.squeeze(2).transpose(1, 2).clone(), index.squeeze(2).transpose(1, 2).contiguous()


class _BatchNormTrain(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        bn: nn.BatchNorm1d,
        kernel: int,
        sync: Synchronisation | None,
    ) -> torch.Tensor:
        channels = x.shape[2]
        compute = torch.promote_types(x.dtype, torch.float32)  # half precisions are normalised in float32
        work = x.contiguous().to(compute)  # B x T x C; no copy for conv1's channels-last output
        rows = work.view(-1, channels)
        count = torch.tensor([float(rows.shape[0])], dtype=torch.float64, device=x.device)
        sums = torch.cat([_column_sums(rows), count])
        if sync is not None:
            sums = sync.sum(sums)
        n = sums[-1].item()
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(x.shape)}")
        mean = sums[:-1] / n
        y = torch.empty_like(work)
        squares = _centre_(rows, mean.to(compute), y.view(-1, channels))
        if sync is not None:
            squares = sync.sum(squares)
        var = squares / n
        invstd = torch.rsqrt(var + bn.eps)
        with torch.no_grad():
            assert bn.running_mean is not None and bn.running_var is not None
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
            # momentum None: PyTorch's cumulative average (Torch7 always has a momentum)
            momentum = bn.momentum if bn.momentum is not None else 1 / float(bn.num_batches_tracked or 1)
            bn.running_mean.mul_(1 - momentum).add_(mean.to(bn.running_mean.dtype), alpha=momentum)
            bn.running_var.mul_(1 - momentum).add_((var * n / (n - 1)).to(bn.running_var.dtype), alpha=momentum)
        scale = (invstd * weight.double()).to(compute)
        torch.addcmul(bias.to(compute), y, scale, out=y)  # (x - mean) * gamma / std + beta
        ctx.kernel, ctx.sync, ctx.n, ctx.dtype = kernel, sync, n, x.dtype
        ctx.time_major_input = x.is_contiguous()
        if kernel == 1:
            ctx.save_for_backward(work, weight, mean, invstd)
            return y.to(x.dtype)
        pooled, index = _first_max_pool(y, kernel)
        ctx.save_for_backward(work, weight, mean, invstd, index)
        return pooled.to(x.dtype)

    @staticmethod
    @once_differentiable  # mean and invstd carry no graph: a second derivative must fail, not be wrong
    def backward(ctx: Any, grad: torch.Tensor):
        work, weight, mean, invstd, *pool = ctx.saved_tensors
        grad = grad.to(work.dtype)  # B x T' x C
        if ctx.kernel == 1:
            at_output = work  # the input where the output has a gradient: everywhere
        else:
            (index,) = pool
            at_output = work.gather(1, index)
        grad_sum = grad.sum((0, 1)).double()
        dot = (grad * (at_output - mean.to(work.dtype))).sum((0, 1)).double()  # sum of grad * (x - mean)
        grad_weight = (dot * invstd).to(weight.dtype)
        grad_bias = grad_sum.to(weight.dtype)
        grad_input = None
        if ctx.needs_input_grad[0]:
            if ctx.sync is not None:
                grad_sum, dot = ctx.sync.sum(torch.stack([grad_sum, dot])).unbind()
            n = ctx.n
            gain = invstd * weight.double()  # dx = gain * (g - sum(g)/n - (x - mean) invstd^2 dot/n)
            slope = -gain * invstd * invstd * dot / n
            offset = (-gain * grad_sum / n - slope * mean).to(work.dtype)
            grad_input = torch.addcmul(offset, work, slope.to(work.dtype))  # the terms every position has
            if ctx.kernel == 1:
                grad_input.addcmul_(grad, gain.to(work.dtype))
            else:
                grad_input.scatter_add_(1, index, grad * gain.to(work.dtype))
            grad_input = grad_input.to(ctx.dtype)
            if not ctx.time_major_input:  # hand back the layout the input had
                grad_input = grad_input.transpose(1, 2).contiguous().transpose(1, 2)
        return grad_input, grad_weight, grad_bias, None, None, None


def batch_norm_train(
    x: torch.Tensor, bn: nn.BatchNorm1d, kernel: int = 1, sync: Synchronisation | None = None
) -> torch.Tensor:
    """Training-mode BN of B x C x T (batch statistics, running statistics updated), then max-pool by `kernel`.

    Equal to F.max_pool1d(F.batch_norm(x, ..., training=True), kernel) up to float rounding, with
    Torch7's first-maximum choice on ties for the gradient.
    """
    assert bn.weight is not None and bn.bias is not None, "SoundNet's BN layers are affine"
    # The Function works on B x T x C: the transposes stay outside it, so that autograd sees plain views
    # (an in-place ReLU on a view made inside a Function is refused).
    return _BatchNormTrain.apply(x.transpose(1, 2), bn.weight, bn.bias, bn, kernel, sync).transpose(1, 2)
