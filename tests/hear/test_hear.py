"""soundnet.hear: the HEAR API, checked by hear-eval-kit's own validator and against the model directly.

hearvalidator imports TensorFlow at module level although a torch model only takes its torch path, so
the validator test puts a stand-in `tensorflow` package (one class, `Module`, which the validator's
isinstance check needs) first on the path instead of installing TensorFlow. hearvalidator itself is
installed without dependencies by scripts/install_test_tools.sh.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import torch

import soundnet
import soundnet.hear as hear
from soundnet.model.architecture import SAMPLE_RATE

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def noise(sounds: int, samples: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(sounds, samples, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def model():
    return hear.load_model("example")


def run_validator(tmp_path, *model_args: str) -> str:
    stand_in = tmp_path / "tensorflow"
    stand_in.mkdir()
    (stand_in / "__init__.py").write_text(
        '"""Stand-in: hearvalidator only asks isinstance(model, tf.Module)."""\nclass Module:\n    pass\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), REPO])}
    result = subprocess.run(
        [sys.executable, "-m", "hearvalidator.validate", "soundnet.hear", *model_args, "-d", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Looks good!" in result.stdout
    return result.stdout


needs_validator = pytest.mark.skipif(
    importlib.util.find_spec("hearvalidator") is None,
    reason="hearvalidator is not installed (scripts/install_test_tools.sh does)",
)


@needs_validator
def test_hearvalidator_accepts_the_module(tmp_path):
    output = run_validator(tmp_path, "-m", "example")
    assert "Received embedding of shape: torch.Size([16, 5, 32])" in output  # 2 s: 5 pool5 steps


@needs_validator
def test_hearvalidator_with_the_default_released_soundnet8(tmp_path, released_soundnet8):
    output = run_validator(tmp_path)  # no -m: load_model() loads the released weights (cached by the fixture)
    assert "No weight file provided. Using default" in output
    assert "Received embedding of shape: torch.Size([16, 5, 256])" in output  # pool5 of the full width


def test_attributes(model):
    assert model.sample_rate == SAMPLE_RATE == 22050
    assert model.scene_embedding_size == model.timestamp_embedding_size == 32  # the example's pool5 width
    assert (model.layer.index, model.layer.name) == (18, "pool5")
    assert isinstance(model, torch.nn.Module)


def test_timestamp_embeddings_are_pool5_of_the_scaled_audio(model):
    audio = noise(3, 3 * SAMPLE_RATE)
    embeddings, times = hear.get_timestamp_embeddings(audio, model)
    expected = soundnet.extract_features(model.soundnet, audio * 256, 18)  # B x C x T
    assert embeddings.dtype == torch.float32 and embeddings.shape == (3, expected.shape[2], 32)
    torch.testing.assert_close(embeddings, expected.transpose(1, 2), rtol=0, atol=0)
    assert times.shape == embeddings.shape[:2]


def test_timestamps_are_receptive_field_centres_in_ms(model):
    _, times = hear.get_timestamp_embeddings(noise(2, 5 * SAMPLE_RATE), model)
    field = model.soundnet.architecture.receptive_field(model.layer)  # stride 8192, offset 6432, size 17438
    for step in range(times.shape[1]):
        start, end = field.window(step)
        assert times[1, step].item() == pytest.approx((start + end) / 2 / SAMPLE_RATE * 1000, abs=1e-3)
    assert times[0, 0].item() == pytest.approx((8719 - 6432) / 22.05, abs=1e-3)  # 103.7 ms
    assert torch.diff(times[0]).tolist() == pytest.approx([8192 / 22.05] * (times.shape[1] - 1), abs=1e-3)


def test_scene_embedding_is_the_mean_over_time(model):
    audio = noise(4, 4 * SAMPLE_RATE, seed=1)
    scene = hear.get_scene_embeddings(audio, model)
    frames, _ = hear.get_timestamp_embeddings(audio, model)
    assert scene.shape == (4, 32) and scene.dtype == torch.float32
    torch.testing.assert_close(scene, frames.mean(dim=1), rtol=1e-6, atol=1e-6)  # float32 sums, other order


def test_short_sounds_are_padded_to_one_step(model):
    embeddings, times = hear.get_timestamp_embeddings(noise(2, 100), model)
    assert embeddings.shape == (2, 1, 32) and times.shape == (2, 1)
    assert hear.get_scene_embeddings(noise(1, 1), model).shape == (1, 32)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_embeddings_are_float32_whatever_the_model_runs_in(dtype):
    model = hear.load_model("example").to(dtype)
    embeddings, _ = hear.get_timestamp_embeddings(noise(1, SAMPLE_RATE), model)
    assert embeddings.dtype == hear.get_scene_embeddings(noise(1, SAMPLE_RATE), model).dtype == torch.float32


@pytest.mark.parametrize("shape", [(100,), (0, 100), (2, 0), (1, 1, 100)])
def test_audio_that_is_not_sounds_by_samples_is_refused(model, shape):
    with pytest.raises(ValueError, match="HEAR audio must be n_sounds x n_samples"):
        hear.get_scene_embeddings(torch.zeros(shape), model)


def test_default_model_is_the_released_soundnet8(monkeypatch):
    asked = []
    monkeypatch.setattr(hear, "load", lambda name: asked.append(name) or soundnet.load("example"))
    hear.load_model()
    assert asked == [hear.DEFAULT_MODEL] == ["soundnet8"]
