"""Training checkpoints, written atomically and readable with weights_only=True.

A checkpoint holds what a resumed run needs to continue bit for bit on CPU: model and optimizer state,
the step, the run's settings (checked on resume) and the RNG states. Everything is stored as tensors and
plain Python values so that torch.load(weights_only=True) reads it: a checkpoint cannot run code.
"""
from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..model.network import SoundNet

MARK = "soundnet_checkpoint"


def model_spec(model: SoundNet) -> dict:
    """What rebuilds the model: architecture name, conv widths, class counts."""
    return {"architecture": model.architecture.name, "widths": list(model.widths), "classes": list(model.classes)}


def rng_state() -> dict:
    """torch, numpy and Python RNG states as tensors and plain values."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position,
                                                      has_gauss, gauss],
            "python": random.getstate()}


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(path: str | os.PathLike, model: SoundNet, optimizer: torch.optim.Optimizer, step: int,
                    settings: dict) -> None:
    with atomic_path(path) as temporary:
        torch.save({MARK: model_spec(model), "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step, "settings": settings, "rng": rng_state()}, temporary)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A training checkpoint written by save_checkpoint; one-line errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    content = None
    if zipfile.is_zipfile(path):
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError):
            content = None
    if not isinstance(content, dict) or MARK not in content:
        raise ValueError(f"{path} is not a soundnet training checkpoint")
    return content
