"""Small crafted inputs that declare huge sizes end in one line within a 3 GB address space.

Each command runs in a subprocess under RLIMIT_AS = 3 GiB: before the fixes these either died of a
MemoryError traceback or allocated terabytes (a zero-stride .t7 tensor, a 1 Hz WAV, a gzip HDF5 dataset
of 2^22 x 1000, a 10^9-unit range).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

import convert
from soundnet.model.examples import EXAMPLE_MODEL

REPO = Path(__file__).resolve().parent.parent.parent
CAP = 3 << 30


def capped(*args: str) -> subprocess.CompletedProcess:
    """`soundnet args...` in a child whose address space is capped at 3 GiB."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "soundnet", *map(str, args)],
        preexec_fn=limit,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-2000:]
    return lines[0]


def test_zero_stride_t7_tensor_declaring_64_tib(tmp_path):
    tree = convert.read_t7(EXAMPLE_MODEL)
    conv1 = tree["modules"][0]
    weight = conv1["weight"]
    huge = [1 << 20, 1 << 20, 8, 2]  # 2^44 float elements: 64 TiB, all on one stored value
    conv1.fields["weight"] = convert.make_tensor(weight.storage, weight.storage_offset, huge, [0, 0, 0, 0])
    convert.write_t7(tree, tmp_path / "huge.t7")
    assert (tmp_path / "huge.t7").stat().st_size < 10 << 20
    line = one_line_error(capped("predict", tmp_path / "huge.t7", "--model", tmp_path / "huge.t7"))
    assert "module 1 (conv1) weight declares 17592186044416 elements" in line
    line = one_line_error(capped("convert", tmp_path / "huge.t7", tmp_path / "out.safetensors"))
    assert "zero or overlapping strides" in line


def test_wav_declaring_1_hz(tmp_path):
    sf.write(tmp_path / "slow.wav", np.zeros(200_000, np.int16), 1, subtype="PCM_16")  # 200 kS at 1 Hz
    line = one_line_error(capped("predict", tmp_path / "slow.wav", "--model", "example"))
    assert "sample rate of 1 Hz" in line and "slow.wav" in line


def test_gzip_hdf5_teacher_dataset_declaring_2_22_rows(tmp_path):
    with h5py.File(tmp_path / "teacher.h5", "w") as handle:
        group = handle.create_group("clip")
        for name, width in (("objects", 1000), ("scenes", 401)):
            group.create_dataset(name, shape=(1 << 22, width), dtype="f4", compression="gzip", chunks=(1024, width))
    assert (tmp_path / "teacher.h5").stat().st_size < 10 << 20
    line = one_line_error(
        capped(
            "train", "--hdf5", tmp_path / "teacher.h5", "--scratch", "soundnet5", "--out", tmp_path / "run", "--quiet"
        )
    )
    assert "(4194304, 1000)" in line and "1 <= T <= 4" in line


def test_gzip_hdf5_weights_declaring_16_gib(tmp_path):
    with h5py.File(tmp_path / "weights.h5", "w") as handle:
        handle.create_dataset(
            "conv1.weight", shape=(1 << 22, 1000), dtype="f4", compression="gzip", chunks=(1024, 1000)
        )
    line = one_line_error(capped("inspect", tmp_path / "weights.h5"))
    assert "declare 15.6 GiB" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [
                "visualize",
                "units",
                "--model",
                "example",
                "--list",
                "{list}",
                "--units",
                "0-1000000000",
                "--out",
                "{tmp}/u",
            ],
            "units must lie in 0..3",
        ),
        (
            [
                "evaluate",
                "--model",
                "example",
                "--train",
                "{list}",
                "--test",
                "{list}",
                "--layer",
                "1",
                "--out",
                "{tmp}/e",
            ],
            "layer 1 (conv1) with a 1 s window",
        ),
        (["extract", "--list", "/dev/zero", "--model", "example"], "/dev/zero is a device, not a regular file"),
        (
            ["train", "--hdf5", "{wav}", "--scratch", "soundnet5", "--batch-size", "1000000000", "--out", "{tmp}/t"],
            "more than the",
        ),
    ],
)
def test_huge_numbers_in_options(tmp_path, args, message):
    sf.write(tmp_path / "a.wav", np.zeros(22050 * 2, np.float32), 22050)
    (tmp_path / "list.txt").write_text("a.wav 0\na.wav 1\n")
    teacher = tmp_path / "teacher.h5"
    with h5py.File(teacher, "w") as handle:
        group = handle.create_group("a")
        group.create_dataset("objects", data=np.full((1, 1000), 1e-3, np.float32))
        group.create_dataset("scenes", data=np.full((1, 401), 1 / 401, np.float32))
        group.attrs["audio"] = "a.wav"
    values = {"list": tmp_path / "list.txt", "tmp": tmp_path, "wav": teacher}
    line = one_line_error(capped(*[arg.format(**values) for arg in args]))
    assert message in line, line
