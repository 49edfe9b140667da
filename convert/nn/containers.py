"""Containers (Sequential, Concat, DepthConcat, ConcatTable, ParallelTable, MapTable) and table modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .base import REQUIRED, TorchModule, may_write_in_place, register

Value = Any  # a tensor or a (nested) list of tensors, as Torch7 tables


def positive_dim(dimension: int, rank: int, n_input_dims: int | None) -> int:
    """Torch's _getPositiveDimension (1-based): negative counts from the end, else +1 for a batch."""
    if dimension < 0:
        return rank + dimension + 1
    if n_input_dims is not None and rank == n_input_dims + 1:
        return dimension + 1
    return dimension


class Container(TorchModule):
    """A module whose Torch7 object holds child modules (``modules``)."""

    child_field = "modules"


@register("Sequential")
class Sequential(Container):
    def forward(self, x: Value) -> Value:
        for module in self.submodules:
            x = module(x)
        return x


@register("Concat")
class Concat(Container):
    """Every branch on the same input, joined along ``dimension`` (absolute, no batch shift)."""

    scratch = {"outputSize": 0}

    options_spec = {"dimension": REQUIRED}

    def forward(self, x: Value) -> torch.Tensor:
        return torch.cat([module(x) for module in self.submodules], self.options["dimension"] - 1)


@register("DepthConcat")
class DepthConcat(Container):
    """Concat that centres smaller branches in zeros: each starts at floor((max - size) / 2)."""

    scratch = {"outputSize": 0}

    options_spec = {"dimension": REQUIRED}

    def forward(self, x: Value) -> torch.Tensor:
        outputs = [module(x) for module in self.submodules]
        dim = self.options["dimension"] - 1
        size = [max(o.shape[d] for o in outputs) for d in range(outputs[0].dim())]
        size[dim] = sum(o.shape[dim] for o in outputs)
        result = outputs[0].new_zeros(size)
        offset = 0
        for output in outputs:
            window = result.narrow(dim, offset, output.shape[dim])
            for d in range(output.dim()):
                if d != dim and output.shape[d] != size[d]:
                    window = window.narrow(d, (size[d] - output.shape[d]) // 2, output.shape[d])
            window.copy_(output)
            offset += output.shape[dim]
        return result


@register("ConcatTable")
class ConcatTable(Container):
    table_output = True

    def forward(self, x: Value) -> list:
        return [module(x) for module in self.submodules]


@register("ParallelTable")
class ParallelTable(Container):
    table_output = table_input = True

    def forward(self, x: list) -> list:
        return [module(x[i]) for i, module in enumerate(self.submodules)]


@register("MapTable")
class MapTable(Container):
    """One module (its parameters shared) applied to every element; files keep one clone."""

    table_output = table_input = True
    child_field = "module"

    def forward(self, x: list) -> list:
        return [self.submodules[0](element) for element in x]


@register("Identity")
class Identity(TorchModule):
    def forward(self, x: Value) -> Value:
        return x


@register("JoinTable")
class JoinTable(TorchModule):
    scratch = {"size": 0}
    options_spec = {"dimension": REQUIRED, "nInputDims": None}
    table_input = True

    def forward(self, x: list) -> torch.Tensor:
        dim = positive_dim(self.options["dimension"], x[0].dim(), self.options["nInputDims"])
        return torch.cat(list(x), dim - 1)


@register("SplitTable")
class SplitTable(TorchModule):
    options_spec = {"dimension": REQUIRED, "nInputDims": None}
    table_output = True

    def forward(self, x: torch.Tensor) -> list:
        dim = positive_dim(self.options["dimension"], x.dim(), self.options["nInputDims"])
        return list(x.unbind(dim - 1))


@register("SelectTable")
class SelectTable(TorchModule):
    options_spec = {"index": REQUIRED}
    table_input = True

    @classmethod
    def refusal(cls, obj) -> str | None:
        index = obj.get("index")
        return None if isinstance(index, int) and index != 0 else f"index {index!r} is not a non-zero integer"

    def forward(self, x: list) -> Value:
        index = self.options["index"]
        return x[index - 1] if index > 0 else x[len(x) + index]


@register("NarrowTable")
class NarrowTable(TorchModule):
    options_spec = {"offset": REQUIRED, "length": 1}
    table_output = table_input = True

    def forward(self, x: list) -> list:
        start = self.options["offset"] - 1
        return list(x[start : start + self.options["length"]])


@register("FlattenTable")
class FlattenTable(TorchModule):
    table_output = table_input = True

    def forward(self, x: Value) -> list:
        if isinstance(x, torch.Tensor):
            return [x]
        return [leaf for element in x for leaf in self.forward(element)]


@register("CAddTable")
class CAddTable(TorchModule):
    """Sum of the inputs; in place (``inplace``) it writes into the first input, as Torch7 does."""

    options_spec = {"inplace": False}
    table_input = True

    def forward(self, x: list) -> torch.Tensor:
        out = x[0] if self.options["inplace"] and may_write_in_place(x[0]) else x[0].clone()
        for other in x[1:]:
            out = out.add_(other) if may_write_in_place(out) else out + other
        return out


@register("CSubTable")
class CSubTable(TorchModule):
    table_input = True

    def forward(self, x: list) -> torch.Tensor:
        return x[0] - x[1]


@register("CMulTable")
class CMulTable(TorchModule):
    table_input = True

    def forward(self, x: list) -> torch.Tensor:
        out = x[0].clone()
        for other in x[1:]:
            out = out * other
        return out


@register("CDivTable")
class CDivTable(TorchModule):
    table_input = True

    def forward(self, x: list) -> torch.Tensor:
        return x[0] / x[1]


class _ExtremumTable(TorchModule):
    """Element-wise max or min over a table; ties keep the earlier input, as Torch's strict gt/lt mask."""

    table_input = True
    wins: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def forward(self, x: list) -> torch.Tensor:
        out = x[0]
        for other in x[1:]:
            out = torch.where(self.wins(other, out), other, out)
        return out.clone() if out is x[0] else out


@register("CMaxTable")
class CMaxTable(_ExtremumTable):
    scratch = {"maxIdx": "tensor", "mask": "tensor", "maxVals": "tensor", "gradMaxVals": "tensor"}
    wins = staticmethod(torch.gt)


@register("CMinTable")
class CMinTable(_ExtremumTable):
    scratch = {"minIdx": "tensor", "mask": "tensor", "minVals": "tensor", "gradMaxVals": "tensor"}
    wins = staticmethod(torch.lt)
