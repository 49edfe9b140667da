"""Chunked inference equals one pass, for random lengths, chunk sizes, block sizes and layers."""

from __future__ import annotations

import random

import pytest
import torch

import soundnet.inference.chunked as chunked
from audio_fixtures import small_soundnet5, small_soundnet8, write_audio
from soundnet import SoundNet8, load_audio
from soundnet.audio import iter_audio_blocks
from soundnet.inference.chunked import default_chunk_samples, iter_chunked, run_as_original
from soundnet.model.architecture import SOUNDNET5, SOUNDNET8, ReceptiveField
from tolerances import close

MODELS = {"soundnet8": small_soundnet8(), "soundnet5": small_soundnet5()}


def joined(pieces) -> tuple[torch.Tensor, ...]:
    pieces = [piece if isinstance(piece, tuple) else (piece,) for piece in pieces]
    return tuple(torch.cat(parts, dim=-1) for parts in zip(*pieces))


def as_tuple(output) -> tuple[torch.Tensor, ...]:
    return output if isinstance(output, tuple) else (output,)


def test_receptive_fields_from_the_table():
    assert SOUNDNET8.receptive_field(SOUNDNET8.layer(1)) == ReceptiveField(2, 32, 64)
    assert SOUNDNET8.receptive_field(SOUNDNET8.layer("pool1")) == ReceptiveField(16, 32, 78)
    assert SOUNDNET8.receptive_field(SOUNDNET8.layer(24)) == ReceptiveField(32768, 55584, 91166)
    assert SOUNDNET8.receptive_field(SOUNDNET8.layer(23)) == SOUNDNET8.receptive_field(SOUNDNET8.layer(22))
    assert SOUNDNET8.receptive_field(SOUNDNET8.head) == ReceptiveField(65536, 55584, 320542)
    assert SOUNDNET5.receptive_field(SOUNDNET5.head) == ReceptiveField(98304, 51488, 159774)


@pytest.mark.parametrize("name,layer", [("soundnet8", 8), ("soundnet8", 18), ("soundnet5", 13)])
def test_an_output_reads_only_its_window(name, layer):
    """Changing every sample outside window(j) leaves output j unchanged (padding included)."""
    model = MODELS[name]
    target = model.architecture.layer(layer)
    field = model.architecture.receptive_field(target)
    x = torch.randn(1, 1, 6 * field.size) * 50
    reference = run_as_original(model, x.clone(), target.index)
    for step in (0, 1, reference.shape[-1] // 2, reference.shape[-1] - 1):
        start, end = field.window(step)
        changed = torch.randn_like(x) * 50
        changed[..., max(start, 0) : max(end, 0)] = x[..., max(start, 0) : max(end, 0)]
        assert torch.equal(run_as_original(model, changed, target.index)[..., step], reference[..., step])


def test_run_as_original_equals_the_module_forward():
    """The in-place eval path (BN via addcmul, ReLU after pooling) agrees with plain module calls."""
    model = small_soundnet8().train()  # run_as_original uses the running statistics regardless
    x = torch.randn(2, 1, 150_000) * 50

    def plain(x, last):
        for spec in model.architecture.body:
            if spec.index > last:
                break
            x = getattr(model, spec.name)(x)
        return x

    ours = {layer: run_as_original(model, x, layer) for layer in (2, 3, 4, 16, 18, 23, 24)}
    assert model.training
    model.eval()
    with torch.no_grad():
        for layer, output in ours.items():
            assert close(output, plain(x, layer))  # 5.7e-7 seen with AVX2 kernels
        x = torch.randn(1, 1, 220_000) * 50
        for output, expected in zip(run_as_original(model, x, 25), model.head_modules()):
            assert close(output, expected(plain(x, 24)))
    assert (ours[23] < 0).any() and (ours[24] >= 0).all()  # 23 is BN before the ReLU, as the original


@pytest.mark.parametrize("trial", range(16))
def test_chunked_equals_one_pass(trial):
    rng = random.Random(trial)
    model = MODELS["soundnet8" if trial % 3 else "soundnet5"]
    layer = model.architecture.layer(rng.choice([spec.index for spec in model.architecture.layers]))
    field = model.architecture.receptive_field(layer)
    length = rng.randint(model.architecture.min_input_length(layer), 3 * field.size + 20 * field.stride + 5_000)
    batch = rng.choice([1, 2])
    x = torch.randn(batch, length) * 60
    chunk = rng.randint(field.size + field.stride, field.size + 6 * field.stride)
    block = rng.choice([length, rng.randint(1, 3 * chunk)])
    blocks = [x[:, i : i + block] for i in range(0, length, block)]
    pieces = list(iter_chunked(model, blocks, layer, chunk))
    with torch.no_grad():
        expected = as_tuple(model.forward_features(x[:, None], layer.index))
    for ours, theirs in zip(joined(pieces), expected):
        assert close(ours, theirs)


def test_chunks_stay_within_their_size(monkeypatch):
    model = MODELS["soundnet8"]
    layer = model.architecture.layer(24)
    field = model.architecture.receptive_field(layer)
    seen = []

    forward_features = model.forward_features

    def recording(x, layer):
        seen.append(x.shape[-1])
        return forward_features(x, layer)

    monkeypatch.setattr(model, "forward_features", recording)
    chunk = field.size + 3 * field.stride
    x = torch.randn(40 * field.stride) * 50
    pieces = list(iter_chunked(model, [x[i : i + 7_000] for i in range(0, len(x), 7_000)], layer, chunk))
    assert len(seen) > 5 and max(seen) <= chunk
    assert sum(piece.shape[-1] for piece in pieces) == model.architecture.output_length(len(x), layer)


def test_default_chunk_keeps_the_largest_activation_in_budget():
    model = SoundNet8()
    layer = model.architecture.layer(24)
    samples = default_chunk_samples(model, layer)
    assert samples * 16 * 4 / 2 <= chunked.ACTIVATION_BUDGET  # conv1: 16 channels at half rate
    assert default_chunk_samples(model, layer, batch=4) == pytest.approx(samples / 4, abs=1)
    assert default_chunk_samples(model, model.architecture.head, batch=64) >= 320542  # one output at least


def test_streamed_file_equals_in_memory(tmp_path):
    model = MODELS["soundnet8"]
    path = write_audio(tmp_path / "long.wav", 30.0, rate=44100)
    layer = model.architecture.layer(18)
    whole = run_as_original(model, load_audio(path)[None, None], layer.index)
    streamed = joined(iter_chunked(model, iter_audio_blocks(path, 50_001), layer, 120_000))[0]
    assert close(streamed, whole)


def test_bad_inputs_are_clear_errors():
    model = MODELS["soundnet8"]
    layer = model.architecture.layer(24)
    with pytest.raises(ValueError, match="too short"):
        list(iter_chunked(model, [torch.zeros(1000)], layer))
    with pytest.raises(ValueError, match="no audio samples"):
        list(iter_chunked(model, [], layer))
    with pytest.raises(ValueError, match="one batch size"):
        list(iter_chunked(model, [torch.zeros(2, 100), torch.zeros(3, 100)], layer))
    with pytest.raises(ValueError, match="N or B x N"):
        list(iter_chunked(model, [torch.zeros(1, 1, 1, 100)], layer))
