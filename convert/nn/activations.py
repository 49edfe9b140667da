"""Pointwise modules: activations, constants, scalings, dropout, softmax; Torch7's in-place flags kept."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import REQUIRED, TorchModule, may_write_in_place, register


class Pointwise(TorchModule):
    """out = f(x); with ``inplace`` set the result is written over the input, as Torch7 does."""

    def function(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.function(x)
        if self.options.get("inplace") and may_write_in_place(x):
            return x.copy_(out)
        return out


@register("Threshold")
class Threshold(Pointwise):
    options_spec = {"threshold": 1e-6, "val": 0, "inplace": False}

    def function(self, x):
        return x.masked_fill(x <= self.options["threshold"], self.options["val"])


@register("ReLU")
class ReLU(Threshold):
    options_spec = {"threshold": 0, "val": 0, "inplace": False}


@register("HardTanh")
class HardTanh(Pointwise):
    options_spec = {"min_val": -1, "max_val": 1, "inplace": False}

    def function(self, x):
        return x.clamp(self.options["min_val"], self.options["max_val"])


@register("Clamp")
class Clamp(HardTanh):
    options_spec = {"min_val": REQUIRED, "max_val": REQUIRED, "inplace": False}


@register("ReLU6")
class ReLU6(Pointwise):
    options_spec = {"inplace": False}

    def function(self, x):
        return x.clamp(0, 6)


@register("LeakyReLU")
class LeakyReLU(Pointwise):
    options_spec = {"negval": 0.01, "inplace": False}

    def function(self, x):
        return torch.where(x > 0, x, x * self.options["negval"])


@register("RReLU")
class RReLU(Pointwise):
    """In evaluate() a leaky ReLU with the mean slope (lower + upper) / 2; random in training."""

    scratch = {"noise": "tensor"}

    options_spec = {"lower": 1 / 8, "upper": 1 / 3, "inplace": False}

    def function(self, x):
        lower, upper = self.options["lower"], self.options["upper"]
        if self.training:
            return F.rrelu(x, lower, upper, training=True)
        return torch.where(x <= 0, x * ((lower + upper) / 2), x)


@register("ELU")
class ELU(Pointwise):
    options_spec = {"alpha": 1, "inplace": False}

    def function(self, x):
        return torch.where(x <= 0, (torch.exp(x) - 1) * self.options["alpha"], x)


@register("PReLU")
class PReLU(TorchModule):
    """One slope, or one per channel: dim 1 of a 1-D/3-D input, dim 2 of a 2-D/4-D input (THNN)."""

    options_spec = {"nOutputPlane": 0}
    learnable = ("weight",)
    weight: torch.Tensor

    def forward(self, x):
        weight = self.weight
        if self.options["nOutputPlane"]:
            channel = 1 if x.dim() in (2, 4) else 0
            shape = [1] * x.dim()
            shape[channel] = -1
            weight = weight.view(shape)
        else:
            weight = weight[0]
        return torch.where(x > 0, x, x * weight)


def _unary(name: str, function) -> type[Pointwise]:
    cls = type(name, (Pointwise,), {"function": lambda self, x: function(x), "__doc__": f"Torch7's nn.{name}."})
    return register(name)(cls)


Tanh = _unary("Tanh", torch.tanh)
Sigmoid = _unary("Sigmoid", torch.sigmoid)
Abs = _unary("Abs", torch.abs)
Square = _unary("Square", lambda x: x * x)
Exp = _unary("Exp", torch.exp)
Log = _unary("Log", torch.log)
SoftSign = _unary("SoftSign", lambda x: x / (1 + x.abs()))


@register("Sqrt")
class Sqrt(Pointwise):
    options_spec = {"eps": 0}

    def function(self, x):
        return torch.sqrt(x + self.options["eps"])


@register("Power")
class Power(Pointwise):
    options_spec = {"pow": REQUIRED}

    def function(self, x):
        return torch.pow(x, self.options["pow"])


@register("SoftPlus")
class SoftPlus(Pointwise):
    options_spec = {"beta": 1, "threshold": 20}

    def function(self, x):
        beta = self.options["beta"]
        return torch.where(x * beta > self.options["threshold"], x, torch.log1p(torch.exp(x * beta)) / beta)


@register("MulConstant")
class MulConstant(Pointwise):
    options_spec = {"constant_scalar": REQUIRED, "inplace": False}

    def function(self, x):
        return x * self.options["constant_scalar"]


@register("AddConstant")
class AddConstant(Pointwise):
    options_spec = {"constant_scalar": REQUIRED, "inplace": False}

    @classmethod
    def refusal(cls, obj):
        scalar = obj.get("constant_scalar")
        return None if isinstance(scalar, (int, float)) else "only a number constant_scalar is supported"

    def function(self, x):
        return x + self.options["constant_scalar"]


@register("Mul")
class Mul(TorchModule):
    learnable = ("weight",)
    weight: torch.Tensor

    def forward(self, x):
        return x * self.weight[0]


@register("CMul")
class CMul(TorchModule):
    """Element-wise weight: same element count as the input, same rank, or broadcast over a batch."""

    options_spec = {"size": None}
    storages = ("size",)
    learnable = ("weight",)
    weight: torch.Tensor

    def setup(self):
        if self.options["size"] is None:
            self.options["size"] = list(self.weight.shape)

    def forward(self, x):
        weight = self.weight
        if x.numel() == weight.numel():
            return (x.reshape(-1) * weight.reshape(-1)).view(x.shape)
        if weight.dim() == x.dim():
            return x * weight
        return (x.reshape(x.shape[0], -1) * weight.reshape(1, -1)).view(x.shape)


@register("Add")
class Add(TorchModule):
    """A learned bias: one scalar, the input's own shape, or one per feature over a batch."""

    scratch = {"_ones": [1.0]}

    options_spec = {"scalar": False}
    learnable = ("bias",)
    bias: torch.Tensor

    def forward(self, x):
        if self.options["scalar"]:
            return x + self.bias[0]
        if x.shape == self.bias.shape:
            return x + self.bias
        return (x.reshape(x.shape[0], -1) + self.bias.reshape(1, -1)).view(x.shape)


def softmax_dim(module: TorchModule, x: torch.Tensor) -> int:
    """THNN's rule: dim 1 of a 1-D or 3-D input (C x H x W), dim 2 of a 2-D or 4-D input (0-based here)."""
    if x.dim() not in (1, 2, 3, 4):
        raise ValueError(f"{module.torch_class} takes 1-D to 4-D inputs, got {x.dim()}-D")
    return 1 if x.dim() in (2, 4) else 0


@register("SoftMax")
class SoftMax(TorchModule):
    def forward(self, x):
        return F.softmax(x, softmax_dim(self, x))


@register("SpatialSoftMax")
class SpatialSoftMax(SoftMax):
    pass


@register("LogSoftMax")
class LogSoftMax(TorchModule):
    def forward(self, x):
        return F.log_softmax(x, softmax_dim(self, x))


class StochasticInEval(TorchModule):
    @classmethod
    def refusal(cls, obj):
        if obj.get("stochastic_inference"):
            return "stochastic_inference is set: its evaluate() output is random (a training-only state)"
        return None


@register("Dropout")
class Dropout(StochasticInEval):
    """Identity in evaluate(); files without v2 (nn before v2 dropout) scale by 1 - p instead."""

    scratch = {"noise": "tensor"}

    options_spec = {"p": 0.5, "v2": False, "inplace": False}

    def forward(self, x):
        p = self.options["p"]
        if self.training:
            out = F.dropout(x, p, True)
            return out if self.options["v2"] else out * (1 - p)
        if not self.options["v2"] and p > 0:
            return x.mul_(1 - p) if self.options["inplace"] and may_write_in_place(x) else x * (1 - p)
        return x if self.options["inplace"] else x.clone()


@register("SpatialDropout", "VolumetricDropout")
class SpatialDropout(StochasticInEval):
    """Whole feature maps dropped in training; evaluate() scales by 1 - p."""

    scratch = {"noise": "tensor"}

    options_spec = {"p": 0.5}

    def forward(self, x):
        p = self.options["p"]
        if self.training:
            mask = x.new_empty(x.shape[:-2] if x.dim() in (3, 4) else x.shape[:-3]).bernoulli_(1 - p)
            return x * mask.view(*mask.shape, *([1] * (x.dim() - mask.dim())))
        return x * (1 - p)


@register("GradientReversal")
class GradientReversal(TorchModule):
    options_spec = {"lambda": 1}

    def forward(self, x):
        return x


@register("Copy")
class Copy(TorchModule):
    """A copy of the input (values only: every tensor of the converted net is float32)."""

    def forward(self, x):
        return x.clone()


@register("Contiguous")
class Contiguous(TorchModule):
    def forward(self, x):
        return x.contiguous()
