"""Layer-by-layer comparison of a model with activations Torch7 computed (a refs file).

The reference layout is the one reference_outputs/make_reference.lua writes (and ../shared/torch7's refs
files use): `inputs.<name>` waveforms 1 x 1 x N x 1; `outputs.<name>[i]` the output of top-level module i
(the heads index holds the pair of heads), `outputs.<name>.final` what net:forward returned,
`outputs.pred10` the prediction recipe's softmax heads, `extra.clip20_logsoftmax_over_classes` the
per-clip class log-softmax. Each stored array is compared element-wise:
max |ours - torch7| <= tolerance * max(1, max |torch7|).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..formats.t7_import import read_torch7
from ..model.heads import class_log_softmax_outputs, softmax_heads, torch7_cpu_outputs
from ..model.network import SoundNet

TOLERANCE = 1e-4
PREDICTION_KEY = "pred10"
CLASS_SOFTMAX_KEY = "clip20_logsoftmax_over_classes"


@dataclass(frozen=True)
class LayerCheck:
    """One compared array: which input and layer, its shape, the errors and the verdict."""

    input: str
    layer: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_rel <= self.tolerance


def lua_table(value: Any) -> dict:
    """A Lua table as read from a .t7, as a dict: convert.read_t7 gives a list when the keys are exactly 1..n.

    make_reference.lua's per-input table is such a sequence whenever it has no `final` entry.
    """
    if isinstance(value, list):
        return dict(enumerate(value, 1))
    if isinstance(value, dict):
        return value
    raise ValueError(f"expected a Lua table, found {type(value).__name__}")


def sequence(value: Any) -> list:
    """A Lua sequence as read from a .t7: a list, or a dict keyed 1..n (plus Torch's `_n` length key)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        keys = sorted(key for key in value if isinstance(key, int))
        return [value[key] for key in keys]
    return [value]


def compare(
    ours: torch.Tensor, reference: np.ndarray, input_name: str, layer: str, tolerance: float = TOLERANCE
) -> LayerCheck:
    """Compare after dropping Torch's singleton axes (B x C x T x 1 vs B x C x T)."""
    theirs = np.asarray(reference, dtype=np.float64)
    mine = ours.detach().double().numpy()
    if mine.size != theirs.size:
        raise ValueError(
            f"{input_name} layer {layer}: ours has {mine.size} values {mine.shape}, "
            f"Torch7 has {theirs.size} {theirs.shape}"
        )
    diff = float(np.abs(mine.reshape(theirs.shape) - theirs).max()) if theirs.size else 0.0
    scale = max(1.0, float(np.abs(theirs).max()) if theirs.size else 0.0)
    return LayerCheck(input_name, layer, tuple(theirs.shape), diff, diff / scale, tolerance)


def _compare_all(
    ours: list[torch.Tensor], references: list, input_name: str, label: str, tolerance: float
) -> Iterator[LayerCheck]:
    if len(ours) != len(references):
        raise ValueError(f"{input_name} {label}: ours gives {len(ours)} outputs, Torch7 stored {len(references)}")
    for number, (mine, theirs) in enumerate(zip(ours, references), 1):
        yield compare(mine, theirs, input_name, f"{label}[{number}]" if len(ours) > 1 else label, tolerance)


def verify_reference(model: SoundNet, reference: dict, tolerance: float = TOLERANCE) -> list[LayerCheck]:
    """Every stored layer of every stored input, compared with what `model` computes (eval mode)."""
    if not isinstance(reference, dict) or "inputs" not in reference or "outputs" not in reference:
        raise ValueError("not a reference file: expected a table with 'inputs' and 'outputs'")
    inputs, outputs = lua_table(reference["inputs"]), lua_table(reference["outputs"])
    model.eval()
    head = model.architecture.head.index
    checks: list[LayerCheck] = []
    with torch.inference_mode():
        for input_name, stored in outputs.items():
            if input_name not in inputs:
                raise ValueError(f"reference output {input_name!r} has no stored input")
            x = torch.from_numpy(np.asarray(inputs[input_name], dtype=np.float32))
            if input_name == PREDICTION_KEY:
                heads = model.forward_features(x, head)
                checks += _compare_all(
                    list(softmax_heads(heads)), sequence(stored), input_name, "softmax heads", tolerance
                )
                continue
            for key, value in lua_table(stored).items():
                if isinstance(key, int):
                    label = f"{key} ({model.architecture.layer(key).name})"
                    ours = model.forward_features(x, key)
                    ours = list(ours) if isinstance(ours, tuple) else [ours]
                    checks += _compare_all(ours, sequence(value), input_name, label, tolerance)
                elif key == "final":
                    heads = model.forward_features(x, head)
                    checks += _compare_all(
                        torch7_cpu_outputs(heads), sequence(value), input_name, "final (net:forward)", tolerance
                    )
        for key, value in lua_table(reference.get("extra") or {}).items():
            if key == CLASS_SOFTMAX_KEY:
                x = torch.from_numpy(np.asarray(inputs["clip20"], dtype=np.float32))
                checks += _compare_all(
                    class_log_softmax_outputs(model.forward_features(x, head)),
                    sequence(value),
                    "clip20",
                    "class log-softmax",
                    tolerance,
                )
    if not checks:
        raise ValueError("the reference file holds no layer outputs to compare")
    return checks


def format_checks(checks: list[LayerCheck]) -> str:
    """A fixed-width table, one line per compared array."""
    lines = [f"{'input':<8} {'layer':<28} {'shape':<18} {'max abs':>10} {'max rel':>10} {'tol':>8}  result"]
    for check in checks:
        shape = "x".join(str(n) for n in check.shape)
        lines.append(
            f"{check.input:<8} {check.layer:<28} {shape:<18} {check.max_abs:>10.3g} "
            f"{check.max_rel:>10.3g} {check.tolerance:>8.0e}  {'ok' if check.ok else 'FAIL'}"
        )
    failed = sum(not check.ok for check in checks)
    lines.append(
        f"{len(checks) - failed} of {len(checks)} arrays within tolerance" + (f"; {failed} FAILED" if failed else "")
    )
    return "\n".join(lines)


def verify_file(model: SoundNet, reference: str | os.PathLike, tolerance: float = TOLERANCE) -> list[LayerCheck]:
    """verify_reference against a refs file written by reference_outputs/make_reference.lua (any converted
    network, module by module, against one its -input mode wrote)."""
    from .verify_network import is_generic_reference, verify_network_reference

    refs = read_torch7(reference)
    return (verify_network_reference if is_generic_reference(refs) else verify_reference)(model, refs, tolerance)
