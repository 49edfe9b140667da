"""Torch7-faithful layers that are fast on CPU.

SoundNet's first convolutions see one or a few channels with long kernels and stride 2; PyTorch's CPU
kernels handle that shape poorly (conv1 of a 20 s clip takes ~60 ms as Conv1d). Rewriting a strided
convolution as a stride-1 convolution over its polyphase components (each phase becomes a channel) does
the same multiply-adds in a shape the CPU backend is fast at (~6 ms). The deep layers are the opposite:
many channels, few time steps, where one matrix product over unfolded windows (im2col) beats the conv
kernel 2-3x. Both are exact up to float summation order. For training, oneDNN's weight gradient of the
polyphase convolution is slower still (~6x its forward for conv1); `PolyphaseConv1d` computes it as
matrix products over blocks of unfolded windows, as Torch7's own im2col backward did.
benchmarks/profile_layers.py and bench_train.py measure the choices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv1d_input

from .batch_norm import Synchronisation, batch_norm_train

# A strided conv takes the polyphase path while in_channels * stride is at most this.
POLYPHASE_MAX_CHANNELS = 32
# A conv takes the im2col + matmul path from this many inputs per output (in_channels * kernel).
IM2COL_MIN_WINDOW = 2048


def conv_padding(conv: nn.Conv1d) -> int:
    """A Conv1d's padding in steps (SoundNet's convolutions are built with numbers, never 'same'/'valid')."""
    if isinstance(conv.padding, str):
        raise ValueError(f"padding={conv.padding!r} is not supported: give the number of steps")
    return conv.padding[0]


def polyphase_conv1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int
) -> torch.Tensor:
    """F.conv1d(x, weight, bias, stride, padding) computed as a stride-1 conv over `stride` phases."""
    batch, channels, length = x.shape
    out_channels, _, kernel = weight.shape
    phase_kernel = -(-kernel // stride)
    out_length = (length + 2 * padding - kernel) // stride + 1
    if out_length < 1:
        raise ValueError(f"input of {length} samples is shorter than the kernel ({kernel})")
    needed = (out_length - 1 + phase_kernel) * stride
    right = needed - length - padding
    x = F.pad(x, (padding, right)) if right >= 0 else F.pad(x, (padding, 0))[..., :needed]
    # contiguous: for one input channel the reshape is a channels-last view, which makes oneDNN return a
    # channels-last output that BN and max-pooling then process several times slower.
    phases = x.reshape(batch, channels, -1, stride).transpose(2, 3).reshape(batch, channels * stride, -1).contiguous()
    w = F.pad(weight, (0, phase_kernel * stride - kernel))
    w = w.reshape(out_channels, -1, phase_kernel, stride).transpose(2, 3).reshape(out_channels, -1, phase_kernel)
    if torch.is_grad_enabled() and (w.requires_grad or (bias is not None and bias.requires_grad)):
        return PolyphaseConv1d.apply(phases, w, bias)
    return F.conv1d(phases, w, bias)


# Floats of unfolded windows per block of the weight gradient (4 MiB): big enough that the batch and a
# few thousand steps go into one batched matrix product, few enough that they stay in the cache between
# their copy and the product. One block per sample and 2048 steps was 864 small products for conv1.
GRAD_WEIGHT_BLOCK_ELEMENTS = 1 << 20


def conv1d_grad_weight(x: torch.Tensor, grad: torch.Tensor, kernel: int) -> torch.Tensor:
    """d(loss)/d(weight) of a stride-1, unpadded conv1d: sum over batch and time of grad x windows of x.

    `grad` may have any strides (the training BN hands back channels-last gradients).
    """
    batch, channels, _ = x.shape
    out_channels, steps = grad.shape[1], grad.shape[2]
    block = max(1, GRAD_WEIGHT_BLOCK_ELEMENTS // (batch * channels * kernel))
    total = grad.new_zeros(batch, out_channels, channels * kernel)
    for start in range(0, steps, block):
        stop = min(steps, start + block)
        windows = x[:, :, start : stop + kernel - 1].unfold(2, kernel, 1)  # B x C x block x k
        rows = windows.permute(0, 2, 1, 3).reshape(batch, stop - start, channels * kernel)
        total.baddbmm_(grad[:, :, start:stop], rows)
    return total.sum(0).reshape(out_channels, channels, kernel)


class PolyphaseConv1d(torch.autograd.Function):
    """Stride-1 F.conv1d (the polyphase form) with a blocked matrix-product weight gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.conv1d(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = conv1d_input(x.shape, weight, grad.contiguous())
        if ctx.needs_input_grad[1]:
            grad_weight = conv1d_grad_weight(x, grad, weight.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            # summed in the order of the memory: over B x T rows of channels-last gradients (conv1's)
            grad_bias = grad.transpose(1, 2).sum((0, 1)) if grad.stride(1) == 1 else grad.sum((0, 2))
        return grad_x, grad_weight, grad_bias


def im2col_conv1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int
) -> torch.Tensor:
    """F.conv1d as one matrix product of the unfolded input windows with the flattened kernels."""
    batch, channels, _ = x.shape
    out_channels, _, kernel = weight.shape
    windows = F.pad(x, (padding, padding)).unfold(2, kernel, stride)  # B x C x T x k
    steps = windows.shape[2]
    rows = windows.permute(0, 2, 1, 3).reshape(batch * steps, channels * kernel)
    flat_weight = weight.reshape(out_channels, -1).t()
    out = torch.addmm(bias, rows, flat_weight) if bias is not None else rows @ flat_weight
    return out.reshape(batch, steps, out_channels).transpose(1, 2)


class TorchConv1d(nn.Conv1d):
    """nn.Conv1d with Torch7's SpatialConvolution(kW=1) semantics, picking the fastest exact CPU path."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self.polyphase = stride > 1 and in_channels * stride <= POLYPHASE_MAX_CHANNELS
        self.im2col = not self.polyphase and in_channels * kernel_size >= IM2COL_MIN_WINDOW

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = conv_padding(self)
        fits = x.shape[-1] + 2 * padding >= self.kernel_size[0]
        if x.dtype == torch.bfloat16 and x.device.type == "cpu" and fits:
            # oneDNN's bfloat16 CPU convolution gives wrong values for few-channel shapes (4 -> 8 channels,
            # kernel 32: relative error ~1; torch 2.13); a matrix product is right to bfloat16 rounding.
            return im2col_conv1d(x, self.weight, self.bias, self.stride[0], padding)
        if self.polyphase:
            return polyphase_conv1d(x, self.weight, self.bias, self.stride[0], padding)
        if self.im2col and fits:
            return im2col_conv1d(x, self.weight, self.bias, self.stride[0], padding)
        return super().forward(x)


class TorchBatchNorm1d(nn.BatchNorm1d):
    """SpatialBatchNormalization: eps 1e-5, momentum 0.1, biased variance to normalise, unbiased to update.

    `torch7_batch1_rule` reproduces nn (since 2017): in training mode a batch of ONE sample is normalised
    with the running statistics, which are left untouched. PyTorch would use that sample's statistics.
    Training mode otherwise runs `batch_norm_train` (Torch7's two-pass statistics at memory speed);
    `pool_kernel` > 1 fuses the max-pool that follows (kernel = stride, floor mode) into it.
    """

    synchronisation: Synchronisation | None = None  # set by training/distributed.py for DDP ranks

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.torch7_batch1_rule = False

    def forward(self, x: torch.Tensor, pool_kernel: int = 1) -> torch.Tensor:
        batch1_rule = self.torch7_batch1_rule and x.shape[0] == 1 and self.synchronisation is None
        if self.training and not batch1_rule:
            return batch_norm_train(x, self, pool_kernel, self.synchronisation)
        if self.training:
            x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        else:
            x = super().forward(x)
        return F.max_pool1d(x, pool_kernel) if pool_kernel > 1 else x
