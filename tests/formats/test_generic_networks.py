"""Any Torch7 network through the soundnet commands: inspect, convert -> load, export -> Torch7, verify."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

import convert
import soundnet
from generated_sounds import KINDS, write_clip
from soundnet.cli import cli
from torch7_runtime import make_reference
from zoo_nets import TOLERANCE, as_value, clone_value, io_file, load_io, relative_error, require_zoo, zoo_names

ZOO = zoo_names()


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


@pytest.mark.parametrize("name", ZOO)
def test_convert_then_load_gives_back_the_network(name, tmp_path):
    """convert writes safetensors whose metadata holds the module tree as JSON; load rebuilds it, no pickle."""
    result = run("convert", require_zoo(name), tmp_path / "net.safetensors")
    assert result.exit_code == 0, result.output
    network = soundnet.load(tmp_path / "net.safetensors")
    with safe_open(str(tmp_path / "net.safetensors"), framework="pt") as handle:
        meta = handle.metadata()
    if isinstance(network, soundnet.SoundNet):  # SoundNet-style nets load as a SoundNet body + their own head
        assert network.architecture.has_custom_head and json.loads(meta["head_tree"])["class"] == "nn.Sequential"
    else:
        assert "Torch7 network nn.Sequential" in result.output
        assert json.loads(meta["module_tree"])["class"] == "nn.Sequential"
    x, output, _ = load_io(name)
    with torch.inference_mode():
        assert relative_error(network(clone_value(x)), output) <= TOLERANCE


@pytest.mark.parametrize("name", ZOO)
def test_export_runs_in_torch7_and_verify_passes_module_by_module(name, tmp_path, torch7_runtime):
    """export -> Torch7 (make_reference -input on the exported file) matches the zoo; verify passes on it."""
    assert run("convert", require_zoo(name), tmp_path / "net.h5").exit_code == 0
    result = run("export", tmp_path / "net.h5", tmp_path / "back.t7")
    assert result.exit_code == 0, result.output
    refs = make_reference(torch7_runtime, tmp_path / "back.t7", io_file(name), tmp_path / "refs.t7")
    outputs = convert.read_t7(refs)["outputs"]["input"]
    _, output, per_module = load_io(name)
    assert relative_error(as_value(outputs["final"]), output) <= TOLERANCE
    for index, theirs in enumerate(per_module, 1):
        assert relative_error(as_value(outputs[index]), theirs) <= TOLERANCE, index
    verified = run("verify", "--model", tmp_path / "net.h5", "--reference", refs, "--tolerance", TOLERANCE)
    assert verified.exit_code == 0 and "FAIL" not in verified.output, verified.output


def test_verify_fails_on_a_changed_module(tmp_path, torch7_runtime):
    name = "lenet"
    refs = make_reference(torch7_runtime, require_zoo(name), io_file(name), tmp_path / "refs.t7")
    network = soundnet.load(require_zoo(name))
    network.submodules[0].weight.data.mul_(1.01)
    soundnet.save(network, tmp_path / "changed.safetensors")
    result = run("verify", "--model", tmp_path / "changed.safetensors", "--reference", refs)
    assert result.exit_code == 1 and "FAIL" in result.output and "1 (nn.SpatialConvolution)" in result.output


def test_inspect_names_the_first_unsupported_module_and_its_path(tmp_path):
    tree = convert.read_t7(require_zoo("table_ops"))
    tree["modules"][3]["modules"][1].typename = "nn.SpatialFractionalMaxPooling"
    convert.write_t7(tree, tmp_path / "odd.t7")
    result = run("inspect", tmp_path / "odd.t7")
    assert result.exit_code == 0
    assert "converter: first unsupported module: nn.SpatialFractionalMaxPooling at module 4.2" in result.output
    assert "converter: every module is supported" in run("inspect", require_zoo("lenet")).output


def test_unsupported_or_nngraph_files_are_refused_in_one_line_without_output(tmp_path):
    tree = convert.read_t7(require_zoo("table_ops"))
    tree["modules"][3]["modules"][1].typename = "nn.SpatialFractionalMaxPooling"
    convert.write_t7(tree, tmp_path / "odd.t7")
    line = one_line_error(run("convert", tmp_path / "odd.t7", tmp_path / "out.safetensors"))
    assert "nn.SpatialFractionalMaxPooling at module 4.2: unsupported module class" in line
    convert.write_t7(convert.TorchObject("nn.gModule", {"forwardnodes": [], "train": False}), tmp_path / "graph.t7")
    line = one_line_error(run("convert", tmp_path / "graph.t7", tmp_path / "out.safetensors"))
    assert "nn.gModule" in line and "not supported yet" in line
    assert "not supported yet" in run("inspect", tmp_path / "graph.t7").output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.t7", "odd.t7"]


def test_commands_that_need_a_soundnet_say_so(tmp_path):
    clip = write_clip(tmp_path / "clip.wav", KINDS[0], 1.0, 0)
    line = one_line_error(run("predict", clip, "--model", require_zoo("lenet")))
    assert "not a SoundNet" in line and "holds a nn.Sequential network" in line
    with pytest.raises(ValueError, match="this needs a SoundNet"):
        soundnet.formats.loading.load_soundnet(require_zoo("lenet"))
    with pytest.raises(ValueError, match="cannot hold the module tree"):
        soundnet.save(soundnet.load(require_zoo("lenet")), tmp_path / "net.pth")
