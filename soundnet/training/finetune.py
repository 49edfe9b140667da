"""Fine-tuning (main_finetune.lua): SoundNet8 up to module 24, a new conv 1024 -> N (k4), cross-entropy.

Adds what the original lacked: `freeze` keeps modules 1..UPTO fixed (their BN layers in evaluation mode,
so a frozen stack is a fixed feature extractor), and a held-out split whose accuracy is logged per epoch.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..atomic import atomic_path
from ..model.architecture import SOUNDNET8, SOUNDNET8_FINETUNED
from ..model.heads import CLASSIFIER_MODULE, TEACHER_HEAD_MODULES
from ..model.network import SoundNet
from .finetune_data import LabeledClip, LabeledDataset, split_held_out
from .loop import LoopSettings, RunResult, run
from .losses import classification_loss

CLASSES_FILE = "classes.txt"


def module_at(model: SoundNet, path: str) -> nn.Module:
    """A module by Torch path: '1'..'24' (body), '25' (classifier) or '25.1' / '25.2' (object / scene head)."""
    index, _, child = str(path).partition(".")
    layer = model.architecture.layer(int(index))
    if layer is not model.architecture.head:
        return getattr(model, layer.name)
    heads = model.head_modules()
    if not child and len(heads) == 1:
        return heads[0]
    if child.isdigit() and 1 <= int(child) <= len(heads):
        return heads[int(child) - 1]
    raise ValueError(f"{model.name} has no module {path!r}")


def finetuned_from(model: SoundNet, classes: int, generator: torch.Generator | None = None) -> SoundNet:
    """main_finetune.lua's surgery on a SoundNet8: modules 25-28 replaced by conv 1024 -> classes (k4).

    A fine-tuned model with `classes` outputs is returned as is, and so is a SoundNet with a custom head
    (a Torch7 fine-tune of its own) whose head gives `classes` outputs. The new conv gets nn's default reset,
    uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and bias.
    """
    if model.architecture is SOUNDNET8_FINETUNED and model.classes == (classes,):
        return model
    if model.architecture.has_custom_head:  # a Torch7 fine-tune with its own head: train it further as it is
        if model.classes != (classes,):
            raise ValueError(
                f"the model's own head gives {list(model.classes) or 'an unknown number of'} classes, not {classes}"
            )
        return model
    if model.architecture not in (SOUNDNET8, SOUNDNET8_FINETUNED):
        raise ValueError(f"fine-tuning follows main_finetune.lua and needs a SoundNet8, not {model.name}")
    tuned = SoundNet(SOUNDNET8_FINETUNED, model.widths, classes)
    heads = tuple(f"{name}." for name in (*TEACHER_HEAD_MODULES, CLASSIFIER_MODULE))
    body = {k: v for k, v in model.state_dict().items() if not k.startswith(heads)}
    tuned.load_state_dict(body, strict=False)
    bound = 1 / math.sqrt(tuned.classifier.in_channels * tuned.classifier.kernel_size[0])
    with torch.no_grad():
        tuned.classifier.weight.uniform_(-bound, bound, generator=generator)
        tuned.classifier.bias.uniform_(-bound, bound, generator=generator)
    return tuned


def frozen_layers(model: SoundNet, upto: int) -> list:
    """The body layers with Torch index <= upto (0 freezes nothing)."""
    last = model.architecture.head.index - 1
    if not 0 <= upto <= last:
        raise ValueError(f"freeze must be a Torch module index in 0..{last}, got {upto}")
    return [layer for layer in model.architecture.body if layer.index <= upto]


def accuracy(model: SoundNet, dataset: LabeledDataset, batch_size: int) -> float:
    """Top-1 accuracy in evaluation mode over the whole dataset."""
    keys = [(index, 0, 0) for index in range(len(dataset))]
    loader = DataLoader(dataset, batch_sampler=[keys[i : i + batch_size] for i in range(0, len(keys), batch_size)])
    device = next(model.parameters()).device
    correct = 0
    model.eval()
    with torch.no_grad():
        for batch in loader:
            correct += int((model(batch["waveform"].to(device)).argmax(1).cpu() == batch["label"]).sum())
    return correct / len(dataset)


class FinetuneTask:
    """Cross-entropy on random 5 s crops; held-out accuracy at the end of every epoch."""

    def __init__(
        self,
        model: SoundNet,
        dataset: LabeledDataset,
        held_out: LabeledDataset | None,
        freeze: int = 0,
        batch_size: int = 64,
    ):
        self.model, self.dataset, self.held_out, self.batch_size = model, dataset, held_out, batch_size
        self.freeze = freeze
        self.frozen = [layer.name for layer in frozen_layers(model, freeze)]  # names: DDP may swap the modules
        for name in self.frozen:
            getattr(model, name).requires_grad_(False)

    def settings(self) -> dict:
        return {"task": "finetune", "classes": self.model.classes[0], "freeze": self.freeze}

    def prepare(self, model: SoundNet) -> None:
        model.train()
        for name in self.frozen:
            getattr(model, name).eval()

    def loss(self, net: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        return classification_loss(net(batch["waveform"].to(device)), batch["label"].to(device))

    def end_of_epoch(self, model: SoundNet, epoch: int) -> dict:
        if not self.held_out:
            return {}
        return {"held_out_accuracy": accuracy(model, self.held_out, self.batch_size)}


def finetune(
    model: SoundNet,
    clips: list[LabeledClip],
    class_names: list[str],
    settings: LoopSettings,
    epochs: int = 10,
    freeze: int = 0,
    held_out: float = 0.1,
) -> RunResult:
    """Fine-tune `model` (a SoundNet8) on `clips` for `epochs` epochs of ceil(training clips / batch) steps.

    The class names travel in the saved model's metadata and in CLASSES_FILE beside it, so that
    predict names the classes.
    """
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    if settings.batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {settings.batch_size}")
    train_clips, held_clips = split_held_out(clips, held_out, settings.seed)
    model = finetuned_from(model, len(class_names), torch.Generator().manual_seed(settings.seed))
    model.metadata["class_names"] = list(class_names)
    steps_per_epoch = math.ceil(len(train_clips) / settings.batch_size)
    settings = dataclasses.replace(settings, steps=epochs * steps_per_epoch, steps_per_epoch=steps_per_epoch)
    task = FinetuneTask(
        model,
        LabeledDataset(train_clips, settings.seed),
        LabeledDataset(held_clips, settings.seed, train=False) if held_clips else None,
        freeze,
        settings.batch_size,
    )
    result = run(task, settings)
    if int(os.environ.get("RANK", "0")) == 0:
        write_class_names(Path(settings.out_dir) / CLASSES_FILE, class_names)
    return result


def write_class_names(path: str | os.PathLike, names: list[str]) -> Path:
    """One class name per line, in output-index order (what predict's classes file reads)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return Path(path)
