"""The training loop on small generated data: resume bit for bit, DDP equals one process, CLI and errors."""

from __future__ import annotations

import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from click.testing import CliRunner

import soundnet
from soundnet.cli import cli
from soundnet.training.loop import LoopSettings
from soundnet.training.teacher_data import read_teacher_hdf5
from soundnet.training.train import build_student, train
from training_fixtures import make_label_list, make_teacher_h5

WIDTHS = (2, 2, 4, 4, 8, 8, 8)


def student():
    """A new SoundNet8 of WIDTHS with main_train.lua's initialisation (seed 3, as settings())."""
    return build_student(None, "soundnet8", WIDTHS, seed=3)


def settings(out, **changes) -> LoopSettings:
    return LoopSettings(out_dir=out, **{"batch_size": 4, "steps": 4, "seed": 3, "show_progress": False, **changes})


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return make_teacher_h5(tmp_path_factory.mktemp("teacher"), missing=1)


@pytest.mark.slow
def test_resume_gives_bit_identical_parameters(teacher, tmp_path):
    clips = read_teacher_hdf5(teacher)
    whole = train(student(), clips, settings(tmp_path / "whole"))
    train(student(), clips, settings(tmp_path / "cut", steps=2))
    resumed = train(student(), clips, settings(tmp_path / "cut", resume=tmp_path / "cut" / "checkpoint.pt"))
    assert resumed.step == whole.step == 4 and whole.missing_clips > 0
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    steps = [json.loads(line).get("step") for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [s for s in steps if s] == [1, 2, 3, 4]
    assert (tmp_path / "cut" / "loss.png").stat().st_size > 0


def _ddp_rank(rank: int, rendezvous: str, teacher, out) -> None:
    """One rank: join through a file (no port to pick and race for), then train as torchrun would launch it."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=2)
    train(student(), read_teacher_hdf5(teacher), settings(out, steps=2))


# Two ranks and one process sum the same numbers in a different order (the all-reduce, the synchronised BN
# sums, and kernels whose blocking follows the batch size and the CPU's vector width), so they differ by
# float32 rounding: ~1e-7 relative per operation. Adam's step 1 then moves each element by lr * g / (|g| +
# 3.2e-7): where |g| is near 3.2e-7 a gradient difference dg moves the parameter by up to lr * dg / 3.2e-7,
# ~3000 dg. Measured after two steps, relative to max(1, |tensor|): 6.9e-6 with AVX-512 kernels, 1.46e-5
# with AVX2 ones (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 reproduces the AMD EPYC figure exactly),
# 1.36e-5 with no vectorisation; 1e-4 leaves a margin of about 7x. A broken DDP is far outside it: without
# synchronised BN the worst tensor is 8.9e-2 off, without the gradient all-reduce 8.1e-3, and 34 of the 39
# tensors beyond 1e-4 either way.
ROUNDING = 1e-4
# Conv biases feeding a training-mode BN have an exactly-zero gradient, so Adam steps on rounding noise in
# either direction (tests/adam_parity.py): the two runs can only be held to 2 * lr per step, here 2 steps.
NOISE_ONLY = 2 * 1e-3 * 2


@pytest.mark.slow
def test_ddp_two_processes_equal_one_process_on_the_global_batch(teacher, tmp_path):
    """2 gloo ranks on loopback, 2 clips each, synchronised BN; against one process on the same 4 clips."""
    mp.spawn(_ddp_rank, args=((tmp_path / "rendezvous").as_uri(), teacher, tmp_path / "ddp"), nprocs=2)
    single = train(student(), read_teacher_hdf5(teacher), settings(tmp_path / "one", steps=2)).model
    ddp = soundnet.load(tmp_path / "ddp" / "model.safetensors")
    for name, expected in single.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        error = ((ddp.state_dict()[name] - expected).abs().max() / max(1.0, expected.abs().max().item())).item()
        noise_only = name.startswith("conv") and name.endswith(".bias")
        assert error <= (NOISE_ONLY if noise_only else ROUNDING), (name, error)


@pytest.mark.slow
def test_cli_train_then_finetune(teacher, tmp_path):
    runner = CliRunner()
    trained = runner.invoke(
        cli,
        [
            "train",
            "--hdf5",
            str(teacher),
            "--scratch",
            "soundnet8",
            "--widths",
            ",".join(map(str, WIDTHS)),
            "--batch-size",
            "2",
            "--steps",
            "2",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "t"),
            "--quiet",
            "--export",
            str(tmp_path / "t.t7"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert soundnet.load(tmp_path / "t.t7").widths == WIDTHS
    labels = make_label_list(tmp_path)
    tuned = runner.invoke(
        cli,
        [
            "finetune",
            "--list",
            str(labels),
            "--classes",
            "3",
            "--model",
            str(tmp_path / "t" / "model.safetensors"),
            "--batch-size",
            "4",
            "--epochs",
            "2",
            "--freeze",
            "4",
            "--held-out",
            "0.25",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "f"),
            "--quiet",
        ],
    )
    assert tuned.exit_code == 0, tuned.output
    assert "epoch 2: held_out_accuracy" in tuned.output
    model = soundnet.load(tmp_path / "f" / "model.safetensors")
    assert model.name == "soundnet8-finetuned" and model.classes == (3,)
    assert model.metadata["class_names"] == ["0", "1", "2"]  # travels in the model file, and beside it:
    assert (tmp_path / "f" / "classes.txt").read_text() == "0\n1\n2\n"
    predicted = runner.invoke(
        cli,
        [
            "predict",
            str(labels.parent / "sound 0.wav"),
            "--model",
            str(tmp_path / "f" / "model.safetensors"),
            "--top",
            "1",
        ],
    )
    assert predicted.exit_code == 0 and "clip decision over" in predicted.output
    start = soundnet.load(tmp_path / "t" / "model.safetensors")
    assert torch.equal(model.conv1.weight, start.conv1.weight) and not torch.equal(
        model.conv5.weight, start.conv5.weight
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["train", "--hdf5", "{teacher}", "--model", "{tmp}/none.t7"], "none.t7"),
        (["train", "--hdf5", "{tmp}/bad.h5", "--scratch", "soundnet8"], "bad.h5: not a readable HDF5 teacher file"),
        (
            ["train", "--hdf5", "{teacher}", "--scratch", "soundnet8", "--resume", "{teacher}"],
            "not a soundnet training checkpoint",
        ),
        (["train", "--hdf5", "{teacher}", "--scratch", "soundnet8", "--bf16"], "bf16 autocast needs a CUDA device"),
        (
            ["finetune", "--list", "{tmp}/list.txt", "--classes", "3", "--model", "{teacher}"],
            "list.txt line 2: expected",
        ),
    ],
)
def test_cli_errors_are_one_line(teacher, tmp_path, arguments, message):
    (tmp_path / "bad.h5").write_text("not hdf5")
    (tmp_path / "list.txt").write_text("a.wav 1\nb.wav\n")
    arguments = [a.format(teacher=teacher, tmp=tmp_path) for a in arguments]
    result = CliRunner().invoke(cli, arguments + ["--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_finetune_bad_freeze_and_resume_mismatch(teacher, tmp_path):
    runner = CliRunner()
    base = [
        "train",
        "--hdf5",
        str(teacher),
        "--scratch",
        "soundnet8",
        "--widths",
        ",".join(map(str, WIDTHS)),
        "--steps",
        "1",
        "--workers",
        "0",
        "--out",
        str(tmp_path / "t"),
        "--quiet",
    ]
    assert runner.invoke(cli, base + ["--batch-size", "2"]).exit_code == 0
    mismatch = runner.invoke(cli, base + ["--batch-size", "4", "--resume", str(tmp_path / "t" / "checkpoint.pt")])
    assert mismatch.exit_code == 1 and "trained with batch_size = 2, this run asks for 4" in mismatch.output
    labels = make_label_list(tmp_path)
    frozen = runner.invoke(
        cli,
        [
            "finetune",
            "--list",
            str(labels),
            "--classes",
            "3",
            "--model",
            str(tmp_path / "t" / "model.safetensors"),
            "--freeze",
            "25",
            "--quiet",
            "--out",
            str(tmp_path / "f"),
        ],
    )
    assert frozen.exit_code == 1 and "freeze must be a Torch module index in 0..24" in frozen.output
