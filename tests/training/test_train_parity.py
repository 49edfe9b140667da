"""Student-teacher training, step for step against Torch7 (training_soundnet8_quarter*.t7).

From the same weights, batch and targets: the loss of every step, the eight outputs, every gradient after
step 1 and the BN running statistics within the parity tolerance max|ours - torch7| <= 1e-4 * max(1,
max|torch7|) (tests/parity/test_parity.py says why it holds on any CPU); every parameter after 1 and 3
Torch-Adam steps as tests/adam_parity.py compares them (a per-tensor relative norm, and why).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convert
import soundnet
from adam_parity import LR, TORCH_NAMES, check_params
from soundnet.parity.verify import TOLERANCE, compare, sequence
from soundnet.training.finetune import module_at
from soundnet.training.losses import head_log_softmax, teacher_loss
from soundnet.training.optim import TorchAdam
from soundnet.training.train import use_head_softmax

pytestmark = pytest.mark.slow  # Torch7-size models run forward and backward several times


def torch_adam_first_step(param: torch.Tensor, grad: np.ndarray) -> torch.Tensor:
    """MANIFEST: Torch Adam's first step is p - lr * g / (|g| + 1e-8 / sqrt(1 - 0.999))."""
    g = torch.from_numpy(np.asarray(grad, np.float32)).reshape(param.shape)
    return param - LR * g / (g.abs() + 1e-8 / np.sqrt(1 - 0.999))


def train_three_steps(torch7_refs, file: str, mode: str) -> dict:
    """Run main_train.lua's fx + optim.adam three times on the reference batch; record what Torch7 stored."""
    reference = convert.read_t7(torch7_refs / file)
    model = soundnet.load(torch7_refs / "soundnet8_quarter.t7").train()
    use_head_softmax(model, mode)
    labels = [torch.from_numpy(np.asarray(t)) for t in sequence(reference["labels"])]
    targets = (torch.stack(labels[:4], -1), torch.stack(labels[4:], -1))
    waveform = torch.from_numpy(np.asarray(reference["input"]))[..., 0]
    optimizer = TorchAdam(model.parameters(), lr=LR, betas=(0.9, 0.999))
    paths = list(reference["grads_step1"])
    record = {
        "reference": reference,
        "model": model,
        "losses": [],
        "params": {},
        "bn": {},
        "initial": {p: {n: module_at(model, p).get_parameter(n).detach().clone() for n in TORCH_NAMES} for p in paths},
    }
    for step in (1, 2, 3):
        optimizer.zero_grad()
        heads = model(waveform)
        loss = teacher_loss(heads, targets, mode)
        loss.backward()
        record["losses"].append(loss.item())
        if step == 1:
            record["outputs"] = [head_log_softmax(h, mode)[..., t].detach() for h in heads for t in range(4)]
            record["grads"] = {
                p: {n: module_at(model, p).get_parameter(n).grad.clone() for n in TORCH_NAMES} for p in paths
            }
        optimizer.step()
        if step in (1, 3):
            record["params"][step] = {
                p: {n: module_at(model, p).get_parameter(n).detach().clone() for n in TORCH_NAMES} for p in paths
            }
            record["bn"][step] = {
                p: {n: module_at(model, p).get_buffer(n).clone() for n in ("running_mean", "running_var")}
                for p in reference["bn_after"]["1"]
            }
    return record


@pytest.fixture(scope="module")
def cpu_run(torch7_refs):
    return train_three_steps(torch7_refs, "training_soundnet8_quarter.t7", "torch7-cpu")


@pytest.fixture(scope="module")
def classdim_run(torch7_refs):
    return train_three_steps(torch7_refs, "training_soundnet8_quarter_classdim.t7", "classes")


@pytest.mark.parametrize("run", ["cpu_run", "classdim_run"])
def test_losses_of_three_steps(run, request):
    record = request.getfixturevalue(run)
    expected = sequence(record["reference"]["losses"])
    assert record["losses"][0] == pytest.approx(record["reference"]["loss_step1"], rel=TOLERANCE)
    for ours, theirs in zip(record["losses"], expected):
        assert abs(ours - theirs) <= TOLERANCE * max(1.0, abs(theirs))


@pytest.mark.parametrize("run", ["cpu_run", "classdim_run"])
def test_outputs_and_gradients_of_step_one(run, request):
    record = request.getfixturevalue(run)
    reference = record["reference"]
    for index, (ours, theirs) in enumerate(zip(record["outputs"], sequence(reference["output_step1"]))):
        assert compare(ours, theirs, run, f"output {index + 1}").ok
    assert set(record["grads"]) == set(reference["grads_step1"]) and len(record["grads"]) == 16
    for path, grads in reference["grads_step1"].items():
        for name, torch_name in TORCH_NAMES.items():
            check = compare(record["grads"][path][name], grads[torch_name], run, f"grad {path}.{name}")
            assert check.ok, check


def test_torch7_cpu_params_after_one_and_three_steps(cpu_run):
    for step in (1, 3):
        check_params(cpu_run["params"][step], cpu_run["reference"]["params_after"][str(step)], step, f"step {step}")


def test_classdim_params_after_one_step(classdim_run):
    """The classdim file stores no parameters; Torch Adam's first step from its gradients gives them."""
    grads = classdim_run["reference"]["grads_step1"]
    theirs = {
        p: {
            n: torch_adam_first_step(classdim_run["initial"][p][n], grads[p][t]).numpy() for n, t in TORCH_NAMES.items()
        }
        for p in grads
    }
    check_params(classdim_run["params"][1], theirs, 1, "classdim step 1")


@pytest.mark.parametrize("run, steps", [("cpu_run", (1, 3)), ("classdim_run", (1,))])
def test_bn_running_statistics(run, steps, request):
    record = request.getfixturevalue(run)
    for step in steps:
        for path, stats in record["reference"]["bn_after"][str(step)].items():
            for name, expected in stats.items():
                check = compare(record["bn"][step][path][name], expected, run, f"step {step} {path}.{name}")
                assert check.ok, check


def test_pytorch_adam_would_miss_the_torch7_step(torch7_refs, cpu_run):
    """The reason TorchAdam exists: PyTorch's epsilon placement misses params_after['1'] by far more than 1e-4."""
    grads = cpu_run["reference"]["grads_step1"]
    worst = 0.0
    for path in ("25.1", "25.2"):
        param = cpu_run["initial"][path]["weight"].clone().requires_grad_(True)
        param.grad = torch.from_numpy(np.asarray(grads[path]["gradWeight"])).reshape(param.shape)
        torch.optim.Adam([param], lr=LR, eps=1e-8).step()
        worst = max(worst, compare(param, cpu_run["reference"]["params_after"]["1"][path]["weight"], "", "").max_rel)
    assert worst > 5 * TOLERANCE
