"""Training checkpoints, written atomically and readable with weights_only=True.

A checkpoint holds what a resumed run needs to continue bit for bit on CPU: model and optimizer state,
the step, the run's settings (checked on resume) and the RNG states. Everything is stored as tensors and
plain Python values so that torch.load(weights_only=True) reads it: a checkpoint cannot run code.
A sha256 over all of it is stored too and checked on load, so a damaged file is refused rather than
resumed; a model with NaN or infinite parameters is never written over the last good checkpoint.
"""

from __future__ import annotations

import hashlib
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
CHECKSUM = "sha256"


def _digest(value, digest) -> None:
    """Feed a nested structure of dicts, lists, tensors and plain values into `digest`, in a fixed order."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{value.dtype}{tuple(value.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _digest(value[key], digest)
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _digest(item, digest)
    else:
        digest.update(f"V{value!r}".encode())


def content_checksum(content: dict) -> str:
    """The sha256 of a checkpoint's content (everything but the checksum itself)."""
    digest = hashlib.sha256()
    _digest({key: value for key, value in content.items() if key != CHECKSUM}, digest)
    return digest.hexdigest()


def non_finite_parameters(model: SoundNet) -> list[str]:
    return [
        name
        for name, value in model.state_dict().items()
        if value.is_floating_point() and not torch.isfinite(value).all()
    ]


def model_spec(model: SoundNet) -> dict:
    """What rebuilds the model: architecture name, conv widths, class counts."""
    return {"architecture": model.architecture.name, "widths": list(model.widths), "classes": list(model.classes)}


def rng_state() -> dict:
    """torch, numpy and Python RNG states as tensors and plain values."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "python": random.getstate(),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(
    path: str | os.PathLike, model: SoundNet, optimizer: torch.optim.Optimizer, step: int, settings: dict
) -> None:
    """Write atomically; refuse (keeping the previous file) when the model holds NaN or infinite values."""
    bad = non_finite_parameters(model)
    if bad:
        raise ValueError(
            f"step {step}: {len(bad)} parameter tensor(s) hold NaN or infinite values ({bad[0]}, ...); "
            f"training stopped and {path} was not overwritten"
        )
    content = {
        MARK: model_spec(model),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "settings": settings,
        "rng": rng_state(),
    }
    content[CHECKSUM] = content_checksum(content)
    with atomic_path(path) as temporary:
        torch.save(content, temporary)


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
    if CHECKSUM not in content:
        raise ValueError(f"{path} carries no checksum (written by an older version): cannot check it is intact")
    if content[CHECKSUM] != content_checksum(content):
        raise ValueError(f"{path} is damaged: its contents do not match the checksum stored in it")
    return content
