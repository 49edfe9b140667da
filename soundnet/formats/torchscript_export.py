"""SoundNet as a TorchScript archive: PortableSoundNet scripted, loadable with torch.jit.load alone."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..model.portable import PortableSoundNet


def script(model: nn.Module, layer: int | str | None = None) -> torch.jit.ScriptModule:
    """torch.jit.script of the model up to `layer` (default: its head), in eval mode."""
    return torch.jit.script(PortableSoundNet(model, layer).eval())


def export_torchscript(model: nn.Module, path: str | Path, layer: int | str | None = None) -> Path:
    """Write the scripted model to `path` atomically (torch.jit.save)."""
    path = Path(path)
    scripted = script(model, layer)
    with atomic_path(path, suffix=".pt.tmp") as tmp:
        torch.jit.save(scripted, str(tmp))
    return path
