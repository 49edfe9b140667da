"""Checks every loaded model passes, whatever its file format: the numbers and the metadata it carries.

Parameters are floating point (float16, bfloat16 and float64 become float32, as Torch7 files are read;
integers are refused), finite, with non-negative BN variances and finite positive BN epsilons; category
names are two lists matching the heads, of printable text.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..model.network import SoundNet

COUNTERS = ("num_batches_tracked",)


def float32_tensor(name: str, value: torch.Tensor, source: Any) -> torch.Tensor:
    """A parameter as float32 (converted from other float types); integer, bool or complex values are refused."""
    if name.endswith(COUNTERS):
        return value
    if not value.is_floating_point():
        raise ValueError(
            f"{source}: {name} holds {str(value.dtype).removeprefix('torch.')} values; "
            f"parameters must be floating point"
        )
    return value if value.dtype == torch.float32 else value.float()


def float32_state(state: dict[str, torch.Tensor], source: Any) -> dict[str, torch.Tensor]:
    """Every parameter of a state dict through float32_tensor, as the .t7 path converts them."""
    return {key: float32_tensor(key, value, source) for key, value in state.items()}


def float32_array(value: np.ndarray, where: str) -> np.ndarray:
    """The numpy twin of float32_tensor, for arrays read from a .t7."""
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{where} holds {value.dtype} values; parameters must be floating point")
    return np.ascontiguousarray(value, dtype=np.float32)


def _printable(name: Any) -> bool:
    return isinstance(name, str) and not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in name)


def check_categories(categories: Any, classes: tuple[int, ...], source: Any) -> list[list[str]]:
    """Two lists of names, one per head and as long as it, each name printable text."""
    if not isinstance(categories, (list, tuple)) or len(categories) != 2 or len(classes) != 2:
        raise ValueError(f"{source}: category metadata must be two lists of names (objects, scenes)")
    for kind, names, count in zip(("object", "scene"), categories, classes):
        if not isinstance(names, (list, tuple)) or len(names) != count:
            size = len(names) if isinstance(names, (list, tuple)) else type(names).__name__
            raise ValueError(f"{source}: {kind} category metadata has {size} names, the model has {count} classes")
        bad = next((name for name in names if not _printable(name)), None)
        if bad is not None or any(not isinstance(name, str) for name in names):
            raise ValueError(f"{source}: {kind} category name {str(bad)[:40]!r} is not printable text")
    return [list(names) for names in categories]


def _all_finite(value: torch.Tensor) -> bool:
    """One reduction without temporaries (NaN and infinities reach the minimum or the maximum): isfinite()
    made a boolean copy of every tensor and took a quarter of the load of a full-width file."""
    if value.numel() == 0:
        return True
    low, high = torch.aminmax(value)
    return bool(torch.isfinite(low)) and bool(torch.isfinite(high))


def validate_model(model: nn.Module, source: Any) -> nn.Module:
    """Refuse NaN/infinite parameters, negative BN variances, non-finite or non-positive BN epsilons."""
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not _all_finite(value):
            count = int((~torch.isfinite(value)).sum())
            raise ValueError(f"{source}: {name} holds {count} NaN or infinite value(s)")
        if name.endswith("running_var") and (value < 0).any():
            raise ValueError(f"{source}: {name} holds a negative variance ({float(value.min()):.3g})")
    if not isinstance(model, SoundNet):
        return model  # a generic Torch7 network: its tensors are all there is to check
    for layer, eps in model.bn_eps().items():
        if not math.isfinite(eps) or eps <= 0:
            raise ValueError(f"{source}: {layer} has batch-norm epsilon {eps}; it must be finite and positive")
    if model.metadata.get("categories") is not None:
        model.metadata["categories"] = check_categories(model.metadata["categories"], tuple(model.classes), source)
    return model
