"""Checks that keep a training run from destroying data or reporting garbage.

A run refuses an output folder that already holds another run, settings that cannot train (a non-finite
learning rate, a batch larger than memory, a GPU this PyTorch cannot use) and stops at the first
non-finite loss, naming the step, before anything is written.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..memory import check_fits
from ..model.architecture import SAMPLE_RATE

LONGEST_CLIP_SECONDS = 20  # the longest waveform a training item holds (student-teacher: 4 x 5 s)


class ExistingRunError(ValueError):
    """The output folder holds a previous run that this one would overwrite."""

    def __init__(self, out_dir: Path, found: Path):
        super().__init__(
            f"{out_dir} already holds a training run ({found.name}); resume it from its checkpoint "
            f"or write to a new folder"
        )
        self.out_dir, self.found = out_dir, found


def check_fresh_output(out_dir: Path, resume: Path | None, files: tuple[str, ...], checkpoint: str) -> None:
    """Refuse to train into a folder holding a run, unless this run resumes from that folder's own checkpoint."""
    found = [out_dir / name for name in files if (out_dir / name).exists()]
    if not found:
        return
    if (
        resume is not None
        and (out_dir / checkpoint).exists()
        and Path(resume).resolve() == (out_dir / checkpoint).resolve()
    ):
        return
    raise ExistingRunError(out_dir, found[0])


def check_numbers(lr: float, beta1: float, batch_size: int) -> None:
    """Finite, sensible optimizer settings and a batch whose waveforms fit in this machine's memory."""
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"the learning rate must be a positive finite number, got {lr}")
    if not math.isfinite(beta1) or not 0 <= beta1 < 1:
        raise ValueError(f"beta1 must lie in [0, 1), got {beta1}")
    check_fits(batch_size * LONGEST_CLIP_SECONDS * SAMPLE_RATE * 4, f"a batch of {batch_size} clips (waveforms alone)")


def check_device(device: str) -> None:
    """A device this PyTorch build can use, said in one line rather than an assertion inside torch."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda") from None
    if kind == "cuda" and not torch.cuda.is_available():
        why = "this PyTorch build has no CUDA support" if torch.version.cuda is None else "no GPU is visible"
        raise ValueError(f"device {device!r} cannot be used: {why}")
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use cpu or cuda")


def check_loss(loss: float, step: int, checkpoint: Path) -> None:
    """Stop at a NaN or infinite loss, before the optimizer or a checkpoint can take it in."""
    if not math.isfinite(loss):
        kept = f"; the last good checkpoint {checkpoint} is kept" if checkpoint.exists() else ""
        raise ValueError(f"step {step}: the loss is {loss} (not finite); training stopped{kept}")


def check_batch_problems(problems: list[str], step: int) -> None:
    """Clips whose audio cannot be trained on (NaN or infinite samples) stop the run, naming file and step."""
    if problems:
        more = f" (and {len(problems) - 1} more clip(s))" if len(problems) > 1 else ""
        raise ValueError(f"step {step}: {problems[0]}{more}")
