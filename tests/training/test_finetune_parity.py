"""The fine-tuning step against Torch7 (finetune_soundnet8_quarter.t7), in training and evaluation mode.

main_finetune.lua's fx on model (f): logits, cross-entropy loss, every gradient and the BN running
statistics within max|ours - torch7| <= 1e-4 * max(1, max|torch7|); every parameter after one Torch-Adam
step as tests/adam_parity.py compares them (a per-tensor relative norm, and why).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convert
import soundnet
from adam_parity import LR, TORCH_NAMES, check_params
from soundnet.parity.verify import TOLERANCE, compare
from soundnet.training.finetune import module_at
from soundnet.training.losses import classification_loss
from soundnet.training.optim import TorchAdam

pytestmark = pytest.mark.slow  # Torch7-size models run forward and backward several times


@pytest.fixture(scope="module")
def reference(torch7_refs):
    return convert.read_t7(torch7_refs / "finetune_soundnet8_quarter.t7")


@pytest.mark.parametrize("mode", ["training", "evalmode"])
def test_finetune_step_matches_torch7(torch7_refs, reference, mode):
    expected = reference if mode == "training" else reference["evalmode"]
    model = soundnet.load(torch7_refs / "soundnet8_finetune_quarter.t7").train(mode == "training")
    waveform = torch.from_numpy(np.asarray(reference["input"]))[..., 0]
    labels = torch.from_numpy(np.asarray(expected["labels"])).long() - 1  # Torch's labels are 1-based
    optimizer = TorchAdam(model.parameters(), lr=LR)
    logits = model(waveform)
    loss = classification_loss(logits, labels)
    loss.backward()
    assert loss.item() == pytest.approx(expected["loss"], rel=TOLERANCE)
    assert compare(logits, expected["output"], mode, "output").ok
    for path, grads in expected["grads_step1"].items():
        for name, torch_name in TORCH_NAMES.items():
            check = compare(
                module_at(model, path).get_parameter(name).grad, grads[torch_name], mode, f"grad {path}.{name}"
            )
            assert check.ok, check
    optimizer.step()
    params = {
        path: {name: module_at(model, path).get_parameter(name) for name in TORCH_NAMES}
        for path in expected["params_after_1"]
    }
    check_params(params, expected["params_after_1"], 1, mode, bn_training=mode == "training")
    for path, stats in expected["bn_after_1"].items():
        for name, value in stats.items():
            check = compare(module_at(model, path).get_buffer(name), value, mode, f"{path}.{name}")
            assert check.ok, check
