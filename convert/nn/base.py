"""The base of every converted module: Torch field names in, the same fields back out.

A converted module keeps the scalar fields it needs under their Torch names (``options``, JSON-ready) and
its tensors as parameters (learnable) or buffers, also under Torch names. That one convention serves the
three directions: Torch7 -> PyTorch (read the fields), PyTorch -> JSON + safetensors (options + state dict)
and PyTorch -> Torch7 (write the fields back with what Torch7's updateOutput expects to find).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..objects import Storage, TorchObject, empty_tensor, make_tensor
from ..objects import Tensor as T7Tensor
from .errors import ModuleConversionError

PACKAGES = ("nn", "cunn", "cudnn")
REGISTRY: dict[str, type[TorchModule]] = {}
REQUIRED = object()


def register(*names: str):
    """Class decorator: the Torch class names (without package) a converted module stands for."""

    def decorate(cls: type[TorchModule]) -> type[TorchModule]:
        cls.torch_names = names
        for name in names:
            REGISTRY[name] = cls
        return cls

    return decorate


def short_name(typename: str) -> str | None:
    """'cudnn.ReLU' -> 'ReLU'; None for a class outside nn, cunn and cudnn."""
    package, _, name = typename.partition(".")
    return name if package in PACKAGES and name else None


def plain(value: Any) -> Any:
    """A field as JSON-ready Python: LongStorages and small tensors become (nested) lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, int) or k == "_n" for k in value):  # a Lua sequence
        return [plain(value[k]) for k in sorted(k for k in value if isinstance(k, int))]
    return value


def long_storage(values: list[int]) -> Storage:
    return Storage.from_array(np.asarray(values, dtype=np.int64), "torch.LongStorage")


def t7_tensor(value: torch.Tensor, typename: str = "torch.FloatTensor") -> T7Tensor:
    """A contiguous Torch7 tensor with a storage of its own."""
    array = np.ascontiguousarray(value.detach().cpu().numpy())
    if array.ndim == 0:
        array = array.reshape(1)
    if array.size == 0:
        return empty_tensor(typename)
    strides = [int(np.prod(array.shape[i + 1 :])) for i in range(array.ndim)]
    return make_tensor(Storage.from_array(array), 0, array.shape, strides, typename)


def may_write_in_place(x: torch.Tensor) -> bool:
    """Torch7's in-place flags are honoured in inference; under autograd they would break backward."""
    return not (torch.is_grad_enabled() and x.requires_grad)


class TorchModule(nn.Module):
    """A PyTorch module with the evaluate-mode numerics of one Torch7 nn class.

    Subclasses declare ``options`` (Torch field -> default, REQUIRED when a file must hold it),
    ``aliases`` (older nn field name -> current one), ``learnable`` and ``kept`` tensor fields,
    ``optional`` (tensors a file may lack), ``storages`` (list options written back as LongStorage),
    ``scratch`` (working buffers Torch7's updateOutput expects its constructor to have made: field ->
    "tensor", "long", a LongStorage size, or a list of numbers for a FloatTensor), and implement ``forward``.
    """

    torch_names: ClassVar[tuple[str, ...]] = ()
    options_spec: ClassVar[dict[str, Any]] = {}
    aliases: ClassVar[dict[str, str]] = {}
    learnable: ClassVar[tuple[str, ...]] = ()
    kept: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ("bias",)
    storages: ClassVar[tuple[str, ...]] = ()
    scratch: ClassVar[dict[str, Any]] = {}
    table_output: ClassVar[bool] = False
    table_input: ClassVar[bool] = False

    def __init__(
        self,
        options: dict[str, Any],
        tensors: Mapping[str, torch.Tensor | None],
        children: Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.torch_class = "nn." + self.torch_names[0]  # the spelling a file used replaces it (tree.py)
        self.options = dict(options)
        for name in self.learnable:
            value = tensors.get(name)
            self.register_parameter(name, None if value is None else nn.Parameter(value))
        for name in self.kept:
            self.register_buffer(name, tensors.get(name))
        if children is not None:
            self.submodules = nn.ModuleList(children)
        self.setup()

    def setup(self) -> None:
        """Check and derive from the options (subclasses)."""

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options.items())

    # ---- Torch7 -> PyTorch
    @classmethod
    def read_options(cls, obj: TorchObject, path: str) -> dict[str, Any]:
        options = {}
        for name, default in cls.options_spec.items():
            value = obj.get(name)
            if value is None:
                value = next(
                    (obj.get(old) for old, new in cls.aliases.items() if new == name and obj.get(old) is not None), None
                )
            if value is None:
                if default is REQUIRED:
                    raise ModuleConversionError(obj.typename, path, f"the file has no {name} field")
                value = default
            value = plain(value)
            problem = option_problem(value, default)
            if problem:
                raise ModuleConversionError(obj.typename, path, f"field {name} {problem}")
            options[name] = value
        return options

    @classmethod
    def read_tensors(cls, obj: TorchObject, path: str) -> dict[str, torch.Tensor | None]:
        tensors: dict[str, torch.Tensor | None] = {}
        for name in cls.learnable + cls.kept:
            value = obj.get(name)
            if isinstance(value, np.ndarray) and value.size:
                tensors[name] = torch.from_numpy(np.array(value, dtype=np.float32))
            else:
                tensors[name] = None
        return tensors

    @classmethod
    def refusal(cls, obj: TorchObject) -> str | None:
        """Why this instance cannot be converted (a state the class does not support), or None."""
        return None

    # ---- PyTorch -> Torch7
    def torch_fields(self) -> dict[str, Any]:
        """The fields of the Torch7 object (without output/gradInput/train/_type, added by the caller)."""
        fields: dict[str, Any] = {}
        for name, value in self.options.items():
            if value is None:
                continue
            fields[name] = long_storage(value) if name in self.storages else value
        for name in self.learnable:
            value = getattr(self, name)
            if value is not None:
                fields[name] = t7_tensor(value)
                grad = "grad" + name[0].upper() + name[1:]
                fields[grad] = t7_tensor(torch.zeros_like(value))
        for name in self.kept:
            value = getattr(self, name)
            if value is not None:
                fields[name] = t7_tensor(value)
        for name, kind in self.scratch.items():
            fields[name] = scratch_value(kind)
        return fields


def scratch_value(kind: Any) -> Any:
    if kind == "tensor":
        return empty_tensor("torch.FloatTensor")
    if kind == "long":
        return empty_tensor("torch.LongTensor")
    if isinstance(kind, int):
        return long_storage([0] * kind)
    return t7_tensor(torch.tensor(kind, dtype=torch.float32))


def option_problem(value: Any, default: Any) -> str | None:
    """Why a field's value cannot be that option (a number where a number belongs...), or None."""
    if isinstance(value, list):
        return None if all(option_problem(v, None) is None for v in value) else "holds a non-numeric entry"
    if value is not None and not isinstance(value, (bool, int, float)):
        return f"is a {type(value).__name__}, expected a number or a boolean"
    number = isinstance(default, (int, float)) and not isinstance(default, bool)
    if number and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"is {value!r}, expected a number"
    return None


def finite_options(options: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity: ±inf become the strings 'inf' / '-inf' (and back in ``restore_options``)."""
    return {
        k: (("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v) else v) for k, v in options.items()
    }


def restore_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if v in ("inf", "-inf") else v) for k, v in options.items()}
