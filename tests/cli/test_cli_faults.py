"""Every failure is one line that says what actually happened; nothing unexpected escapes as a traceback."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

import soundnet
from audio_fixtures import write_audio
from soundnet.cli import cli

REPO = Path(__file__).resolve().parent.parent.parent


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    return lines[0]


def soundnet_process(*args) -> subprocess.CompletedProcess:
    """The real command in a child process, so that what native libraries write to fd 2 is seen too."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "soundnet", *map(str, args)], env=env, capture_output=True, text=True, timeout=600
    )


def test_an_unexpected_exception_is_one_line_with_a_debug_hint(monkeypatch, tmp_path):
    from soundnet.formats import inspection

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(inspection, "describe", broken)
    line = one_line(invoke("inspect", "example"))
    assert line == "Error: unexpected KeyError: 'a bug' (rerun with --debug to see the traceback)"
    result = invoke("--debug", "inspect", "example")
    assert isinstance(result.exception, KeyError)  # --debug lets the traceback through


def test_full_disk_is_named_and_leaves_no_temporary(tmp_path, monkeypatch):
    from soundnet.formats import tensor_files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tensor_files, "save_file", full)
    line = one_line(invoke("convert", "example", tmp_path / "m.safetensors"))
    assert line == f"Error: {tmp_path / 'm.safetensors'}: no space left on device"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (needs mount rights: root in a container that allows it)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode:
        pytest.skip(
            f"cannot mount a small tmpfs here ({result.stderr.decode().strip()}); "
            "test_full_disk_is_named_and_leaves_no_temporary simulates it instead"
        )
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize("suffix", ["safetensors", "pth", "h5", "t7"])
def test_a_really_full_disk(tiny_disk, suffix):
    line = one_line(invoke("convert", "example", tiny_disk / f"m.{suffix}"))
    assert line == f"Error: {tiny_disk / f'm.{suffix}'}: no space left on device"
    assert list(tiny_disk.iterdir()) == []


def test_unreadable_files_say_permission_denied(tmp_path, monkeypatch):
    shutil.copy(soundnet.model.examples.EXAMPLE_MODEL, tmp_path / "model.t7")
    write_audio(tmp_path / "clip.wav", 10.0)
    locked = {str(tmp_path / "model.t7"), str(tmp_path / "clip.wav")}
    for path in locked:
        os.chmod(path, 0)
    if os.geteuid() == 0:  # root reads anything: make open() answer as it would for another user
        real_open = open

        def guarded_open(file, *args, **kwargs):
            if os.fspath(file) in locked:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", guarded_open)
    assert one_line(invoke("inspect", tmp_path / "model.t7")) == f"Error: {tmp_path / 'model.t7'}: permission denied"
    assert (
        one_line(invoke("predict", tmp_path / "clip.wav", "--model", "example"))
        == f"Error: cannot read audio file {tmp_path / 'clip.wav'}: permission denied"
    )


def test_fifos_and_devices_are_refused_where_a_file_is_read(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert "pipe is a FIFO (named pipe), not a regular file" in one_line(invoke("inspect", fifo))
    assert "is a FIFO" in one_line(invoke("predict", tmp_path / "x.wav", "--model", fifo))
    assert "is a FIFO" in one_line(invoke("extract", "--list", fifo, "--model", "example"))
    assert "is a FIFO" in one_line(invoke("finetune", "--list", fifo, "--classes", "2", "--model", "example"))
    assert "not a regular file" in one_line(invoke("predict", fifo, "--model", "example"))
    assert "is a folder, not a regular file" in one_line(invoke("predict", fifo, "--model", tmp_path))
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_non_mp3_named_mp3_and_decoder_chatter(tmp_path):
    (tmp_path / "fake.mp3").write_text("this is text, not MPEG audio\n" * 20)
    result = soundnet_process("predict", tmp_path / "fake.mp3", "--model", "example")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [  # libmpg123's Note: lines are not left unlabelled
        f"Error: cannot read audio file {tmp_path / 'fake.mp3'}: Format not recognised: not audio libsndfile can "
        f"decode (a wrong suffix or a damaged file)"
    ]
    sf.write(tmp_path / "clip.mp3", np.random.default_rng(0).uniform(-0.3, 0.3, 22050 * 12), 22050)
    data = bytearray((tmp_path / "clip.mp3").read_bytes())
    for index in range(4000, len(data), 997):
        data[index] ^= 0xFF
    (tmp_path / "clip.mp3").write_bytes(bytes(data))
    result = soundnet_process("predict", tmp_path / "clip.mp3", "--model", "example")
    chatter = result.stderr.strip().splitlines()  # the table is on stdout: stderr holds only decoder lines
    assert result.returncode == 0 and chatter, result.stderr
    assert all(line.startswith(f"{tmp_path / 'clip.mp3'}: ") for line in chatter), result.stderr


def test_out_under_a_file(tmp_path):
    write_audio(tmp_path / "clip.wav", 10.0)
    (tmp_path / "notes.txt").write_text("a file\n")
    line = one_line(
        invoke("extract", tmp_path / "clip.wav", "--model", "example", "--out", tmp_path / "notes.txt" / "f")
    )
    assert line == f"Error: {tmp_path / 'notes.txt'}: it is a file, not a folder"
    line = one_line(invoke("convert", "example", tmp_path / "notes.txt" / "m.safetensors"))
    assert line == f"Error: {tmp_path / 'notes.txt'}: it is a file, not a folder"


def test_malicious_and_odd_pth_files(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"conv1.weight": Payload()}, tmp_path / "evil.pth")
    line = one_line(invoke("inspect", tmp_path / "evil.pth"))
    assert "could run code" in line and "weights_only" not in line
    torch.save({3: torch.zeros(2)}, tmp_path / "intkey.pth")
    assert "key 3 is not a parameter name" in one_line(invoke("inspect", tmp_path / "intkey.pth"))


def test_predict_json_never_carries_nan(tmp_path):
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, 22050 * 10).astype(np.float32)
    wave[1000] = np.nan
    sf.write(tmp_path / "nan.wav", wave, 22050, subtype="FLOAT")
    result = CliRunner().invoke(cli, ["predict", str(tmp_path / "nan.wav"), "--model", "example", "--format", "json"])
    assert result.exit_code == 1 and "NaN" not in result.stdout
    assert "nan.wav: it holds a NaN or infinite value at sample 1000" in result.stderr


def test_evaluate_cache_refuses_an_hdf5_it_did_not_write(tmp_path):
    invoke("convert", "example", tmp_path / "m.h5")
    before = (tmp_path / "m.h5").read_bytes()
    for index in range(2):
        write_audio(tmp_path / f"c{index}.wav", 2.0, seed=index)
    (tmp_path / "list.txt").write_text("c0.wav 0\nc1.wav 1\n")
    clips = tmp_path / "list.txt"

    def evaluate_with(cache):
        """evaluate's one-line error with `cache` as the feature cache."""
        return one_line(
            invoke(
                "evaluate",
                "--model",
                "example",
                "--train",
                clips,
                "--test",
                clips,
                "--cache",
                cache,
                "--out",
                tmp_path / "e",
            )
        )

    assert "did not write as a feature cache" in evaluate_with(tmp_path / "m.h5")
    assert (tmp_path / "m.h5").read_bytes() == before
    soundnet.load(tmp_path / "m.h5")
    with h5py.File(tmp_path / "mine.h5", "w"):
        pass
    assert "did not write" in evaluate_with(tmp_path / "mine.h5")
