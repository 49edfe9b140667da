"""hubconf.py: torch.hub.load(repo_dir, entry, source="local") on this checkout, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import soundnet
from audio_fixtures import small_soundnet5

REPO = Path(__file__).resolve().parent.parent.parent


def hub_load(entry: str, **kwargs):
    return torch.hub.load(str(REPO), entry, source="local", trust_repo=True, **kwargs)


def test_soundnet8_with_example_weights_runs():
    model = hub_load("soundnet8", weights="example")
    reference = soundnet.load("example")
    assert isinstance(model, soundnet.SoundNet) and not model.training
    x = torch.randn(1, 220_500) * 50
    with torch.inference_mode():
        for ours, theirs in zip(model(x), reference(x)):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_soundnet8_defaults_to_the_released_weights(monkeypatch):
    asked = []
    monkeypatch.setattr(soundnet, "load", lambda name: asked.append(name) or soundnet.SoundNet8().eval())
    hub_load("soundnet8")
    assert asked == ["soundnet8"]


def test_soundnet8_loads_the_released_weights(released_soundnet8):
    model = hub_load("soundnet8")
    assert model.weights is soundnet.SoundNet8_Weights.RELEASED.value
    assert model.widths == (16, 32, 64, 128, 256, 512, 1024) and not model.training


def test_random_soundnet8_and_soundnet5():
    assert hub_load("soundnet8", pretrained=False).widths == (16, 32, 64, 128, 256, 512, 1024)
    assert hub_load("soundnet5", pretrained=False).name == "soundnet5"


def test_soundnet5_from_given_weights(tmp_path):
    path = soundnet.save(small_soundnet5(), tmp_path / "s5.safetensors")
    model = hub_load("soundnet5", weights=str(path))
    assert model.name == "soundnet5" and model.widths == (4, 4, 8, 8)


@pytest.mark.parametrize(
    "entry, kwargs, message",
    [
        ("soundnet5", {}, "no released soundnet5 weights are published"),
        ("soundnet5", {"weights": "example"}, "holds a soundnet8, not a soundnet5"),
        ("soundnet8", {"weights": "example", "pretrained": False}, "not both"),
    ],
)
def test_mistakes_are_clear(entry, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hub_load(entry, **kwargs)
