"""Killing `soundnet extract` (SIGKILL or SIGTERM) leaves no decode worker alive, and a rerun finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audio_fixtures import write_audio

REPO = Path(__file__).resolve().parent.parent.parent
PATIENCE_S = 60  # how long to poll for a process to appear or go; a bound on waiting, never a timing assert


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the worker processes")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_extract_leaves_no_worker(tmp_path, sig):
    clips = [write_audio(tmp_path / f"clip{i}.wav", 30.0, seed=i) for i in range(40)]
    (tmp_path / "big.txt").write_text("".join(f"{clip}\n" for clip in clips))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def extract(workers: int) -> list[str]:
        """The same extraction command line, killed with 2 workers and rerun without."""
        listing, output = str(tmp_path / "big.txt"), str(tmp_path / "o.h5")
        command = ["extract", "--list", listing, "--model", "example", "--h5", output, "--workers", str(workers)]
        return [sys.executable, "-m", "soundnet", *command]

    job = subprocess.Popen(
        extract(2),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        wait_for(lambda: len(children(job.pid)) >= 2 or job.poll() is not None, "no decode workers started")
        workers = children(job.pid)
        assert job.poll() is None and workers, "the job ended before it could be killed"
        job.send_signal(sig)
        job.wait(timeout=PATIENCE_S)
        wait_for(lambda: not any(alive(pid) for pid in workers), f"workers {workers} outlived the killed job")
    finally:
        if job.poll() is None:
            job.kill()
        for pid in workers:  # leave nothing behind even when the test fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert not (tmp_path / "o.h5").exists()  # never half-written
    rerun = subprocess.run(
        extract(0),
        env=env,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0 and "40 written" in rerun.stdout, rerun.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the killed run's temporaries
