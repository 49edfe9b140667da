"""The layout reference_outputs/make_reference.lua writes is the one `soundnet verify` reads.

No Torch7 runs here, so the file is built the way the script builds it (every module output up to the
heads, `_n` on sequences, `final` for 4 time steps, pred10) from the independent NumPy forward pass.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import convert
import soundnet
from soundnet.cli import cli
from soundnet.model.examples import EXAMPLE_MODEL, synthetic_sound
from soundnet.model.heads import softmax_heads, torch7_cpu_outputs
from soundnet.parity.numpy_reference import numpy_forward

SCRIPT = Path(__file__).resolve().parent.parent.parent / "reference_outputs" / "make_reference.lua"


def lua_sequence(items: list) -> dict:
    return {**{i: item for i, item in enumerate(items, 1)}, "_n": len(items)}


def script_layout(modules: list, wave: np.ndarray) -> dict:
    outputs = numpy_forward(modules, wave, set(range(1, 26)))
    clip = {index: lua_sequence(value) if isinstance(value, list) else value for index, value in outputs.items()}
    heads = tuple(torch.from_numpy(np.asarray(h, np.float32)[..., 0]) for h in outputs[25])
    clip["final"] = lua_sequence([t.numpy() for t in torch7_cpu_outputs(heads)])
    x = wave.astype(np.float32).reshape(1, 1, -1, 1)
    return {
        "inputs": {"clip": x, "pred10": x},
        "outputs": {"clip": clip, "pred10": lua_sequence([p.numpy()[..., None] for p in softmax_heads(heads)])},
        "meta": {"model": str(EXAMPLE_MODEL), "mode": "net:evaluate()", "head_index": 25},
    }


@pytest.mark.slow
def test_verify_reads_the_script_layout(tmp_path):
    modules = convert.read_t7(EXAMPLE_MODEL)["modules"]
    convert.write_t7(script_layout(modules, synthetic_sound(20.0, seed=7).numpy()), tmp_path / "refs.t7")
    result = CliRunner().invoke(cli, ["verify", "--model", "example", "--reference", str(tmp_path / "refs.t7")])
    assert result.exit_code == 0, result.output
    assert "36 of 36 arrays within tolerance" in result.output  # 24 body modules, 2 heads, 8 final, 2 pred10
    model = soundnet.load(EXAMPLE_MODEL)
    model.conv4.bias.data += 0.5
    soundnet.save(model, tmp_path / "off.safetensors")
    result = CliRunner().invoke(
        cli, ["verify", "--model", str(tmp_path / "off.safetensors"), "--reference", str(tmp_path / "refs.t7")]
    )
    assert result.exit_code == 1 and "12 (conv4)" in result.output


def test_make_reference_lua_parses(luajit, tmp_path):
    subprocess.run([luajit, "-b", str(SCRIPT), str(tmp_path / "bytecode")], check=True)
