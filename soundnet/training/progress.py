"""Training progress: a tqdm bar (loss, clips/s, data vs compute time), a JSONL log, and a PNG of the loss and
the held-out accuracy titled with the run's model, data and settings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from ..optional import MissingDependency, require
from ..outputs import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Progress:
    """One JSONL record per step (appended, so a resumed run continues the same log) and a live bar."""

    def __init__(self, log_path: str | os.PathLike, total: int, start: int, show: bool = True):
        self.log = open(log_path, "a", encoding="utf-8")
        self.bar = tqdm(total=total, initial=start, unit="step", disable=not show, dynamic_ncols=True)

    def step(self, step: int, loss: float, clips: int, data_s: float, compute_s: float, missing: int) -> None:
        rate = clips / max(data_s + compute_s, 1e-9)
        self.record(
            {
                "step": step,
                "loss": loss,
                "clips_per_s": rate,
                "data_s": data_s,
                "compute_s": compute_s,
                "missing_clips": missing,
            }
        )
        self.bar.set_postfix(
            loss=f"{loss:.4f}", clips_s=f"{rate:.2f}", data=f"{data_s:.2f}s", compute=f"{compute_s:.2f}s", refresh=False
        )
        self.bar.update(1)

    def record(self, entry: dict, message: str | None = None) -> None:
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()
        if message:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()
        self.log.close()


def read_log(log_path: str | os.PathLike) -> tuple[dict[int, float], dict[int, float]]:
    """(step -> loss, step -> held-out accuracy) from a JSONL log; a step logged twice (a run resumed from an
    older checkpoint) keeps its last value."""
    losses: dict[int, float] = {}
    accuracies: dict[int, float] = {}
    with open(log_path, encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            if "step" in entry and "loss" in entry:
                losses[entry["step"]] = entry["loss"]
            if "step" in entry and "held_out_accuracy" in entry:
                accuracies[entry["step"]] = entry["held_out_accuracy"]
    return dict(sorted(losses.items())), dict(sorted(accuracies.items()))


def read_losses(log_path: str | os.PathLike) -> dict[int, float]:
    """step -> loss from a JSONL log."""
    return read_log(log_path)[0]


def curve_figure(log_path: str | os.PathLike, title: str = "", chance: float | None = None) -> Figure:
    """The loss per step and, when the log has it, the held-out accuracy per epoch (with the chance level)."""
    losses, accuracies = read_log(log_path)
    figure = require("matplotlib.figure", "the loss curve").Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.subplots()
    axes.plot(list(losses), list(losses.values()), linewidth=1, color="tab:blue", label="training loss")
    axes.set_xlabel("step")
    axes.set_ylabel("training loss (per batch)", color="tab:blue")
    axes.xaxis.set_major_locator(require("matplotlib.ticker", "the loss curve").MaxNLocator(integer=True))
    if accuracies:
        right = axes.twinx()
        right.plot(list(accuracies), list(accuracies.values()), "o-", color="tab:red", label="held-out accuracy")
        if chance is not None:
            right.axhline(chance, color="tab:red", linestyle=":", linewidth=1, label=f"chance ({chance:.2f})")
        right.set_ylim(-0.03, 1.03)
        right.set_ylabel("held-out accuracy (end of epoch)", color="tab:red")
        lines = axes.get_lines()[:1] + right.get_lines()
        figure.legend(lines, [line.get_label() for line in lines], loc="outside lower center", ncols=3, fontsize=8)
    axes.set_title(title or Path(log_path).parent.name, fontsize=9, loc="left")
    return figure


def plot_loss_curve(
    log_path: str | os.PathLike, png_path: str | os.PathLike, title: str = "", chance: float | None = None
) -> bool:
    """curve_figure as a PNG; without matplotlib (an extra) one warning line and no PNG."""
    try:
        figure = curve_figure(log_path, title, chance)
    except MissingDependency as error:
        tqdm.write(f"warning: {error}")
        return False
    save_figure(figure, png_path)
    return True
