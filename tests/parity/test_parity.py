"""Layer-by-layer parity with real Torch7 output, for every model file in the reference folder.

Criterion everywhere: max |ours - torch7| <= 1e-4 * max(1, max |torch7|) in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convert
import soundnet
from reference_counts import stored_array_count
from soundnet.parity.verify import TOLERANCE, verify_reference

TEACHER_FILES = [
    ("soundnet8_quarter.t7", "refs_soundnet8_quarter.t7", "soundnet8"),
    ("soundnet8_quarter_legacybn.t7", "refs_soundnet8_quarter.t7", "soundnet8"),
    ("soundnet5_quarter.t7", "refs_soundnet5_quarter.t7", "soundnet5"),
]
FINETUNED_FILES = [
    "soundnet8_finetune_quarter.t7",
    "soundnet8_finetune_quarter_ascii.t7",
    "variants/soundnet8_finetune_quarter_double.t7",
    "variants/soundnet8_finetune_quarter_b32.t7",
    "variants/soundnet8_finetune_quarter_conv2d.t7",
]


@pytest.mark.slow
@pytest.mark.parametrize("model_file, refs_file, architecture", TEACHER_FILES)
def test_every_stored_layer_matches_torch7(torch7_refs, model_file, refs_file, architecture):
    model = soundnet.load(torch7_refs / model_file)
    reference = convert.read_t7(torch7_refs / refs_file)
    checks = verify_reference(model, reference)
    assert model.name == architecture
    assert len(checks) == stored_array_count(reference), "every stored array is compared"
    failures = [c for c in checks if not c.ok]
    assert not failures, failures
    assert max(c.max_rel for c in checks) < TOLERANCE


@pytest.mark.parametrize("model_file", FINETUNED_FILES)
def test_finetuned_variants_match_torch7_eval_forward(torch7_refs, model_file):
    """finetune_soundnet8_quarter.t7 stores net:evaluate() logits (4 x 5) for a 4-clip batch."""
    step = convert.read_t7(torch7_refs / "finetune_soundnet8_quarter.t7")
    model = soundnet.load(torch7_refs / model_file)
    assert model.name == "soundnet8-finetuned" and model.classes == (5,)
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.asarray(step["input"])))
    expected = np.asarray(step["evalmode"]["output"])
    error = np.abs(logits.numpy() - expected).max() / max(1.0, np.abs(expected).max())
    assert logits.shape == (4, 5)
    assert error <= TOLERANCE


def test_variants_give_the_same_parameters(torch7_refs):
    """ascii, Double, 4-byte longs and 2-D conv weights all convert to the same model."""
    base = soundnet.load(torch7_refs / FINETUNED_FILES[0]).state_dict()
    for name in FINETUNED_FILES[1:]:
        other = soundnet.load(torch7_refs / name).state_dict()
        assert base.keys() == other.keys()
        for key in base:
            assert torch.equal(base[key], other[key]), (name, key)


def test_legacy_bn_recovers_running_var(torch7_refs):
    modern = soundnet.load(torch7_refs / "soundnet8_quarter.t7")
    legacy = soundnet.load(torch7_refs / "soundnet8_quarter_legacybn.t7")
    for index in range(1, 8):
        ours, theirs = legacy.get_submodule(f"bn{index}").running_var, modern.get_submodule(f"bn{index}").running_var
        assert torch.allclose(ours, theirs, rtol=2e-6, atol=0)


def test_prediction_recipe_softmax_heads(torch7_refs):
    """extract_predictions.lua's softmax over channels (refs pred10), via the model's probabilities."""
    for model_file, refs_file, _ in TEACHER_FILES[::2]:
        model = soundnet.load(torch7_refs / model_file)
        reference = convert.read_t7(torch7_refs / refs_file)
        with torch.inference_mode():
            objects, scenes = model.probabilities(torch.from_numpy(np.asarray(reference["inputs"]["pred10"])))
        stored = reference["outputs"]["pred10"]
        for ours, theirs in zip((objects, scenes), (stored[1], stored[2])):
            theirs = np.asarray(theirs)
            assert np.abs(ours.numpy() - theirs.reshape(ours.shape)).max() <= TOLERANCE
