"""The training plot: loss per step, held-out accuracy per epoch against chance, titled with the run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from soundnet.model.network import SoundNet8
from soundnet.training.loop import LoopSettings, run_title
from soundnet.training.progress import curve_figure, plot_loss_curve


def write_log(path: Path, entries: list[dict]) -> Path:
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return path


def test_curve_shows_loss_and_held_out_accuracy(tmp_path):
    log = write_log(
        tmp_path / "log.jsonl",
        [
            {"step": 1, "loss": 0.9},
            {"step": 2, "loss": 0.7},
            {"epoch": 1, "step": 2, "held_out_accuracy": 0.5},
            {"step": 3, "loss": 0.8},
            {"step": 3, "loss": 0.6},  # step 3 logged twice (a resumed run): the last counts
            {"step": 4, "loss": 0.4},
            {"epoch": 2, "step": 4, "held_out_accuracy": 1.0},
        ],
    )
    figure = curve_figure(log, "finetune: a title", chance=0.5)
    loss_axes, accuracy_axes = figure.axes
    (loss,) = loss_axes.get_lines()
    assert list(loss.get_xdata()) == [1, 2, 3, 4] and list(loss.get_ydata()) == [0.9, 0.7, 0.6, 0.4]
    accuracy, chance = accuracy_axes.get_lines()
    assert list(accuracy.get_xdata()) == [2, 4] and list(accuracy.get_ydata()) == [0.5, 1.0]
    assert list(chance.get_ydata()) == [0.5, 0.5]
    assert accuracy_axes.get_ylabel().startswith("held-out accuracy")
    assert loss_axes.get_title(loc="left") == "finetune: a title"
    plot_loss_curve(log, tmp_path / "loss.png", "t")
    assert (tmp_path / "loss.png").stat().st_size > 0


def test_curve_without_accuracy_has_one_axis(tmp_path):
    log = write_log(tmp_path / "log.jsonl", [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.7}])
    assert len(curve_figure(log).axes) == 1


def test_title_names_model_data_and_settings(tmp_path):
    model = SoundNet8(widths=(2, 2, 4, 4, 8, 8, 8))
    task = SimpleNamespace(settings=lambda: {"task": "finetune", "classes": 2, "freeze": 18}, dataset=[0] * 12)
    settings = LoopSettings(
        out_dir=tmp_path, batch_size=4, steps=9, steps_per_epoch=3, lr=0.01, source="example on labels.txt"
    )
    title = run_title(model, task, settings)
    for needle in (
        "finetune",
        "soundnet8",
        "widths 2,2,4,4,8,8,8",
        "example on labels.txt",
        "12 training clips",
        "batch 4",
        "adam lr 0.01",
        "seed 0",
        "9 steps, 3 epochs of 3 steps",
        "classes 2",
        "freeze 18",
    ):
        assert needle in title, needle
