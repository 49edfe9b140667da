"""Outputs get the permissions the umask gives new files, and killed writers' temporaries are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from audio_fixtures import write_audio
from soundnet.atomic import atomic_path, remove_stale_temporaries
from soundnet.cli import cli

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_every_output_honours_the_umask(tmp_path, umask):
    runner = CliRunner()
    write_audio(tmp_path / "clip.wav", 10.0)
    outputs = [tmp_path / f"m.{suffix}" for suffix in ("safetensors", "pth", "h5", "t7")]
    for path in outputs:
        assert runner.invoke(cli, ["convert", "example", str(path)]).exit_code == 0
    commands = [
        ["predict", str(tmp_path / "clip.wav"), "--model", "example", "--write-h5"],
        ["extract", str(tmp_path / "clip.wav"), "--model", "example", "--h5", str(tmp_path / "f.h5")],
        ["extract", str(tmp_path / "clip.wav"), "--model", "example", "--out", str(tmp_path / "features")],
        ["visualize", "filters", "--model", "example", "--out", str(tmp_path / "conv1.png")],
    ]
    for command in commands:
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
    outputs += [
        tmp_path / "f.h5",
        tmp_path / "conv1.png",
        *tmp_path.glob("clip.wav.*.h5"),
        *(tmp_path / "features").rglob("*.h5"),
    ]
    assert len(outputs) == 8
    for path in outputs:
        assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask), path


def test_training_outputs_honour_the_umask(tmp_path, umask):
    write_audio(tmp_path / "a.wav", 3.0)
    write_audio(tmp_path / "b.wav", 3.0, seed=1)
    (tmp_path / "list.txt").write_text("a.wav 0\nb.wav 1\n")
    result = CliRunner().invoke(
        cli,
        [
            "finetune",
            "--list",
            str(tmp_path / "list.txt"),
            "--classes",
            "2",
            "--model",
            "example",
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--held-out",
            "0",
            "--workers",
            "0",
            "--quiet",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("checkpoint.pt", "model.safetensors", "log.jsonl", "loss.png"):
        assert oct((tmp_path / "run" / name).stat().st_mode & 0o777) == oct(0o666 & ~umask), name


def _killed_writer(folder: Path, sig: int) -> Path:
    """A child that starts an atomic write into `folder` and is killed inside it; the temporary it left."""
    code = (
        f"import sys, time; from soundnet.atomic import atomic_path\n"
        f"with atomic_path({str(folder / 'out.h5')!r}) as tmp:\n"
        f"    tmp.write_bytes(b'half'); print(tmp, flush=True); time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    temporary = Path(child.stdout.readline().strip())
    child.send_signal(sig)
    child.wait(timeout=60)
    return temporary


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_next_write_in_a_folder_removes_killed_writers_temporaries(tmp_path, sig):
    temporary = _killed_writer(tmp_path, sig)
    assert temporary.exists() and not (tmp_path / "out.h5").exists()
    with atomic_path(tmp_path / "other.json") as tmp:  # a later run writing anything into that folder
        assert not temporary.exists()
        assert remove_stale_temporaries(tmp_path) == [] and tmp.exists()  # a live writer's temporary stays
        tmp.write_text("{}")
    assert (tmp_path / "other.json").exists()
