"""Every loaded model is checked, whatever its format: finite numbers, sane BN, float dtypes, categories."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import convert
import soundnet
from conftest import torch7_refs_dir
from soundnet.formats.tensor_files import model_metadata
from soundnet.model.examples import EXAMPLE_MODEL


@pytest.fixture(scope="module")
def example():
    return soundnet.load(EXAMPLE_MODEL)


def write_safetensors(path, model, state_change=None, meta_change=None):
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = model_metadata(model)
    if state_change:
        state_change(state)
    if meta_change:
        meta_change(meta)
    save_file(state, str(path), metadata=meta)
    return path


def poison(name, index, value):
    def change(state):
        state[name].view(-1)[index] = value

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (poison("conv3.weight", 5, float("nan")), "conv3.weight holds 1 NaN or infinite"),
        (poison("bn2.running_mean", 0, float("inf")), "bn2.running_mean holds 1 NaN or infinite"),
        (poison("bn4.running_var", 1, -0.5), "bn4.running_var holds a negative variance"),
    ],
)
def test_non_finite_or_negative_statistics_are_refused(tmp_path, example, change, message):
    path = write_safetensors(tmp_path / "bad.safetensors", example, state_change=change)
    with pytest.raises(ValueError, match=message):
        soundnet.load(path)


@pytest.mark.parametrize("eps", ["NaN", "-1e-05", "0", "Infinity"])
def test_bn_eps_must_be_finite_and_positive(tmp_path, example, eps):
    def change(meta):
        values = json.loads(meta["bn_eps"])
        meta["bn_eps"] = json.dumps(values).replace(json.dumps(values["bn3"]), eps, 1)

    path = write_safetensors(tmp_path / "eps.safetensors", example, meta_change=change)
    with pytest.raises(ValueError, match="batch-norm epsilon"):
        soundnet.load(path)


def test_non_finite_t7_weights_and_eps_are_refused(tmp_path):
    tree = convert.read_t7(EXAMPLE_MODEL)
    tree["modules"][4]["weight"][0, 0, 0, 0] = np.nan  # conv2
    convert.write_t7(tree, tmp_path / "nan.t7")
    with pytest.raises(ValueError, match="conv2.weight holds 1 NaN"):
        soundnet.load(tmp_path / "nan.t7")
    tree = convert.read_t7(EXAMPLE_MODEL)
    tree["modules"][1].fields["eps"] = -1.0
    convert.write_t7(tree, tmp_path / "eps.t7")
    with pytest.raises(ValueError, match="bn1 has batch-norm epsilon -1.0"):
        soundnet.load(tmp_path / "eps.t7")


@pytest.mark.parametrize(
    "categories, message",
    [
        ([["a"] * 1000], "two lists"),
        ([["a"] * 999, ["b"] * 401], "object category metadata has 999 names"),
        ([["a"] * 1000, "scenes"], "scene category metadata has str"),
        ([["a"] * 999 + ["bad\x1b[2Jname"], ["b"] * 401], "not printable"),
        ([["a"] * 999 + [7], ["b"] * 401], "not printable"),
    ],
)
def test_category_metadata_is_checked(tmp_path, example, categories, message):
    def change(meta):
        meta["categories"] = json.dumps(categories)

    path = write_safetensors(tmp_path / "cats.safetensors", example, meta_change=change)
    with pytest.raises(ValueError, match=message):
        soundnet.load(path)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
def test_other_float_types_load_as_float32_like_t7(tmp_path, example, dtype):
    def change(state):
        for name in state:
            state[name] = state[name].to(dtype)

    model = soundnet.load(write_safetensors(tmp_path / "typed.safetensors", example, state_change=change))
    assert {value.dtype for value in model.state_dict().values() if value.is_floating_point()} == {torch.float32}
    with torch.no_grad():
        model(torch.zeros(1, 1, 220500))  # runs: float32 weights for float32 input


def test_double_t7_loads_as_float32(tmp_path):
    path = torch7_refs_dir() / "variants" / "soundnet8_finetune_quarter_double.t7"
    if not path.is_file():
        pytest.skip(f"{path} not found (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    model = soundnet.load(path)
    assert {value.dtype for value in model.state_dict().values() if value.is_floating_point()} == {torch.float32}


def test_integer_parameters_are_refused_in_both_paths(tmp_path, example):
    def change(state):
        state["conv1.weight"] = state["conv1.weight"].round().to(torch.int64)

    with pytest.raises(ValueError, match="conv1.weight holds int64 values"):
        soundnet.load(write_safetensors(tmp_path / "int.safetensors", example, state_change=change))
    tree = convert.read_t7(EXAMPLE_MODEL)
    conv1 = tree["modules"][0]
    conv1.fields["weight"] = np.asarray(conv1["weight"]).round().astype(np.int64)
    convert.write_t7(tree, tmp_path / "int.t7")
    with pytest.raises(ValueError, match="module 1 \\(conv1\\) weight holds int64 values"):
        soundnet.load(tmp_path / "int.t7")
