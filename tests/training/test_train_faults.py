"""Training never destroys a previous run or a good checkpoint, and stops at the first non-finite number."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from soundnet.cli import cli
from soundnet.training.checkpoint import load_checkpoint
from soundnet.training.loop import LoopSettings
from soundnet.training.teacher_data import read_teacher_hdf5, write_teacher_hdf5
from soundnet.training.train import build_student, train

WIDTHS = (2, 2, 4, 4, 8, 8, 8)
RATE = 22050


def _distribution(rows: int, classes: int, seed: int) -> np.ndarray:
    weights = np.random.default_rng(seed).random((rows, classes)) + 0.1
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def teacher_set(folder, nan_clip: bool = False):
    """Two 20 s clips with teacher rows; with nan_clip the second is a float WAV holding one NaN sample."""
    entries = {}
    for index in range(2):
        wave = np.random.default_rng(index).uniform(-0.5, 0.5, 20 * RATE).astype(np.float32)
        if nan_clip and index == 1:
            wave[12345] = np.nan
        sf.write(folder / f"clip{index}.wav", wave, RATE, subtype="FLOAT")
        entries[f"clip{index}"] = (_distribution(4, 1000, index), _distribution(4, 401, index), f"clip{index}.wav")
    write_teacher_hdf5(folder / "teacher.h5", entries)
    return read_teacher_hdf5(folder / "teacher.h5")


def student():
    return build_student(None, "soundnet8", WIDTHS, seed=3)


def settings(out, **changes) -> LoopSettings:
    return LoopSettings(out_dir=out, **{"batch_size": 2, "steps": 2, "seed": 3, "show_progress": False, **changes})


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teacher")
    teacher_set(folder)
    return folder


@pytest.fixture(scope="module")
def clips(teacher_dir):
    return read_teacher_hdf5(teacher_dir / "teacher.h5")


def test_a_second_run_into_the_same_folder_is_refused_and_the_first_kept(clips, tmp_path):
    train(student(), clips, settings(tmp_path / "run"))
    before = {
        name: (tmp_path / "run" / name).read_bytes() for name in ("checkpoint.pt", "model.safetensors", "log.jsonl")
    }
    with pytest.raises(ValueError, match="already holds a training run"):
        train(student(), clips, settings(tmp_path / "run", seed=1))
    assert before == {name: (tmp_path / "run" / name).read_bytes() for name in before}
    # resuming the folder's own checkpoint is how to continue it
    resumed = train(student(), clips, settings(tmp_path / "run", steps=3, resume=tmp_path / "run" / "checkpoint.pt"))
    assert resumed.step == 3


def test_cli_names_resume_and_out(teacher_dir, tmp_path):
    args = [
        "train",
        "--hdf5",
        str(teacher_dir / "teacher.h5"),
        "--scratch",
        "soundnet8",
        "--widths",
        ",".join(map(str, WIDTHS)),
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--quiet",
        "--out",
        str(tmp_path / "run"),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "already holds a training run" in result.output and "--resume" in result.output
    assert "--out" in result.output and len(result.output.strip().splitlines()) == 1


def test_nan_audio_stops_the_run_naming_file_and_step_and_keeps_the_checkpoint(tmp_path):
    good = teacher_set(tmp_path)
    train(student(), good, settings(tmp_path / "run"))
    checkpoint = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    bad = teacher_set(tmp_path, nan_clip=True)
    with pytest.raises(ValueError, match=r"step \d+: .*clip1\.wav.*NaN") as error:
        train(student(), bad, settings(tmp_path / "run", steps=6, resume=tmp_path / "run" / "checkpoint.pt"))
    assert "\n" not in str(error.value)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == checkpoint


def test_non_finite_loss_stops_before_any_write(clips, tmp_path, monkeypatch):
    from soundnet.training import train as train_module

    monkeypatch.setattr(train_module.TeacherTask, "loss", lambda self, net, batch, device: torch.tensor(float("nan")))
    with pytest.raises(ValueError, match="step 1: the loss is nan"):
        train(student(), clips, settings(tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_non_finite_parameters_never_replace_a_checkpoint(clips, tmp_path, monkeypatch):
    from soundnet.training import checkpoint, loop

    train(student(), clips, settings(tmp_path / "run", steps=1))
    good = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    real_save = checkpoint.save_checkpoint

    def poisoned(path, model, *args):
        with torch.no_grad():
            model.conv1.weight[0, 0, 0] = float("inf")
        return real_save(path, model, *args)

    monkeypatch.setattr(loop, "save_checkpoint", poisoned)
    with pytest.raises(ValueError, match="NaN or infinite.*not overwritten"):
        train(student(), clips, settings(tmp_path / "run", steps=2, resume=tmp_path / "run" / "checkpoint.pt"))
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == good


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lr": float("nan")}, "learning rate"),
        ({"lr": float("inf")}, "learning rate"),
        ({"beta1": float("nan")}, "beta1"),
        ({"batch_size": 10**9}, "memory this process may use"),
        ({"device": "cuda"} if not torch.cuda.is_available() else {"device": "tpu"}, "cannot be used|not supported"),
    ],
)
def test_settings_that_cannot_train_are_refused(clips, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        train(student(), clips, settings(tmp_path / "run", **change))
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_flipped_byte_in_a_checkpoint_is_refused_on_resume(clips, tmp_path):
    train(student(), clips, settings(tmp_path / "run", steps=1))
    path = tmp_path / "run" / "checkpoint.pt"
    with zipfile.ZipFile(path) as archive:  # the bytes of one stored tensor (uncompressed in torch's zip)
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.file_size // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="damaged"):
        train(student(), clips, settings(tmp_path / "run", steps=2, resume=path))


def test_a_run_killed_after_its_last_step_gets_its_loss_curve_on_resume(clips, tmp_path):
    train(student(), clips, settings(tmp_path / "run"))
    for name in ("loss.png", "model.safetensors"):  # as when killed right after the last checkpoint
        (tmp_path / "run" / name).unlink()
    train(student(), clips, settings(tmp_path / "run", resume=tmp_path / "run" / "checkpoint.pt"))
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_finetune_batch_size_zero_and_cuda_on_a_cpu_build_are_one_line(tmp_path):
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * RATE).astype(np.float32)
    for index in range(4):
        sf.write(tmp_path / f"c{index}.wav", wave, RATE)
    (tmp_path / "list.txt").write_text("".join(f"c{index}.wav {index % 2}\n" for index in range(4)))
    base = [
        "finetune",
        "--list",
        str(tmp_path / "list.txt"),
        "--classes",
        "2",
        "--model",
        "example",
        "--epochs",
        "1",
        "--workers",
        "0",
        "--quiet",
        "--held-out",
        "0",
    ]
    result = CliRunner().invoke(cli, [*base, "--batch-size", "0", "--out", str(tmp_path / "a")])
    assert result.exit_code == 1 and "batch size must be at least 1" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    if not torch.cuda.is_available():
        result = CliRunner().invoke(cli, [*base, "--device", "cuda", "--out", str(tmp_path / "b")])
        assert result.exit_code == 1 and "cannot be used" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
