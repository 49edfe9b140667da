"""The time-major inference path: BN folding within its rounding bound, against Torch7 and the module path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convert
import soundnet
from soundnet.model.inference import TimeMajorConv, fold_batch_norm, max_pool_time_major
from soundnet.parity.verify import TOLERANCE

SMALL = (2, 4, 4, 8, 8, 16, 16)
# float32 unit roundoff: every product, sum and fold step rounds with relative error at most this.
U = 2.0**-24


def module_path(model: soundnet.SoundNet, x: torch.Tensor, layer: int):
    """forward_features() through the modules one by one (the training path), with autograd on but unused."""
    with torch.enable_grad():
        out = model.forward_features(x, layer)
    return tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()


def small_model(architecture: str = "soundnet8", seed: int = 0) -> soundnet.SoundNet:
    """Random weights and BN statistics away from (0, 1), so that folding has something to fold."""
    torch.manual_seed(seed)
    widths = SMALL if architecture != "soundnet5" else (4, 8, 8, 16)
    model = soundnet.SoundNet(architecture, widths, 3 if architecture.endswith("finetuned") else None).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 2)
                module.running_var.uniform_(0.2, 3)
                module.weight.normal_(1, 0.5)
                module.bias.normal_(0, 0.5)
    return model


@pytest.mark.parametrize(
    "architecture, samples",
    [("soundnet8", 209_374), ("soundnet8", 233_001), ("soundnet5", 70_000), ("soundnet8-finetuned", 209_374)],
)
def test_every_layer_matches_the_module_path(architecture, samples):
    """Any length (not only multiples of the strides), batch of 2, every layer index, every architecture.

    Tolerance 1e-5 of the layer's scale: the paths differ by summation order and the BN fold, each a few
    float32 roundings (~1e-7 relative) per term; 1e-5 leaves room for ~100 terms' worth on AVX2 or AVX-512.
    """
    model = small_model(architecture)
    x = torch.randn(2, 1, samples, generator=torch.Generator().manual_seed(1)) * 50
    for layer in model.architecture.layers:
        with torch.inference_mode():
            fast = model.forward_features(x, layer.index)
        slow = module_path(model, x, layer.index)
        for ours, theirs in zip(*(o if isinstance(o, tuple) else (o,) for o in (fast, slow))):
            assert ours.shape == theirs.shape and ours.is_contiguous()
            scale = max(1.0, theirs.abs().max().item())
            assert (ours - theirs).abs().max().item() <= 1e-5 * scale, layer.name


def test_only_edge_blocks_reach_into_the_padding(monkeypatch):
    """conv1 of a 20 s clip: output t reads samples [2t - 32, 2t + 32), so only t < 16 and t > 220484 need
    the zero padding. Those outputs are blocks of their own (one pooling unit at most), so that the blocks
    in between read the clip in place, not a padded copy of it."""
    from soundnet.model import inference

    conv = torch.nn.Conv1d(1, 16, 64, 2, 32)
    blocks = []
    polyphase = inference.TimeMajorConv._polyphase

    def recording(self, phases, start, stop, relu):
        blocks.append((start, stop))
        return polyphase(self, phases, start, stop, relu)

    monkeypatch.setattr(inference.TimeMajorConv, "_polyphase", recording)
    with torch.no_grad():
        TimeMajorConv(conv, None).pooled(torch.randn(1, 441_000, 1), 8)
    assert blocks[0][0] == 0 and blocks[-1][1] == 220_501 // 8 * 8
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    edges = [(start, stop) for start, stop in blocks if start < 16 or stop - 1 > 220_484]
    assert len(edges) == 2 and all(stop - start <= 16 for start, stop in edges)


@pytest.mark.parametrize("group_samples", [1, 450_000, 1 << 30])
def test_depth_first_clip_groups_change_nothing(group_samples, monkeypatch):
    """conv1 and conv2 run clip group by clip group (one clip, two, all three): bit for bit the same
    outputs, since every clip goes through the same operations either way."""
    from soundnet.model import inference

    model = small_model()
    x = torch.randn(3, 1, 209_375, generator=torch.Generator().manual_seed(2)) * 50
    slow = {target: module_path(model, x, target) for target in ("pool2", "conv3")}
    with torch.inference_mode():
        expected = model(x)
        monkeypatch.setattr(inference, "DEPTH_FIRST_SAMPLES", group_samples)
        assert all(torch.equal(a, b) for a, b in zip(model(x), expected))
        for target, want in slow.items():
            got = model.forward_features(x, target)
            # the module path: 1e-5 of the scale, as in test_every_layer_matches_the_module_path
            assert (got - want).abs().max() <= 1e-5 * max(1.0, want.abs().max().item())


def test_without_onednn_fusion_the_same_results(monkeypatch):
    """Where PyTorch lacks oneDNN's fused convolution op, F.conv2d and a separate ReLU give the same layers."""
    from soundnet.model import inference

    model = small_model()
    x = torch.randn(2, 1, 209_374, generator=torch.Generator().manual_seed(1)) * 50
    plain = soundnet.SoundNet("soundnet8", SMALL)
    plain.load_state_dict(model.state_dict())
    with torch.inference_mode():
        fused = model(x)
        monkeypatch.setattr(inference, "_fused_relu_convolution", lambda: False)
        separate = plain.eval()(x)
    for a, b in zip(fused, separate):
        # 1e-5 of the scale: F.conv2d may take PyTorch's own kernel on small images, another summation order
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()


def test_folded_conv_within_the_stated_rounding_bound(torch7_refs):
    """On Torch7's own conv inputs (refs of soundnet8_quarter, clip2: every module stored), per element of
    every conv+BN block: |folded - exact| <= (K + 4) u (sum |s w x| + |s| (|b| + |mean|) + |beta|), with
    `exact` computed in float64, and the folded output is within 1e-4 of the BN output Torch7 stored."""
    model = soundnet.load(torch7_refs / "soundnet8_quarter.t7")
    reference = convert.read_t7(torch7_refs / "refs_soundnet8_quarter.t7")
    stored = reference["outputs"]["clip2"]
    checked = 0
    for conv_layer in [layer for layer in model.architecture.body if layer.kind == "conv"]:
        index = conv_layer.index
        if index + 1 not in stored or (index > 1 and index - 1 not in stored):
            continue
        source = reference["inputs"]["clip2"] if index == 1 else stored[index - 1]
        x = torch.from_numpy(np.asarray(source, dtype=np.float32)).reshape(1, -1, np.asarray(source).shape[2])
        x = x if index > 1 else x.reshape(1, 1, -1)
        conv, bn = model.get_submodule(conv_layer.name), model.get_submodule(f"bn{conv_layer.block}")
        with torch.inference_mode():
            folded = TimeMajorConv(conv, bn)(x.transpose(1, 2).contiguous()).transpose(1, 2)
        x64, w64 = x.double(), conv.weight.detach().double()
        scale = (bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)).double()
        pad, stride = conv.padding[0], conv.stride[0]
        exact = torch.nn.functional.conv1d(x64, w64 * scale[:, None, None], None, stride, pad)
        shift = (conv.bias.detach().double() - bn.running_mean.double()) * scale + bn.bias.detach().double()
        exact = exact + shift[:, None]
        magnitude = torch.nn.functional.conv1d(x64.abs(), (w64 * scale[:, None, None]).abs(), None, stride, pad)
        magnitude = (
            magnitude
            + (
                scale.abs() * (conv.bias.detach().double().abs() + bn.running_mean.double().abs())
                + bn.bias.detach().double().abs()
            )[:, None]
        )
        terms = conv.in_channels * conv.kernel_size[0]
        assert ((folded.double() - exact).abs() <= (terms + 4) * U * magnitude).all(), conv_layer.name
        torch7_bn = np.asarray(stored[index + 1], dtype=np.float64).reshape(folded.shape)
        error = np.abs(folded.double().numpy() - torch7_bn).max() / max(1.0, np.abs(torch7_bn).max())
        assert error <= TOLERANCE, (conv_layer.name, error)
        checked += 1
    assert checked == 7


def test_weights_changed_in_place_are_picked_up():
    """The folded weights are cached; an in-place update (load_state_dict, an optimiser step) rebuilds them."""
    model = small_model()
    x = torch.randn(1, 1, 209_374, generator=torch.Generator().manual_seed(2)) * 50
    with torch.inference_mode():
        before = model.forward_features(x, 24)
    with torch.no_grad():
        model.bn3.running_var.mul_(4)
        model.conv7.weight.mul_(-1)
    with torch.inference_mode():
        after = model.forward_features(x, 24)
    assert not torch.allclose(before, after)
    assert torch.allclose(after, module_path(model, x, 24), atol=1e-5 * max(1.0, after.abs().max().item()))
    model.load_state_dict(small_model(seed=3).state_dict())
    with torch.inference_mode():
        reloaded = model.forward_features(x, 24)
    assert torch.allclose(reloaded, module_path(model, x, 24), atol=1e-5 * max(1.0, reloaded.abs().max().item()))


def test_fold_without_bn_is_the_conv_itself():
    conv = torch.nn.Conv1d(3, 5, 4)
    weight, bias = fold_batch_norm(conv, None)
    assert weight is conv.weight and bias is conv.bias


@pytest.mark.parametrize("kernel", [8, 4, 3, 2, 1])
@pytest.mark.parametrize("channels", [5, 16, 32])
def test_time_major_pooling_is_max_pool1d(kernel, channels):
    """Max is exact, so every reduction order (amax over the window, with or without pairs of steps as one
    row, and the pairwise maxima after it) must equal max_pool1d bit for bit, also written into `out`."""
    x = torch.randn(2, 101, channels)
    expected = torch.nn.functional.max_pool1d(x.transpose(1, 2), kernel, kernel).transpose(1, 2)
    assert torch.equal(max_pool_time_major(x, kernel), expected)
    out = torch.full((2, 101 // kernel + 3, channels), float("nan"))[:, 1:-2]  # a strided slice of a larger buffer
    assert max_pool_time_major(x, kernel, out) is out and torch.equal(out, expected)


@pytest.mark.parametrize("channels, kernel, length", [(1, 64, 5000), (4, 32, 5001)])
@pytest.mark.parametrize("channels_last_grad", [False, True])
def test_polyphase_gradients_match_conv1d(channels, kernel, length, channels_last_grad, monkeypatch):
    """The blocked weight gradient (and the input and bias gradients) of the polyphase conv, vs F.conv1d's.

    Blocks of 1000 steps, so that every case spans several; the gradient also comes channels-last, as
    the training BN hands it back for conv1. Tolerance 1e-5 relative: both sum the same products in
    float32 in a different order (~1e-7 per rounding, over up to ~2e4 terms per weight, partially
    cancelling)."""
    from soundnet.model import layers

    phase_window = 2 * channels * (kernel // 2)  # the polyphase form's channels x kernel
    monkeypatch.setattr(layers, "GRAD_WEIGHT_BLOCK_ELEMENTS", 3 * phase_window * 1000)
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(3, channels, length, generator=generator, requires_grad=True)
    weight = torch.randn(5, channels, kernel, generator=generator, requires_grad=True)
    bias = torch.randn(5, generator=generator, requires_grad=True)
    expected_out = torch.nn.functional.conv1d(x, weight, bias, 2, kernel // 2)
    assert expected_out.shape[-1] > 2000  # three blocks or more
    grad = torch.randn(expected_out.shape, generator=generator)
    if channels_last_grad:
        grad = grad.transpose(1, 2).contiguous().transpose(1, 2)
    expected = torch.autograd.grad(expected_out, (x, weight, bias), grad)
    got = torch.autograd.grad(layers.polyphase_conv1d(x, weight, bias, 2, kernel // 2), (x, weight, bias), grad)
    for ours, theirs in zip(got, expected):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() <= 1e-5 * theirs.abs().max()


def test_a_used_model_copies_and_pickles():
    """The time-major plan caches oneDNN-reordered weights (opaque tensors): copies and pickles start empty."""
    import copy
    import io

    model = soundnet.SoundNet8(widths=SMALL).eval()
    clip = torch.randn(1, 1, 300_000)
    with torch.inference_mode():
        expected = model(clip)
    twin = copy.deepcopy(model)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    for other in (twin, loaded):
        with torch.inference_mode():
            got = other(clip)
        assert all(torch.equal(a, b) for a, b in zip(got, expected))


@pytest.mark.parametrize("kernel, stride, padding, pool", [(1, 1, 8, 2), (64, 2, 32, 8), (9, 3, 4, 3), (4, 2, 2, 1)])
@pytest.mark.parametrize("steps", [40, 41, 47])
def test_blocked_conv_pool_relu_matches_the_modules(kernel, stride, padding, pool, steps, monkeypatch):
    """TimeMajorConv.pooled on blocks of any size (down to one output) equals conv1d -> max_pool1d -> relu:
    blocks wholly inside the padding, odd and unit pool kernels, both `_phases` branches. 1e-5 relative:
    the same products summed in another order in float32."""
    from soundnet.model import inference

    conv = torch.nn.Conv1d(1, 3, kernel, stride, padding)
    x = torch.randn(2, 1, steps + kernel)
    expected = torch.nn.functional.max_pool1d(conv(x), pool).relu()
    time_major = x.transpose(1, 2).contiguous()
    prepadded = torch.nn.functional.pad(time_major, (0, 0, padding, padding))
    for block in (1, 7, 1 << 21):
        monkeypatch.setattr(inference, "BLOCK_ELEMENTS", block)
        with torch.no_grad():
            layer = TimeMajorConv(conv, None)
            got = layer.pooled(time_major, pool).transpose(1, 2)
            # with a margin for the next layer's padding, and reading an input that carries its own padding
            framed = layer.pooled(prepadded, pool, padded=True, margin=3).transpose(1, 2)
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()
        assert torch.equal(framed[..., 3:-3], got) and not framed[..., :3].any() and not framed[..., -3:].any()
