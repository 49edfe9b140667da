"""The training-mode BN of soundnet/model/batch_norm.py against PyTorch's batch_norm (+ max_pool1d)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from soundnet.model.layers import TorchBatchNorm1d

# float64 agrees to rounding (~1e-15); float32 sums the same terms in another order and blocks, ~1e-7 per
# rounding: 1e-5 relative leaves a wide margin on any CPU and still fails any wrong term (errors of order 1).
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


def _pair(dtype: torch.dtype, channels: int) -> tuple[TorchBatchNorm1d, TorchBatchNorm1d]:
    generator = torch.Generator().manual_seed(channels)
    ours = TorchBatchNorm1d(channels).to(dtype).train()
    with torch.no_grad():
        ours.weight.normal_(generator=generator)
        ours.bias.normal_(generator=generator)
        ours.running_mean.normal_(generator=generator)
    reference = TorchBatchNorm1d(channels).to(dtype).train()
    reference.load_state_dict(ours.state_dict())
    return ours, reference


def _relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kernel", [1, 4, 8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_training_batch_norm_and_pool_match_pytorch(dtype, kernel, channels_last):
    """Output, all three gradients and both running statistics, with ties in the pooling windows.

    The constant stretch makes whole windows tie: the gradient must go to the first maximum of each
    window, as in Torch7's SpatialMaxPooling and PyTorch's max_pool1d."""
    ours, reference = _pair(dtype, 16)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 16, 1003, generator=generator, dtype=dtype) * 3 + 1
    x[:, :, 100:300] = 0.5
    if channels_last:  # as oneDNN returns conv1's output
        x = x.transpose(1, 2).contiguous().transpose(1, 2)
    x_ours, x_reference = x.clone().requires_grad_(), x.clone().requires_grad_()
    y = ours(x_ours, pool_kernel=kernel)
    expected = F.batch_norm(
        x_reference, reference.running_mean, reference.running_var, reference.weight, reference.bias, True, 0.1, 1e-5
    )
    if kernel > 1:
        expected = F.max_pool1d(expected, kernel)
    assert y.shape == expected.shape
    grad = torch.randn(expected.shape, generator=generator, dtype=dtype)
    (y.relu_() * grad).sum().backward()  # the ReLU after the pool, in place as SoundNet's forward runs it
    (expected.relu() * grad).sum().backward()
    tolerance = TOLERANCE[dtype]
    assert _relative(y, expected.relu()) < tolerance
    assert x_ours.grad.stride() == x.stride()  # the gradient comes back in the input's layout
    assert _relative(x_ours.grad, x_reference.grad) < tolerance
    assert _relative(ours.weight.grad, reference.weight.grad) < tolerance
    assert _relative(ours.bias.grad, reference.bias.grad) < tolerance
    assert _relative(ours.running_mean, reference.running_mean) < tolerance
    assert _relative(ours.running_var, reference.running_var) < tolerance
    assert ours.num_batches_tracked.item() == 1


def test_statistics_are_centred_before_squaring():
    """A large common offset (mean 1e4, spread 1) must not cost the variance its digits (E[x^2] - E[x]^2 would)."""
    ours, _ = _pair(torch.float32, 4)
    ours.running_var.fill_(1.0)
    x = torch.randn(2, 4, 5000, generator=torch.Generator().manual_seed(2)) + 1e4
    ours(x)
    expected_var = x.double().var(dim=(0, 2), unbiased=True)
    got = (ours.running_var - 0.9) / 0.1
    assert _relative(got.double(), expected_var) < 1e-4


def test_batch_of_one_keeps_the_torch7_rule():
    ours, _ = _pair(torch.float32, 4)
    ours.torch7_batch1_rule = True
    before = ours.running_mean.clone()
    x = torch.randn(1, 4, 50)
    y = ours(x)
    expected = F.batch_norm(x, ours.running_mean, ours.running_var, ours.weight, ours.bias, False, 0.0, ours.eps)
    assert torch.equal(y, expected)
    assert torch.equal(ours.running_mean, before)


def test_one_value_per_channel_is_refused():
    ours, _ = _pair(torch.float32, 4)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ours(torch.randn(1, 4, 1))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precisions_are_normalised_in_float32(dtype):
    """Against float64 on the same (rounded) input. 2e-2 relative: the output and gradient are rounded to
    the half type once (bfloat16: 8 bits, ~4e-3 per rounding; float16: ~5e-4), with room for the products."""
    ours, _ = _pair(torch.float32, 8)
    ours = ours.to(dtype)
    reference = TorchBatchNorm1d(8).double().train()
    reference.load_state_dict({key: value.double() for key, value in ours.state_dict().items()})
    x = (torch.randn(2, 8, 400, generator=torch.Generator().manual_seed(3)) * 2).to(dtype)
    x_ours, x_reference = x.clone().requires_grad_(), x.double().requires_grad_()
    y = ours(x_ours, pool_kernel=4)
    expected = F.max_pool1d(
        F.batch_norm(
            x_reference, reference.running_mean, reference.running_var, reference.weight, reference.bias, True
        ),
        4,
    )
    assert y.dtype == dtype
    grad = torch.randn(expected.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    (y.double() * grad).sum().backward()
    (expected * grad).sum().backward()
    assert x_ours.grad.dtype == dtype
    assert _relative(y.double(), expected) < 2e-2
    assert _relative(x_ours.grad.double(), x_reference.grad) < 2e-2


def test_cumulative_average_without_momentum():
    ours, reference = _pair(torch.float64, 4)
    ours.momentum = reference.momentum = None
    for seed in range(3):
        x = torch.randn(2, 4, 50, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        ours(x)
        F.batch_norm(
            x, reference.running_mean, reference.running_var, reference.weight, reference.bias, True, 1 / (seed + 1)
        )
    assert _relative(ours.running_mean, reference.running_mean) < 1e-12
    assert _relative(ours.running_var, reference.running_var) < 1e-12


def test_a_second_derivative_is_refused_not_wrong():
    ours, _ = _pair(torch.float64, 4)
    x = torch.randn(2, 4, 50, dtype=torch.float64, requires_grad=True)
    (gradient,) = torch.autograd.grad(ours(x).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        gradient.sum().backward()
