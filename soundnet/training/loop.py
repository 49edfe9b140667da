"""The loop `soundnet train` and `soundnet finetune` share: sampling, steps, checkpoints, resume, DDP, logs.

The clips of step s are drawn with replacement (as the original's data threads did) from a generator
seeded by (seed, s), and random crops by (seed, s, slot). A batch therefore depends only on the seed and
the step: a resumed run, or one spread over several processes, sees exactly the batches of an
uninterrupted single-process run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler

from ..formats.loading import save
from ..model.network import SoundNet
from . import distributed
from .checkpoint import MARK, load_checkpoint, model_spec, restore_rng, save_checkpoint
from .guards import check_batch_problems, check_device, check_fresh_output, check_loss, check_numbers
from .optim import make_optimizer
from .progress import Progress, plot_loss_curve

CHECKPOINT = "checkpoint.pt"
MODEL = "model.safetensors"
LOG = "log.jsonl"
CURVE = "loss.png"


@dataclass
class LoopSettings:
    """How to train; the fields in `RESUME_FIXED` must match the checkpoint a run resumes from."""

    out_dir: Path
    batch_size: int = 64
    steps: int = 100
    steps_per_epoch: int = 0  # 0: no epochs (no per-epoch evaluation)
    seed: int = 0
    lr: float = 1e-3
    beta1: float = 0.9
    optimizer: str = "adam"
    checkpoint_every: int = 0  # 0: only at the end
    resume: Path | None = None
    workers: int = 0
    device: str = "cpu"
    bf16: bool = False
    show_progress: bool = True
    export: Path | None = None
    source: str = ""  # what the run starts from and learns on, for the plot's title

    RESUME_FIXED = ("batch_size", "steps_per_epoch", "seed", "lr", "beta1", "optimizer")

    def fixed(self) -> dict:
        return {name: getattr(self, name) for name in self.RESUME_FIXED}


class Task(Protocol):
    """What differs between student-teacher training and fine-tuning."""

    model: SoundNet
    dataset: Dataset

    def settings(self) -> dict: ...  # task choices a resumed run must share

    def prepare(self, model: SoundNet) -> None: ...  # train/eval modes for a step

    def loss(self, net: nn.Module, batch: dict, device: torch.device) -> torch.Tensor: ...

    def end_of_epoch(self, model: SoundNet, epoch: int) -> dict: ...


@dataclass
class RunResult:
    model: SoundNet
    step: int
    loss: float | None
    missing_clips: int
    out_dir: Path


def step_keys(seed: int, step: int, items: int, batch: int) -> list[tuple[int, int, int]]:
    """The global batch of `step`: (clip index, step, slot) for each of its `batch` slots."""
    indices = np.random.default_rng([seed, step]).integers(0, items, batch)
    return [(int(index), step, slot) for slot, index in enumerate(indices)]


class StepSampler(Sampler):
    """This rank's share of the batch of every step after `start`."""

    def __init__(self, items: int, settings: LoopSettings, start: int, context: distributed.Context):
        self.items, self.settings, self.start, self.context = items, settings, start, context

    def __iter__(self) -> Iterator[list]:
        for step in range(self.start + 1, self.settings.steps + 1):
            yield distributed.share(
                step_keys(self.settings.seed, step, self.items, self.settings.batch_size), self.context
            )

    def __len__(self) -> int:
        return max(0, self.settings.steps - self.start)


def _check_settings(settings: LoopSettings, task: Task) -> None:
    for name in ("batch_size", "steps"):
        if getattr(settings, name) < 1:
            raise ValueError(f"{name.replace('_', ' ')} must be at least 1")
    if settings.bf16 and not settings.device.startswith("cuda"):
        raise ValueError("bf16 autocast needs a CUDA device")
    check_numbers(settings.lr, settings.beta1, settings.batch_size)
    check_device(settings.device)
    if len(task.dataset) == 0:
        raise ValueError("no training clips")
    check_fresh_output(Path(settings.out_dir), settings.resume, (CHECKPOINT, MODEL, LOG), CHECKPOINT)


def _resume(settings: LoopSettings, task: Task, model: SoundNet, optimizer: torch.optim.Optimizer) -> int:
    state = load_checkpoint(settings.resume)
    if state[MARK] != model_spec(model):
        raise ValueError(
            f"cannot resume from {settings.resume}: it holds a {state[MARK]}, this run trains a {model_spec(model)}"
        )
    wanted = {**settings.fixed(), **task.settings()}
    for name, value in wanted.items():
        if state["settings"].get(name) != value:
            raise ValueError(
                f"cannot resume from {settings.resume}: it was trained with {name} = "
                f"{state['settings'].get(name)!r}, this run asks for {value!r}"
            )
    model.load_state_dict(state["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    restore_rng(state["rng"])
    return int(state["step"])


def run(task: Task, settings: LoopSettings) -> RunResult:
    """Train `task.model` for settings.steps steps (continuing a checkpoint when settings.resume is set)."""
    _check_settings(settings, task)
    torch.manual_seed(settings.seed)
    context = distributed.setup(settings.device)
    try:
        return _run(task, settings, context)
    finally:
        distributed.teardown(context)


def run_title(model: SoundNet, task: Task, settings: LoopSettings) -> str:
    """Model, data and settings of a run, in two lines, for its plot."""
    choices = ", ".join(f"{k} {v}" for k, v in task.settings().items() if k != "task")
    epochs = (
        f", {settings.steps // settings.steps_per_epoch} epochs of {settings.steps_per_epoch} steps"
        if settings.steps_per_epoch
        else ""
    )
    return (
        f"{task.settings()['task']}: {model.name} (widths {','.join(map(str, model.widths))})"
        f"{', ' + settings.source if settings.source else ''}; {len(task.dataset)} training clips\n"
        f"batch {settings.batch_size}, {settings.optimizer} lr {settings.lr:g} beta1 {settings.beta1:g}, "
        f"seed {settings.seed}, {settings.steps} steps{epochs}" + (f", {choices}" if choices else "")
    )


def _run(task: Task, settings: LoopSettings, context: distributed.Context) -> RunResult:
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = task.model.to(context.device)
    optimizer = make_optimizer(
        settings.optimizer, [p for p in model.parameters() if p.requires_grad], settings.lr, settings.beta1
    )
    start = _resume(settings, task, model, optimizer) if settings.resume else 0
    net: nn.Module = model
    if context.world > 1:
        distributed.synchronise_batchnorm(model)
        net = DistributedDataParallel(model, device_ids=[context.device] if context.device.type == "cuda" else None)
    loader = DataLoader(
        task.dataset,
        batch_sampler=StepSampler(len(task.dataset), settings, start, context),
        num_workers=settings.workers,
    )
    progress = None
    if context.main:
        if not settings.resume:
            (out / LOG).unlink(missing_ok=True)
        progress = Progress(out / LOG, settings.steps, start, settings.show_progress)
    run_settings = {**settings.fixed(), **task.settings()}
    step, loss_value, missing = start, None, 0
    finished = time.perf_counter()
    for step, batch in enumerate(loader, start + 1):
        ready = time.perf_counter()
        task.prepare(model)
        optimizer.zero_grad(set_to_none=True)
        problems = [problem for problem in batch.get("problem", []) if problem]
        if distributed.sum_over_ranks(len(problems), context):  # every rank stops together
            check_batch_problems(problems or ["a clip read by another process holds NaN or infinite samples"], step)
        with torch.autocast(context.device.type, dtype=torch.bfloat16, enabled=settings.bf16):
            loss = task.loss(net, batch, context.device)
        loss_value = distributed.mean_over_ranks(loss.item(), context)
        check_loss(loss_value, step, out / CHECKPOINT)
        loss.backward()
        optimizer.step()
        step_missing = distributed.sum_over_ranks(int(batch["missing"].sum()), context)
        missing += step_missing
        done = time.perf_counter()
        if progress:
            progress.step(step, loss_value, settings.batch_size, ready - finished, done - ready, step_missing)
        if step == settings.steps or (settings.checkpoint_every and step % settings.checkpoint_every == 0):
            if context.main:
                save_checkpoint(out / CHECKPOINT, model, optimizer, step, run_settings)
        if settings.steps_per_epoch and step % settings.steps_per_epoch == 0 and context.main:
            epoch = step // settings.steps_per_epoch
            metrics = task.end_of_epoch(model, epoch)
            if metrics:
                text = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                progress.record({"epoch": epoch, "step": step, **metrics}, f"epoch {epoch}: {text}")
        if context.world > 1:
            dist.barrier()
        finished = time.perf_counter()
    if context.world > 1:
        distributed.restore_batchnorm(model)
    if progress:
        if missing:
            progress.record(
                {"missing_clips_total": missing},
                f"warning: {missing} clip loads were missing or undecodable and replaced by silence",
            )
        progress.close()
        save(model, out / MODEL)
        if step > start or not (out / CURVE).exists():  # also a run killed after its last step, now resumed
            classes = task.settings().get("classes")
            plot_loss_curve(out / LOG, out / CURVE, run_title(model, task, settings), 1 / classes if classes else None)
        if settings.export:
            save(model, settings.export)
    return RunResult(model, step, loss_value, missing, out)
