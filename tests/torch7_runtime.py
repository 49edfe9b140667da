"""Running Lua scripts under the real CPU Torch7 in ../shared/torch7-runtime (skipping when it is absent).

env.sh is sourced only in the bash that runs luajit: its libtorch.so would shadow PyTorch's in this process.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import shared_dir


def runtime_env() -> Path:
    return shared_dir() / "torch7-runtime" / "env.sh"


def require_runtime() -> Path:
    """env.sh of a working runtime, or skip the test saying why."""
    env = runtime_env()
    if not env.is_file():
        pytest.skip(f"no Torch7 runtime at {env.parent} (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    probe = subprocess.run(["bash", "-c", f"source '{env}' && luajit -e \"require 'torch'; require 'nn'\""],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"the Torch7 runtime at {env.parent} does not start (run its setup.sh): {probe.stderr.strip()}")
    return env


def run_lua(script: Path, *args: str, cwd: Path | None = None) -> str:
    """stdout of `luajit script args...` under the runtime; a failure fails the test with Lua's message."""
    env = require_runtime()
    quoted = " ".join(f"'{a}'" for a in (str(script), *args))
    result = subprocess.run(["bash", "-c", f"source '{env}' && OPENBLAS_NUM_THREADS=1 luajit {quoted}"],
                            capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout
