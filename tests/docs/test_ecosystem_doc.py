"""docs/ecosystem.md runs as written: its sh and python blocks, in order, in a scratch folder.

The folder links the package and hubconf.py from this checkout, so `torch.hub.load(".")`, the
`PYTHONPATH=...:.` of the validator example and the `soundnet` command all use this tree's code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
DOC = REPO / "docs" / "ecosystem.md"
BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.S)


def as_script(text: str) -> str:
    lines = ["set -euo pipefail"]
    for kind, body in BLOCK.findall(text):
        lines.append(body if kind == "sh" else f"{sys.executable} - <<'PYTHON'\n{body}PYTHON")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_every_example_runs(tmp_path):
    for name in ("soundnet", "convert", "hubconf.py"):
        (tmp_path / name).symlink_to(REPO / name)
    if not shutil.which("soundnet"):
        pytest.skip("the soundnet command is not installed (pip install -e .)")
    for module in ("onnxruntime", "onnxscript"):
        pytest.importorskip(module, reason="the onnx extra is not installed")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        ["bash", "-c", as_script(DOC.read_text())], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout
    assert "torch.float64 torch.float64 (1, 1000, 1)" in output  # the dtypes example
    assert "Looks good!" in output  # hearvalidator
    assert "(3, 5, 32) [103.7" in output  # HEAR: 2 s -> 5 pool5 steps, the first at 103.7 ms
    assert "soundnet8 (1, 1000, 1)" in output  # torch.hub
    assert "441000 (2, 1000, 4) (2, 401, 4)" in output  # onnxruntime at another length
    assert "True\n" in output and "torch.Size([1, 32, 3])" in output  # TorchScript
    assert "Error: device 'cuda:7' is not available" in result.stderr
