"""A SoundNet fine-tuned in Torch7 with a head of its own (View + Dropout + Linear after pool5, another class
count, extra layers) loads as a SoundNet: it converts, predicts like Torch7, extracts (also in chunks),
exports back to Torch7 and fine-tunes further."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import convert
import soundnet
from generated_sounds import KINDS, write_clip
from soundnet.cli import cli
from soundnet.inference.chunked import iter_chunked
from torch7_runtime import SCRIPTS, make_reference, run_lua

CLASSES = 5
# The body's long convolutions sum thousands of products per output; 1e-5 of the largest value holds
# (measured 3e-7), the same bound as the zoo's.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def finetuned(torch7_refs, torch7_runtime, tmp_path_factory) -> tuple[Path, torch.Tensor, torch.Tensor, Path]:
    """(fine-tuned .t7, input, Torch7's evaluate() output, io file) made by the real Torch7."""
    folder = tmp_path_factory.mktemp("custom_head")
    run_lua(
        torch7_runtime,
        SCRIPTS / "finetune_custom_head.lua",
        "-base",
        torch7_refs / "soundnet8_quarter.t7",
        "-out",
        folder / "ft.t7",
        "-io",
        folder / "io.t7",
        "-classes",
        CLASSES,
    )
    io = convert.read_t7(folder / "io.t7")
    return folder / "ft.t7", torch.from_numpy(io["input"]), torch.from_numpy(io["output"]), folder / "io.t7"


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours.double() - theirs.double()).abs().max() / max(1.0, float(theirs.abs().max())))


def test_loads_as_a_soundnet_with_a_generic_head_and_predicts_like_torch7(finetuned):
    path, x, expected, _ = finetuned
    model = soundnet.load(path)
    assert isinstance(model, soundnet.SoundNet) and model.architecture.has_custom_head
    assert model.name == "soundnet8-body18-custom-head" and model.classes == (CLASSES,)
    assert [m.torch_class for m in model.head.submodules] == [
        "nn.View",
        "nn.Dropout",
        "nn.Linear",
        "nn.ReLU",
        "nn.Linear",
        "nn.LogSoftMax",
    ]
    with torch.inference_mode():
        assert relative(model(x), expected) <= TOLERANCE
    report = CliRunner().invoke(cli, ["inspect", str(path)]).output
    assert "soundnet8 body (modules 1-18) + a custom head (modules 19-24)" in report


def test_converts_verifies_and_exports_back_to_torch7(finetuned, tmp_path, torch7_runtime):
    path, x, expected, io_file = finetuned
    runner = CliRunner()
    assert runner.invoke(cli, ["convert", str(path), str(tmp_path / "ft.safetensors")]).exit_code == 0
    converted = soundnet.load(tmp_path / "ft.safetensors")
    with torch.inference_mode():
        assert relative(converted(x), expected) <= TOLERANCE
    refs = make_reference(torch7_runtime, path, io_file, tmp_path / "refs.t7")
    verified = runner.invoke(
        cli,
        [
            "verify",
            "--model",
            str(tmp_path / "ft.safetensors"),
            "--reference",
            str(refs),
            "--tolerance",
            str(TOLERANCE),
        ],
    )
    assert verified.exit_code == 0 and "25 of 25 arrays within tolerance" in verified.output, verified.output
    assert runner.invoke(cli, ["export", str(tmp_path / "ft.safetensors"), str(tmp_path / "back.t7")]).exit_code == 0
    torch7 = convert.read_t7(make_reference(torch7_runtime, tmp_path / "back.t7", io_file, tmp_path / "back_refs.t7"))
    assert relative(torch.from_numpy(torch7["outputs"]["input"]["final"]), expected) <= TOLERANCE


def test_body_extraction_and_chunking_work_as_for_any_soundnet(finetuned):
    model = soundnet.load(finetuned[0])
    wave = finetuned[1][:1].reshape(1, -1)
    pool5 = model.architecture.layer(18)
    with torch.inference_mode():
        whole = model.forward_features(wave, 18)
        chunked = torch.cat(list(iter_chunked(model, [wave[:, :60000], wave[:, 60000:]], pool5, 50000)), -1)
    assert torch.allclose(chunked, whole, rtol=0, atol=1e-4 * float(whole.abs().max()))


def test_fine_tunes_further(finetuned, tmp_path):
    lines = [
        f"{write_clip(tmp_path / f'clip{i}.wav', KINDS[i % len(KINDS)], 2.0, i).name} {i % CLASSES}" for i in range(6)
    ]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    start = soundnet.load(finetuned[0])
    result = CliRunner().invoke(
        cli,
        [
            "finetune",
            "--list",
            str(tmp_path / "train.txt"),
            "--classes",
            str(CLASSES),
            "--model",
            str(finetuned[0]),
            "--batch-size",
            "3",
            "--epochs",
            "2",
            "--held-out",
            "0",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "f"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    tuned = soundnet.load(tmp_path / "f" / "model.safetensors")
    assert tuned.name == start.name and tuned.classes == (CLASSES,)
    assert not torch.equal(tuned.head.submodules[2].weight, start.head.submodules[2].weight)
    assert not torch.equal(tuned.conv1.weight, start.conv1.weight)
    with torch.inference_mode():
        assert torch.isfinite(tuned(finetuned[1])).all()
    wrong = CliRunner().invoke(
        cli,
        [
            "finetune",
            "--list",
            str(tmp_path / "train.txt"),
            "--classes",
            "6",
            "--model",
            str(finetuned[0]),
            "--workers",
            "0",
            "--out",
            str(tmp_path / "g"),
            "--quiet",
        ],
    )
    assert wrong.exit_code == 1 and "the model's own head gives [5] classes, not 6" in wrong.output
