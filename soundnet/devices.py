"""Where and in what precision a model runs, from the names people type (cpu, cuda:1, bfloat16).

The model computes in the dtype of its weights on their device and casts its input to match
(SoundNet.extract); what leaves for files and reports is float32 on the host (`as_numpy`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(name: str | torch.device) -> torch.device:
    """cpu, cuda or cuda:N as a torch.device; ValueError (one line) when it is not usable here."""
    if isinstance(name, torch.device):
        name = str(name)
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"unsupported device {name!r}; use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        why = "this PyTorch is a CPU-only build" if torch.version.cuda is None else "no CUDA device is visible"
        raise ValueError(f"device {name!r} is not available: {why}")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(f"device {name!r} is not available: {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return device


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    """float32, float64, float16 or bfloat16 (a name or the torch.dtype itself)."""
    if isinstance(name, torch.dtype) and name in DTYPES.values():
        return name
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {name!r}; use {', '.join(DTYPES)}")
    return DTYPES[name]


def dtype_name(model: nn.Module) -> str:
    """The name of the dtype the model computes in (its first parameter's)."""
    dtype = next(model.parameters()).dtype
    return next(name for name, value in DTYPES.items() if value == dtype)


def place(model: nn.Module, device: str | torch.device = "cpu", dtype: str | torch.dtype = "float32") -> nn.Module:
    """Move the model (in place) to `device` and cast it to `dtype`, both checked first; returns it."""
    return model.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def load_on(path: str | Path, device: str | torch.device = "cpu", dtype: str | torch.dtype = "float32") -> nn.Module:
    """The SoundNet in `path` placed on `device` in `dtype`; both are checked before the file is read."""
    from .formats.loading import load_soundnet

    device, dtype = resolve_device(device), resolve_dtype(dtype)
    return place(load_soundnet(path), device, dtype)


def on_host(output: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """A model output (a tensor or a tuple of them) as float32 on the CPU, for reports and files."""
    if isinstance(output, torch.Tensor):
        return output.to(device="cpu", dtype=torch.float32)
    return tuple(on_host(part) for part in output)


def as_numpy(tensor: torch.Tensor) -> np.ndarray:
    """float32 numpy on the host, whatever device and dtype produced the tensor (files store float32)."""
    return tensor.detach().to(device="cpu", dtype=torch.float32).numpy()
