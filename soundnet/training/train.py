"""Student-teacher training (main_train.lua): SoundNet learns the teacher's object and scene distributions.

Starts from a converted model or from scratch with the original initialisation. `head_softmax` picks the
student's log-softmax: "classes" (per clip over the classes, the paper's intent and the default) or
"torch7-cpu" (over the batch, plus BN's batch-size-1 rule: what Torch7's CPU nn computed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from ..model.layers import TorchBatchNorm1d
from ..model.network import SoundNet
from .loop import LoopSettings, RunResult, run
from .losses import HEAD_SOFTMAX_MODES, teacher_loss
from .teacher_data import TeacherClip, TeacherDataset


def init_original(model: SoundNet, generator: torch.Generator | None = None) -> SoundNet:
    """main_train.lua's weights_init: conv weights N(0, 0.01), biases 0; BN weights N(1, 0.02), biases 0."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, TorchBatchNorm1d):
                module.weight.normal_(1.0, 0.02, generator=generator)
                module.bias.zero_()
            elif isinstance(module, torch.nn.Conv1d):
                module.weight.normal_(0.0, 0.01, generator=generator)
                module.bias.zero_()
    return model


def use_head_softmax(model: SoundNet, mode: str) -> None:
    """Check the mode; "torch7-cpu" also switches on nn's BN batch-size-1 rule."""
    if mode not in HEAD_SOFTMAX_MODES:
        raise ValueError(f"head softmax must be one of {', '.join(HEAD_SOFTMAX_MODES)}, got {mode!r}")
    if mode == "torch7-cpu" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("head softmax torch7-cpu normalises over the batch, which DDP splits; use one process")
    for module in model.modules():
        if isinstance(module, TorchBatchNorm1d):
            module.torch7_batch1_rule = mode == "torch7-cpu"


class TeacherTask:
    """Loss: lambda x mean KL(teacher || student) over the 8 (head, 5 s step) outputs."""

    def __init__(self, model: SoundNet, dataset: TeacherDataset, head_softmax: str = "classes"):
        if model.architecture.is_classifier:
            raise ValueError(
                "student-teacher training needs a SoundNet with object and scene heads, not a fine-tuned classifier"
            )
        use_head_softmax(model, head_softmax)
        self.model, self.dataset, self.head_softmax = model, dataset, head_softmax

    def settings(self) -> dict:
        return {"task": "teacher", "head_softmax": self.head_softmax}

    def prepare(self, model: SoundNet) -> None:
        model.train()

    def loss(self, net: torch.nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        heads = net(batch["waveform"].to(device))
        return teacher_loss(heads, (batch["objects"].to(device), batch["scenes"].to(device)), self.head_softmax)

    def end_of_epoch(self, model: SoundNet, epoch: int) -> dict:
        return {}


def build_student(
    model: SoundNet | None, architecture: str = "soundnet8", widths: Sequence[int] | None = None, seed: int = 0
) -> SoundNet:
    """`model` to continue, or (None) a new `architecture` with main_train.lua's initialisation."""
    if model is not None:
        return model
    return init_original(SoundNet(architecture, widths), torch.Generator().manual_seed(seed))


def train(
    model: SoundNet, clips: list[TeacherClip], settings: LoopSettings, head_softmax: str = "classes"
) -> RunResult:
    """Student-teacher training of `model` on `clips`; checkpoints, log and model go to settings.out_dir."""
    return run(TeacherTask(model, TeacherDataset(clips), head_softmax), settings)
