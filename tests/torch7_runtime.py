"""Running the real CPU Torch7 (../shared/torch7-runtime) from tests, and skipping with the reason without it."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, shared_dir

MAKE_REFERENCE = REPO / "reference_outputs" / "make_reference.lua"
SCRIPTS = Path(__file__).resolve().parent / "torch7_scripts"


def runtime_dir() -> Path:
    """$SOUNDNET_TORCH7_RUNTIME, else torch7-runtime in the shared folder."""
    env = os.environ.get("SOUNDNET_TORCH7_RUNTIME")
    return Path(env) if env else shared_dir() / "torch7-runtime"


def require_runtime() -> Path:
    """The runtime's env.sh; skips the calling test, saying why, when the runtime cannot run here."""
    env_sh = runtime_dir() / "env.sh"
    if not env_sh.is_file():
        pytest.skip(f"Torch7 runtime not found at {runtime_dir()} (set SOUNDNET_TORCH7_RUNTIME)")
    if shutil.which("luajit") is None:
        pytest.skip("luajit is not installed: run the runtime's setup.sh (Debian's luajit, OpenBLAS)")
    return env_sh


def run_lua(script: Path, *args: object, timeout: int = 600) -> str:
    """Run a Lua script with the runtime in its own shell (its libraries never enter this Python process)."""
    env_sh = require_runtime()
    done = subprocess.run(["bash", "-c", 'source "$0"; exec luajit "$@"', str(env_sh), str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise AssertionError(f"Torch7 failed on {script.name}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def make_reference(model: Path, input_file: Path, out: Path) -> Path:
    """make_reference.lua in generic mode: Torch7's per-module and final outputs of `model` on the input."""
    run_lua(MAKE_REFERENCE, "-model", model, "-input", input_file, "-out", out)
    return out
