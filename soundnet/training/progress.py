"""Training progress: a tqdm bar (loss, clips/s, data vs compute time), a JSONL log, a loss-curve PNG."""
from __future__ import annotations

import json
import os
from pathlib import Path

from tqdm import tqdm

from ..outputs import save_figure


class Progress:
    """One JSONL record per step (appended, so a resumed run continues the same log) and a live bar."""

    def __init__(self, log_path: str | os.PathLike, total: int, start: int, show: bool = True):
        self.log = open(log_path, "a", encoding="utf-8")
        self.bar = tqdm(total=total, initial=start, unit="step", disable=not show, dynamic_ncols=True)

    def step(self, step: int, loss: float, clips: int, data_s: float, compute_s: float, missing: int) -> None:
        rate = clips / max(data_s + compute_s, 1e-9)
        self.record({"step": step, "loss": loss, "clips_per_s": rate, "data_s": data_s, "compute_s": compute_s,
                     "missing_clips": missing})
        self.bar.set_postfix(loss=f"{loss:.4f}", clips_s=f"{rate:.2f}", data=f"{data_s:.2f}s",
                             compute=f"{compute_s:.2f}s", refresh=False)
        self.bar.update(1)

    def record(self, entry: dict, message: str | None = None) -> None:
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()
        if message:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()
        self.log.close()


def read_losses(log_path: str | os.PathLike) -> dict[int, float]:
    """step -> loss from a JSONL log; a step logged twice (a run resumed from an older checkpoint) keeps its last."""
    losses: dict[int, float] = {}
    with open(log_path, encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            if "loss" in entry and "step" in entry:
                losses[entry["step"]] = entry["loss"]
    return dict(sorted(losses.items()))


def plot_loss_curve(log_path: str | os.PathLike, png_path: str | os.PathLike) -> None:
    """The loss per step of a JSONL log, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = read_losses(log_path)
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(list(losses), list(losses.values()), linewidth=1)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(Path(log_path).parent.name)
    figure.tight_layout()
    save_figure(figure, png_path)
    plt.close(figure)
