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
    assert isinstance(reference, soundnet.HeadOutputs) and reference.objects is reference[0]
    with pytest.raises(ValueError, match="has 3 channels; SoundNet takes mono"):
        model(torch.zeros(2, 3, 220_500))  # channels-first stereo is refused with one line, not misread
    with pytest.raises(ValueError, match="expected a waveform"):
        model(torch.zeros(2, 1, 3, 220_500))


def test_layers_by_index_and_name(model):
    wave = torch.randn(1, 220_500) * 50
    with torch.no_grad():
        assert torch.equal(model.forward_features(wave, 18), model.forward_features(wave, "pool5"))
        assert torch.equal(model.forward_features(wave, "24"), model.forward_features(wave, "relu7"))
        bn7, relu7 = model.forward_features(wave, 23), model.forward_features(wave, 24)
    assert (bn7 < 0).any() and torch.equal(relu7, bn7.clamp_min(0))  # 23 is before the ReLU, as the original
    assert model.forward_features(wave, 25).objects.shape == (1, 1000, 1)
    with pytest.raises(ValueError, match="has no layer 26"):
        model.forward_features(wave, 26)
    with pytest.raises(ValueError, match="has no layer 'conv9'"):
        model.forward_features(wave, "conv9")


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
        assert model.forward_features(torch.zeros(1, 100), 1).shape == (1, 2, 51)


def test_finetuned_model_takes_any_length_the_training_recipe_accepts():
    net = soundnet.SoundNet8Finetuned(7, widths=SMALL).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        crop = torch.randn(3, 110_250) * 40
        assert net(crop).shape == (3, 7)  # a 5 s training crop: one step, the original View(N)
        assert torch.equal(net(crop), net.forward_features(crop, 25)[..., 0])
        long = torch.randn(1, 441_000) * 40
        logits = net.forward_features(long, 25)
        assert logits.shape == (1, 7, 12)
        assert close(net(long), logits.mean(-1))  # several steps: their mean
        short = torch.randn(1, 3 * 22050) * 40  # shorter than a crop: tiled as fine-tuning tiled it
        tiled = short.repeat(1, 3)
        assert close(net(short), net.forward_features(tiled, 25).mean(-1))
        assert net(torch.randn(1, 10)).shape == (1, 7)


def test_clips_of_any_lengths_give_each_its_own_steps(model, tmp_path):
    torch.manual_seed(2)
    clips = [torch.randn(n) * 40 for n in (220_500, 300_001, 209_374)]
    with torch.no_grad():
        for layer in (4, 18, 24, 25):
            batched = model.forward_features(clips, layer)
            assert isinstance(batched, list) and len(batched) == 3
            for clip, ours in zip(clips, batched):
                alone = model.forward_features(clip, layer)
                alone, ours = (alone, ours) if isinstance(alone, torch.Tensor) else (alone[0], ours[0])
                assert ours.shape == alone.shape  # cut to the clip's own valid steps
                # 1e-4: the same arithmetic in a wider batch; BLAS may split the sums differently per width
                assert torch.allclose(ours, alone, atol=1e-4, rtol=1e-4)
        padded = torch.zeros(3, 300_001)
        for row, clip in enumerate(clips):
            padded[row, : len(clip)] = clip
        lengths = [len(clip) for clip in clips]
        output = model.forward_features(padded, 24, lengths=lengths)
        steps = [model.architecture.output_length(n, model.architecture.layer(24)) for n in lengths]
        assert output.shape[-1] == max(steps) and (output[2, :, steps[2] :] == 0).all()
        assert len(model(clips)) == 3 and model(clips)[1].objects.shape == (1, 1000, 2)
    with pytest.raises(ValueError, match="lengths must give"):
        model.forward_features(padded, 24, lengths=[1, 2])
    with pytest.raises(ValueError, match="list of clips is empty"):
        model.forward_features([], 24)


def test_a_path_works_wherever_a_waveform_does(model, tmp_path):
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, (torch.randn(220_500) * 0.1).clamp(-1, 1).numpy(), 22050, subtype="FLOAT")
    with torch.no_grad():
        wave = soundnet.load_audio(path)
        assert torch.equal(model(str(path)).objects, model(wave).objects)
        assert torch.equal(model.forward_features(path, 18), model.forward_features(wave, 18))
        # 1e-4: a batch of two may sum in another order than one clip alone
        assert torch.allclose(model([path, wave])[0].scenes, model(wave).scenes, atol=1e-4)


def test_probabilities_are_class_softmaxes(model):
    with torch.no_grad():
        objects, scenes = model.probabilities(torch.randn(2, 441_000) * 50)
    # a float32 sum of <= 1000 probabilities: pairwise rounding <= log2(1000) * 6e-8 = 6e-7 << allclose's 1e-5
    assert torch.allclose(objects.sum(1), torch.ones(2, 4)) and torch.allclose(scenes.sum(1), torch.ones(2, 4))


def test_extract_features_keeps_training_mode_and_matches_eval(model):
    wave = torch.randn(1, 220_500) * 50
    model.train()
    try:
        out = soundnet.extract_features(model, wave, 24)
        assert model.training
    finally:
        model.eval()
    with torch.no_grad():
        assert close(out, model.forward_features(wave, 24))


def test_ddp_batchnorm_sync_builds_new_modules_sharing_the_tensors(model):
    from soundnet.model.layers import TorchBatchNorm1d
    from soundnet.training.distributed import SyncedBatchNorm1d, restore_batchnorm, synchronise_batchnorm

    net = soundnet.SoundNet8(widths=SMALL)
    before = net.bn3
    synchronise_batchnorm(net)
    assert type(net.bn3) is SyncedBatchNorm1d and net.bn3 is not before
    assert type(before) is TorchBatchNorm1d  # the old module was not changed in place
    assert net.bn3.weight is before.weight and net.bn3.running_var is before.running_var
    synced = net.bn3
    restore_batchnorm(net)
    assert type(net.bn3) is TorchBatchNorm1d and net.bn3 is not synced and net.bn3.weight is before.weight
