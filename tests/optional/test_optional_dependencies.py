"""Without scikit-learn and matplotlib (extras) the core imports and runs; what needs one says so in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ground_truth import REPO
from soundnet.training.progress import plot_loss_curve

WITHOUT_EXTRAS = "import sys; sys.modules.update(sklearn=None, matplotlib=None)\n"  # None: `import` raises


def run_without_extras(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS + code], capture_output=True, text=True, cwd=REPO, timeout=300
    )


def test_only_the_unit_page_needs_an_extra_to_import():
    walk = """
import importlib, json, pkgutil
import soundnet
failed = {}
for info in pkgutil.walk_packages(soundnet.__path__, "soundnet."):
    if not info.name.endswith("__main__"):
        try:
            importlib.import_module(info.name)
        except ImportError as error:
            failed[info.name] = str(error)
print(json.dumps(failed))
"""
    result = run_without_extras(walk)
    assert result.returncode == 0, result.stderr
    plots = 'the unit page needs matplotlib, which is not installed: pip install "soundnet-t7[plots]"'
    assert json.loads(result.stdout) == {
        f"soundnet.evaluation.{name}": plots for name in ("spectrogram", "unit_page", "unit_segments")
    }


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["evaluate", "--model", "example", "--train", "{tmp}/a.txt", "--test", "{tmp}/b.txt", "--out", "{tmp}/o"],
            'Error: evaluation needs scikit-learn, which is not installed: pip install "soundnet-t7[eval]"',
        ),
        (
            ["visualize", "filters", "--model", "example", "--out", "{tmp}/conv1.png"],
            'Error: the filter plot needs matplotlib, which is not installed: pip install "soundnet-t7[plots]"',
        ),
    ],
)
def test_commands_that_need_an_extra_name_it_in_one_line(arguments, message, tmp_path):
    (tmp_path / "a.txt").write_text("x.wav 0\ny.wav 1\n")
    (tmp_path / "b.txt").write_text("z.wav 0\n")
    for name in ("x.wav", "y.wav", "z.wav"):
        (tmp_path / name).touch()  # listed clips exist; the missing package is reported before any is read
    arguments = [a.format(tmp=tmp_path) for a in arguments]
    command = f"sys.argv = ['soundnet', *{arguments!r}]\nfrom soundnet.cli import main\nmain()"
    result = run_without_extras(command)
    assert result.returncode == 1 and result.stderr.strip() == message, result.stderr


def test_training_without_matplotlib_warns_and_skips_only_the_curve(tmp_path, monkeypatch, capsys):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n')
    assert plot_loss_curve(log, tmp_path / "with.png") and (tmp_path / "with.png").stat().st_size > 0
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert not plot_loss_curve(log, tmp_path / "without.png")
    assert not (tmp_path / "without.png").exists()
    assert capsys.readouterr().out.strip() == (
        'warning: the loss curve needs matplotlib, which is not installed: pip install "soundnet-t7[plots]"'
    )


def test_a_missing_dependency_of_an_installed_extra_is_not_blamed_on_the_extra():
    code = """
import sys
sys.modules["scipy"] = None
from soundnet.optional import require
try:
    require("sklearn.svm", "evaluation")
except ModuleNotFoundError as error:
    print(type(error).__name__, error.name)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.stdout.split()[0] == "ModuleNotFoundError" and result.stdout.split()[1].startswith("scipy")
