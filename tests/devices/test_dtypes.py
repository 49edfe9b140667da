"""The model computes in the caller's dtype: float64, float16 and bfloat16 run, inputs follow the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import soundnet
from audio_fixtures import small_soundnet8
from soundnet.devices import as_numpy, dtype_name, place, resolve_device, resolve_dtype
from soundnet.model.examples import synthetic_sound
from soundnet.model.network import as_waveform_batch

WAVE = synthetic_sound(12.0, seed=3)  # 264,600 samples: one conv8 step, 8 conv7 steps

# Relative to the largest float64 activation after all 7 blocks. float16 keeps 11 significant bits
# (rounding 2^-12 per operation), bfloat16 8 (2^-9); 7 conv+BN layers with sums over up to 512 x 4
# products compound that to the 0.3 % (float16) and 2-6 % (bfloat16) measured on the example model.
# A path that silently mixes up precision or channels is off by ~100 %, far outside either bound.
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 0.15}


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours.double() - reference).abs().max() / reference.abs().max())


@pytest.fixture(scope="module")
def reference():
    model = soundnet.load("example").double()
    with torch.inference_mode():
        return model.forward_features(WAVE.double(), 24), model(WAVE.double())


@pytest.mark.parametrize("dtype", list(TOLERANCE))
def test_model_keeps_the_callers_dtype(dtype, reference):
    conv7, heads = reference
    model = soundnet.load("example").to(dtype)
    with torch.inference_mode():
        features = model.forward_features(WAVE, 24)  # float32 input: cast to the model's dtype, not the reverse
        objects, scenes = model(WAVE.to(dtype))
    assert features.dtype == objects.dtype == scenes.dtype == dtype
    assert relative_error(features, conv7) <= TOLERANCE[dtype]
    assert relative_error(objects, heads[0]) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_chunked_extraction_and_pooling_keep_the_dtype(dtype, reference):
    model = soundnet.load("example").to(dtype)
    pooled = soundnet.extract_features(model, WAVE, "relu7", pool="mean", chunk_samples=120_000)
    assert pooled.dtype == dtype
    assert relative_error(pooled, reference[0].mean(dim=-1)) <= TOLERANCE[dtype]


def test_bfloat16_small_channel_convolutions_are_right():
    # oneDNN's bfloat16 convolution returned relative errors ~1 for 4 -> 8 channels, kernel 32 (torch 2.13)
    model = small_soundnet8()
    wave = WAVE[:60_000]
    with torch.inference_mode():
        reference = model.double().forward_features(wave.double(), "conv2")
        ours = model.to(torch.bfloat16).forward_features(wave, "conv2")
    assert relative_error(ours, reference) <= 2e-2  # two layers of bfloat16 rounding (2^-9 each), measured 0.4 %


def test_training_step_in_float64():
    model = small_soundnet8().double().train()
    objects, scenes = model(WAVE.double()[None])
    (objects.sum() + scenes.sum()).backward()
    assert model.conv1.weight.grad.dtype == torch.float64


def test_waveform_batch_follows_the_weights():
    weight = torch.zeros(1, dtype=torch.float16)
    assert as_waveform_batch(np.zeros(10, dtype=np.int16), like=weight).dtype == torch.float16
    assert as_waveform_batch(np.zeros(10, dtype=np.int16)).dtype == torch.float32
    assert as_waveform_batch(torch.zeros(2, 10, dtype=torch.float64)).dtype == torch.float64


def test_names_resolve_and_bad_ones_are_refused():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_dtype("bfloat16") is torch.bfloat16 and resolve_dtype(torch.float64) is torch.float64
    model = place(small_soundnet8(), "cpu", "float64")
    assert dtype_name(model) == "float64" and as_numpy(model.conv1.weight).dtype == np.float32
    for bad, message in (
        ("cuda:99", "is not available"),
        ("tpu", "use cpu, cuda or cuda:N"),
        ("mps", "unsupported device"),
    ):
        with pytest.raises(ValueError, match=message):
            resolve_device(bad)
    with pytest.raises(ValueError, match="unsupported dtype 'int8'; use float32, float64, float16, bfloat16"):
        resolve_dtype("int8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_model_takes_host_input():
    model = place(soundnet.load("example"), "cuda", "float16")
    features = model.forward_features(WAVE, 24)
    assert features.device.type == "cuda" and features.dtype == torch.float16
