"""The parity check can fail: each bug found in public SoundNet ports, injected on purpose, breaks it."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import pytest
import torch

import convert
import soundnet
from soundnet.parity.verify import verify_reference

pytestmark = pytest.mark.slow  # Torch7-size models run forward and backward several times


@pytest.fixture(scope="module")
def quarter(torch7_refs):
    return soundnet.load(torch7_refs / "soundnet8_quarter.t7"), convert.read_t7(
        torch7_refs / "refs_soundnet8_quarter.t7"
    )


def parity_fails(model: soundnet.SoundNet, reference: dict) -> bool:
    """True when some stored layer is out of tolerance (or cannot even be compared: shape differs)."""
    try:
        return not all(check.ok for check in verify_reference(model, reference))
    except ValueError:
        return True


def with_bn(model, **changes):
    broken = deepcopy(model)
    for index in range(1, 8):
        bn = broken.get_submodule(f"bn{index}")
        for name, value in changes.items():
            if name == "eps":
                bn.eps = value
            else:
                getattr(bn, name).fill_(value)
    return broken


def test_faithful_model_passes(quarter):
    assert not parity_fails(*quarter)


def test_bn_eps_1e3_fails(quarter):
    model, reference = quarter
    assert parity_fails(with_bn(model, eps=1e-3), reference)


def test_bn_statistics_not_copied_fails(quarter):
    model, reference = quarter
    assert parity_fails(with_bn(model, running_mean=0.0, running_var=1.0), reference)


def test_missing_x256_scaling_fails(quarter):
    model, reference = quarter
    unscaled = deepcopy(reference)
    unscaled["inputs"] = {name: np.asarray(x) / 256.0 for name, x in reference["inputs"].items()}
    assert parity_fails(model, unscaled)


def test_transposed_kernel_fails(quarter):
    """Reading nOut x nIn x k weights as nOut x k x nIn (kH/kW axes swapped in the mapping)."""
    model, reference = quarter
    broken = deepcopy(model)
    with torch.no_grad():
        for index in range(2, 8):
            weight = broken.get_submodule(f"conv{index}").weight
            out_channels, in_channels, kernel = weight.shape
            weight.copy_(weight.detach().clone().reshape(out_channels, kernel, in_channels).transpose(1, 2))
    assert parity_fails(broken, reference)


def test_time_reversed_kernel_fails(quarter):
    model, reference = quarter
    broken = deepcopy(model)
    with torch.no_grad():
        broken.conv1.weight.copy_(broken.conv1.weight.flip(-1))
    assert parity_fails(broken, reference)


def test_padding_on_conv8_fails(quarter):
    model, reference = quarter
    broken = deepcopy(model)
    for head in broken.head_modules():
        head.padding = (4,)
    assert parity_fails(broken, reference)


def test_channel_averaging_instead_of_first_channel_fails(torch7_refs):
    """The original takes the first channel; averaging stereo changes the input the net sees."""
    reference = convert.read_t7(torch7_refs / "audio_load_reference.t7")
    stereo = reference["tiny_tone_stereo_wav"]
    expected = np.asarray(stereo["soundnet_input"]).ravel()
    path = torch7_refs / "audio" / "tiny_tone_stereo.wav"
    assert np.array_equal(soundnet.load_audio(path, channel="first").numpy(), expected)
    averaged = soundnet.load_audio(path, channel="mean").numpy()
    assert np.abs(averaged - expected).max() > 1e-4 * max(1.0, np.abs(expected).max())
