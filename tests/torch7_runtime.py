"""Running the real CPU Torch7 from tests (the `torch7_runtime` fixture of conftest gives its env.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ground_truth import REPO

MAKE_REFERENCE = REPO / "reference_outputs" / "make_reference.lua"
SCRIPTS = Path(__file__).resolve().parent / "torch7_scripts"


def run_lua(env_sh: Path, script: Path, *args: object, timeout: int = 600) -> str:
    """Run a Lua script with the runtime in its own shell (its libraries never enter this Python process)."""
    done = subprocess.run(
        ["bash", "-c", 'source "$0"; exec luajit "$@"', str(env_sh), str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise AssertionError(f"Torch7 failed on {script.name}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def make_reference(env_sh: Path, model: Path, input_file: Path, out: Path) -> Path:
    """make_reference.lua in generic mode: Torch7's per-module and final outputs of `model` on the input."""
    run_lua(env_sh, MAKE_REFERENCE, "-model", model, "-input", input_file, "-out", out)
    return out
