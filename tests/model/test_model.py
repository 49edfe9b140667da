"""The model API: input layouts, layer addressing, lengths, the fine-tuned view, probabilities."""
from __future__ import annotations

import pytest
import torch

import soundnet
from soundnet.model.architecture import SOUNDNET5, SOUNDNET8
from tolerances import close

SMALL = (2, 2, 4, 4, 4, 4, 4)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return soundnet.SoundNet8(widths=SMALL).eval()


def test_every_input_layout_gives_the_same_output(model):
    wave = torch.randn(2, 220_500) * 50
    with torch.no_grad():
        reference = model(wave)
        for layout in (wave[:, None], wave[:, None, :, None]):
            for ours, theirs in zip(model(layout), reference):
                assert torch.equal(ours, theirs)
        single = model(wave[0])
    assert reference[0].shape == (2, 1000, 1) and reference[1].shape == (2, 401, 1)
    assert close(single[0], reference[0][:1])
    with pytest.raises(ValueError, match="expected a waveform"):
        model(torch.zeros(2, 3, 220_500))


def test_layers_by_index_and_name(model):
    wave = torch.randn(1, 220_500) * 50
    with torch.no_grad():
        assert torch.equal(model.extract(wave, 18), model.extract(wave, "pool5"))
        assert torch.equal(model.extract(wave, "24"), model.extract(wave, "relu7"))
        bn7, relu7 = model.extract(wave, 23), model.extract(wave, 24)
    assert (bn7 < 0).any() and torch.equal(relu7, bn7.clamp_min(0))  # 23 is before the ReLU, as the original
    assert model.extract(wave, 25)[0].shape == (1, 1000, 1)
    with pytest.raises(ValueError, match="has no layer 26"):
        model.extract(wave, 26)
    with pytest.raises(ValueError, match="has no layer 'conv9'"):
        model.extract(wave, "conv9")


def test_lengths_follow_torch_floor_arithmetic():
    assert SOUNDNET8.min_input_length() == 209_374
    assert SOUNDNET8.output_length(441_000) == 4
    assert SOUNDNET8.output_length(441_000, SOUNDNET8.layer(24)) == 15
    assert SOUNDNET8.output_length(123_457, SOUNDNET8.layer(18)) == 15
    assert SOUNDNET8.output_length(209_374) == 1 and SOUNDNET8.output_length(209_373) == 0
    assert SOUNDNET5.output_length(220_500) == 2


def test_too_short_input_names_the_minimum(model):
    with pytest.raises(ValueError, match=r"at least 209374 samples \(9.50 s at 22050 Hz\)"):
        model(torch.zeros(1, 209_373))
    with torch.no_grad():
        model(torch.zeros(1, 209_374))
        assert model.extract(torch.zeros(1, 100), 1).shape == (1, 2, 51)


def test_finetuned_view_needs_one_step():
    net = soundnet.SoundNet8Finetuned(7, widths=SMALL).eval()
    with torch.no_grad():
        assert net(torch.randn(3, 110_250)).shape == (3, 7)
        assert net.extract(torch.randn(1, 441_000), 25)[0].shape == (1, 7, 12)
        with pytest.raises(ValueError, match="needs one time step"):
            net(torch.randn(1, 441_000))


def test_probabilities_are_class_softmaxes(model):
    with torch.no_grad():
        objects, scenes = model.probabilities(torch.randn(2, 441_000) * 50)
    # a float32 sum of <= 1000 probabilities: pairwise rounding <= log2(1000) * 6e-8 = 6e-7 << allclose's 1e-5
    assert torch.allclose(objects.sum(1), torch.ones(2, 4)) and torch.allclose(scenes.sum(1), torch.ones(2, 4))


def test_infer_keeps_training_mode_and_matches_eval(model):
    wave = torch.randn(1, 220_500) * 50
    model.train()
    try:
        out = model.infer(wave, 24)
        assert model.training
    finally:
        model.eval()
    with torch.no_grad():
        assert close(out, model.extract(wave, 24))
