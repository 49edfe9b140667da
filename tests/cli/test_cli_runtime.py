"""--device and --dtype on predict, extract and evaluate: defined once, refused in one line, honoured."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from audio_fixtures import write_audio
from generated_sounds import write_esc50
from soundnet.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_audio(tmp_path_factory.mktemp("runtime") / "clip.wav", 3.0)


@pytest.fixture(scope="module")
def esc50(tmp_path_factory):
    folder = tmp_path_factory.mktemp("esc50")
    write_esc50(folder, per_fold=1, folds=2)
    return folder


def command_lines(clip, esc50, out):
    return {
        "predict": ["predict", clip, "--model", "example"],
        "extract": ["extract", clip, "--model", "example", "--out", out],
        "evaluate": ["evaluate", esc50, "--model", "example", "--out", out],
    }


@pytest.mark.parametrize("command", ["predict", "extract", "evaluate"])
@pytest.mark.parametrize(
    "option, message",
    [
        (["--device", "cuda:99"], "device 'cuda:99' is not available"),  # no machine has 100 GPUs
        (["--device", "tpu"], "unknown device 'tpu'; use cpu, cuda or cuda:N"),
        (["--dtype", "int8"], "unsupported dtype 'int8'; use float32, float64, float16, bfloat16"),
    ],
)
def test_unusable_device_or_dtype_is_one_line(command, option, message, clip, esc50, tmp_path):
    result = run(*command_lines(clip, esc50, tmp_path / "out")[command], *option)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), result.output
    assert not (tmp_path / "out").exists()


def top_probabilities(record: dict) -> list[float]:
    return [entry["probability"] for step in record["steps"] for head in ("objects", "scenes") for entry in step[head]]


def test_predict_in_float64_and_bfloat16(clip):
    records = {}
    for dtype in ("float32", "float64", "bfloat16"):
        result = run("predict", clip, "--model", "example", "--dtype", dtype, "--device", "cpu", "--format", "json")
        assert result.exit_code == 0, result.output
        records[dtype] = json.loads(result.stdout)[0]
    # float32 against float64 softmax outputs: float32 rounding (~1e-7) through 8 layers stays below 1e-5
    assert top_probabilities(records["float64"]) == pytest.approx(top_probabilities(records["float32"]), rel=1e-4)
    assert len(records["bfloat16"]["steps"]) == len(records["float32"]["steps"]) == 1
    assert all(0 < p < 1 for p in top_probabilities(records["bfloat16"]))


def test_extract_in_float64_writes_float32_files_close_to_float32(clip, tmp_path):
    features = {}
    for dtype in ("float32", "float64"):
        result = run("extract", clip, "--model", "example", "--dtype", dtype, "--out", tmp_path / dtype)
        assert result.exit_code == 0, result.output
        with h5py.File(next((tmp_path / dtype).rglob("clip.wav.soundnet.h5"))) as handle:
            features[dtype] = handle["layer24"][()]
    assert features["float64"].dtype == np.float32
    np.testing.assert_allclose(features["float64"], features["float32"], rtol=1e-4, atol=1e-5)  # float32 rounding


def test_evaluate_in_float64_records_it_and_keeps_its_own_cache(esc50, tmp_path):
    cache = tmp_path / "features.h5"
    for dtype in ("float32", "float64"):
        result = run(
            "evaluate", esc50, "--model", "example", "--out", tmp_path / dtype, "--cache", cache, "--dtype", dtype
        )
        assert result.exit_code == 0, result.output
        results = json.loads((tmp_path / dtype / "evaluation.json").read_text())
        assert results["dtype"] == dtype and results["features"]["computed"] == 8  # not reused across dtypes
