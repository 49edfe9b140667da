"""Layers with weights: linear maps, convolutions, batch normalisation, lookup tables, distances."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .base import REQUIRED, TorchModule, register, t7_tensor


def batched(x: torch.Tensor, rank: int) -> tuple[torch.Tensor, bool]:
    """(x with a batch dim, whether one was added): a module of `rank`-D batches also takes rank-1 inputs."""
    return (x.unsqueeze(0), True) if x.dim() == rank - 1 else (x, False)


def check_size(weight: torch.Tensor | None, shape: list[int]) -> None:
    """A weight must hold exactly the elements of `shape` (files keep 2-D or 4-D layouts of the same data)."""
    if weight is not None and weight.numel() != math.prod(shape):
        raise ValueError(f"weight of {weight.numel()} elements does not fit {'x'.join(map(str, shape))}")


def check_rank(module: TorchModule, x: torch.Tensor, ranks: tuple[int, ...]) -> None:
    if x.dim() not in ranks:
        raise ValueError(f"{module.torch_class} takes {' or '.join(map(str, ranks))}-D inputs, got {x.dim()}-D")


@register("Linear")
class Linear(TorchModule):
    learnable = ("weight", "bias")
    weight: torch.Tensor
    bias: torch.Tensor | None

    def forward(self, x):
        check_rank(self, x, (1, 2))
        return F.linear(x, self.weight, self.bias)


@register("Bilinear")
class Bilinear(TorchModule):
    learnable = ("weight", "bias")
    weight: torch.Tensor
    bias: torch.Tensor | None
    table_input = True

    def forward(self, x):
        return F.bilinear(x[0], x[1], self.weight, self.bias)


class Convolution(TorchModule):
    """Shared by the spatial convolutions: weights of any stored layout viewed as out x in x kH x kW."""

    learnable = ("weight", "bias")
    weight: torch.Tensor
    bias: torch.Tensor | None
    aliases = {"padding": "padW"}

    @classmethod
    def read_options(cls, obj, path):
        options = super().read_options(obj, path)
        if obj.get("padH") is None and obj.get("padding") is not None:  # nn before padW/padH
            options["padH"] = obj.get("padding")
        return options

    def setup(self):
        o = self.options
        check_size(self.weight, [o["nOutputPlane"], o["nInputPlane"] // o.get("groups", 1), o["kH"], o["kW"]])

    def kernel(self) -> torch.Tensor:
        o = self.options
        return self.weight.view(o["nOutputPlane"], o["nInputPlane"] // o.get("groups", 1), o["kH"], o["kW"])

    def forward(self, x):
        check_rank(self, x, (3, 4))
        x, added = batched(x, 4)
        o = self.options
        y = F.conv2d(
            x,
            self.kernel(),
            self.bias,
            (o["dH"], o["dW"]),
            (o["padH"], o["padW"]),
            (o.get("dilationH", 1), o.get("dilationW", 1)),
            o.get("groups", 1),
        )
        return y[0] if added else y


@register("SpatialConvolution", "SpatialConvolutionMM")
class SpatialConvolution(Convolution):
    options_spec = {
        "nInputPlane": REQUIRED,
        "nOutputPlane": REQUIRED,
        "kW": REQUIRED,
        "kH": REQUIRED,
        "dW": 1,
        "dH": 1,
        "padW": 0,
        "padH": 0,
        "groups": 1,
    }


@register("SpatialDilatedConvolution")
class SpatialDilatedConvolution(Convolution):
    options_spec = {**SpatialConvolution.options_spec, "dilationW": 1, "dilationH": 1}


@register("SpatialFullConvolution")
class SpatialFullConvolution(TorchModule):
    """Transposed convolution; weight nIn x nOut x kH x kW; out = (in - 1) d - 2 pad + k + adj."""

    options_spec = {
        "nInputPlane": REQUIRED,
        "nOutputPlane": REQUIRED,
        "kW": REQUIRED,
        "kH": REQUIRED,
        "dW": 1,
        "dH": 1,
        "padW": 0,
        "padH": 0,
        "adjW": 0,
        "adjH": 0,
    }
    learnable = ("weight", "bias")
    weight: torch.Tensor
    bias: torch.Tensor | None

    def setup(self):
        o = self.options
        check_size(self.weight, [o["nInputPlane"], o["nOutputPlane"], o["kH"], o["kW"]])

    def forward(self, x):
        check_rank(self, x, (3, 4))
        x, added = batched(x, 4)
        o = self.options
        weight = self.weight.view(o["nInputPlane"], o["nOutputPlane"], o["kH"], o["kW"])
        y = F.conv_transpose2d(x, weight, self.bias, (o["dH"], o["dW"]), (o["padH"], o["padW"]), (o["adjH"], o["adjW"]))
        return y[0] if added else y


@register("TemporalConvolution")
class TemporalConvolution(TorchModule):
    """Input T x frame or B x T x frame; the weight out x (kW * in) is kW-major."""

    options_spec = {"inputFrameSize": REQUIRED, "outputFrameSize": REQUIRED, "kW": REQUIRED, "dW": 1}
    learnable = ("weight", "bias")
    weight: torch.Tensor
    bias: torch.Tensor | None

    @classmethod
    def refusal(cls, obj):
        if obj.typename.startswith("cudnn."):
            return "cudnn's TemporalConvolution keeps a SpatialConvolution layout (kH, padH), which is not supported"
        return None

    def setup(self):
        o = self.options
        check_size(self.weight, [o["outputFrameSize"], o["kW"], o["inputFrameSize"]])

    def forward(self, x):
        check_rank(self, x, (2, 3))
        x, added = batched(x, 3)
        o = self.options
        weight = self.weight.view(o["outputFrameSize"], o["kW"], o["inputFrameSize"]).transpose(1, 2)
        y = F.conv1d(x.transpose(1, 2), weight, self.bias, o["dW"]).transpose(1, 2)
        return y[0] if added else y


@register("VolumetricConvolution")
class VolumetricConvolution(TorchModule):
    options_spec = {
        "nInputPlane": REQUIRED,
        "nOutputPlane": REQUIRED,
        "kT": REQUIRED,
        "kW": REQUIRED,
        "kH": REQUIRED,
        "dT": 1,
        "dW": 1,
        "dH": 1,
        "padT": 0,
        "padW": 0,
        "padH": 0,
    }
    learnable = ("weight", "bias")
    weight: torch.Tensor
    bias: torch.Tensor | None

    def setup(self):
        o = self.options
        check_size(self.weight, [o["nOutputPlane"], o["nInputPlane"], o["kT"], o["kH"], o["kW"]])

    def forward(self, x):
        check_rank(self, x, (4, 5))
        x, added = batched(x, 5)
        o = self.options
        weight = self.weight.view(o["nOutputPlane"], o["nInputPlane"], o["kT"], o["kH"], o["kW"])
        y = F.conv3d(x, weight, self.bias, (o["dT"], o["dH"], o["dW"]), (o["padT"], o["padH"], o["padW"]))
        return y[0] if added else y


@register("BatchNormalization")
class BatchNormalization(TorchModule):
    """Evaluate mode: (x - mean) / sqrt(var + eps) * w + b over dim 2; an unbatched input gains a batch dim.

    Files of class version < 2 hold running_std = 1 / sqrt(var + eps) (converted as nn's BN:read does).
    """

    options_spec = {"eps": 1e-5, "momentum": 0.1, "affine": True}
    learnable = ("weight", "bias")
    kept = ("running_mean", "running_var")
    optional = ("weight", "bias")
    weight: torch.Tensor | None
    bias: torch.Tensor | None
    running_mean: torch.Tensor
    running_var: torch.Tensor
    rank = 2

    @classmethod
    def read_tensors(cls, obj, path):
        tensors = super().read_tensors(obj, path)
        std = obj.get("running_std")
        if tensors["running_var"] is None and isinstance(std, np.ndarray) and std.size:
            std = torch.from_numpy(np.array(std, dtype=np.float32))
            tensors["running_var"] = std.pow(-2) - obj.get("eps", 1e-5)
        return tensors

    @classmethod
    def refusal(cls, obj):
        def has(name: str) -> bool:
            return isinstance(obj.get(name), np.ndarray) and obj.get(name).size > 0

        if not has("running_mean") or not (has("running_var") or has("running_std")):
            return "no running statistics (a training-only state): evaluate() has nothing to normalise with"
        return None

    def forward(self, x):
        rank = self.rank
        check_rank(self, x, (rank - 1, rank))
        if x.dim() == rank - 1 and not self.training:
            x = x.unsqueeze(0)
        training = self.training and x.shape[0] > 1  # nn: a batch of one uses the running statistics
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training,
            self.options["momentum"],
            self.options["eps"],
        )


def _with_rank(name: str, rank: int) -> type[BatchNormalization]:
    cls = type(name, (BatchNormalization,), {"rank": rank, "__doc__": f"nn.{name}: {rank}-D batches."})
    return register(name)(cls)


SpatialBatchNormalization = _with_rank("SpatialBatchNormalization", 4)
VolumetricBatchNormalization = _with_rank("VolumetricBatchNormalization", 5)


@register("SpatialCrossMapLRN")
class SpatialCrossMapLRN(TorchModule):
    """x * (k + alpha / size * sum of x^2 over `size` neighbouring channels, clipped at the borders)^-beta."""

    options_spec = {"size": REQUIRED, "alpha": 1e-4, "beta": 0.75, "k": 1}

    @classmethod
    def refusal(cls, obj):
        return None if obj.get("size", 0) % 2 == 1 else f"an even size ({obj.get('size')}) is not supported"

    def forward(self, x):
        check_rank(self, x, (3, 4))
        x, added = batched(x, 4)
        o = self.options
        y = F.local_response_norm(x, o["size"], o["alpha"], o["beta"], o["k"])
        return y[0] if added else y


@register("SpatialSubtractiveNormalization")
class SpatialSubtractiveNormalization(TorchModule):
    """x minus its local weighted mean over all planes, divided by the kernel mass inside the image."""

    options_spec = {"nInputPlane": 1}
    kept = ("kernel",)
    kernel: torch.Tensor

    @classmethod
    def refusal(cls, obj):
        kernel = obj.get("kernel")
        return None if isinstance(kernel, np.ndarray) and kernel.ndim == 2 else "only a 2-D kernel is supported"

    def torch_fields(self):
        """nn builds the mean estimator (pad, conv, replicate) and its helpers in __init__; write them too."""
        from .containers import CDivTable, CSubTable, Sequential
        from .pooling import SpatialZeroPadding
        from .shapes import Replicate
        from .tree import to_t7

        planes, (kh, kw) = self.options["nInputPlane"], self.kernel.shape
        conv = SpatialConvolution(
            {"nInputPlane": planes, "nOutputPlane": 1, "kW": kw, "kH": kh, "dW": 1, "dH": 1, "padW": 0, "padH": 0},
            {"weight": self.kernel.expand(1, planes, kh, kw).clone(), "bias": self.kernel.new_zeros(1)},
        )
        estimator = Sequential(
            {},
            {},
            [
                SpatialZeroPadding({"pad_l": kw // 2, "pad_r": kw // 2, "pad_t": kh // 2, "pad_b": kh // 2}, {}),
                conv,
                Replicate({"nfeatures": planes, "dim": 1, "ndim": 3}, {}),
            ],
        )
        return {
            **super().torch_fields(),
            "meanestimator": to_t7(estimator),
            "subtractor": to_t7(CSubTable({}, {})),
            "divider": to_t7(CDivTable({}, {})),
            "coef": t7_tensor(self.kernel.new_ones(1, 1, 1)),
        }

    def local_mean(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel.shape
        weight = self.kernel.expand(1, self.options["nInputPlane"], kh, kw)
        return F.conv2d(F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2)), weight)

    def forward(self, x):
        check_rank(self, x, (3, 4))
        x, added = batched(x, 4)
        coef = self.local_mean(torch.ones_like(x[:1]))
        y = x - self.local_mean(x) / coef
        return y[0] if added else y


@register("LookupTable")
class LookupTable(TorchModule):
    """Rows of the weight for 1-based indices (a vector, or a batch matrix); maxNorm renorms in forward."""

    options_spec = {"paddingValue": 0, "maxNorm": None, "normType": None}
    learnable = ("weight",)
    weight: torch.Tensor

    def forward(self, x):
        check_rank(self, x, (1, 2))
        o = self.options
        return F.embedding(x.long() - 1, self.weight, max_norm=o["maxNorm"], norm_type=o["normType"] or 2.0)


@register("Normalize")
class Normalize(TorchModule):
    """x / (sum |x|^p + eps)^(1/p) per row (p = inf: x / (max |x| + eps)); 1-D or 2-D inputs."""

    options_spec = {"p": REQUIRED, "eps": 1e-10}

    def forward(self, x):
        check_rank(self, x, (1, 2))
        rows = x.reshape(1, -1) if x.dim() == 1 else x
        p, eps = self.options["p"], self.options["eps"]
        if p == float("inf"):
            norm = rows.abs().amax(1, keepdim=True) + eps
        else:
            norm = (rows.abs().pow(p).sum(1, keepdim=True) + eps).pow(1 / p)
        return (rows / norm).view(x.shape)


@register("Euclidean")
class Euclidean(TorchModule):
    """Distance of the input to each column of the weight (inputSize x outputSize)."""

    learnable = ("weight",)
    weight: torch.Tensor

    def forward(self, x):
        check_rank(self, x, (1, 2))
        rows = x.reshape(1, -1) if x.dim() == 1 else x
        y = (rows[:, :, None] - self.weight[None]).norm(2, dim=1)
        return y[0] if x.dim() == 1 else y


@register("CosineDistance")
class CosineDistance(TorchModule):
    table_input = True

    def forward(self, x):
        a, b = (t.reshape(1, -1) if t.dim() == 1 else t for t in x)
        eps = 1e-12
        w = torch.sqrt(1 / ((a * a).sum(1) + eps) * (1 / ((b * b).sum(1) + eps)))
        return (a * b).sum(1) * w


@register("PairwiseDistance")
class PairwiseDistance(TorchModule):
    options_spec = {"norm": 2}
    table_input = True

    def forward(self, x):
        p = self.options["norm"]
        diff = (x[0] - x[1]).abs()
        if x[0].dim() == 1:
            return diff.pow(p).sum().pow(1 / p).reshape(1)
        return diff.pow(p).sum(1).pow(1 / p)


@register("MM")
class MM(TorchModule):
    options_spec = {"transA": False, "transB": False}
    table_input = True

    def forward(self, x):
        a, b = x
        if self.options["transA"]:
            a = a.transpose(-1, -2)
        if self.options["transB"]:
            b = b.transpose(-1, -2)
        return torch.matmul(a, b)


@register("MV")
class MV(TorchModule):
    options_spec = {"trans": False}
    table_input = True

    def forward(self, x):
        m, v = x
        if self.options["trans"]:
            m = m.transpose(-1, -2)
        return torch.matmul(m, v.unsqueeze(-1)).squeeze(-1)


@register("Constant")
class Constant(TorchModule):
    """The stored value, repeated over the batch when the input has more than nInputDim dims."""

    options_spec = {"nInputDim": None}
    kept = ("value",)
    value: torch.Tensor

    def forward(self, x):
        dims = self.options["nInputDim"]
        if dims is not None and x.dim() > dims:
            return self.value.expand(x.shape[0], *self.value.shape).clone()
        return self.value.clone()


@register("Index")
class Index(TorchModule):
    options_spec = {"dimension": REQUIRED}
    table_input = True

    def forward(self, x):
        return x[0].index_select(self.options["dimension"] - 1, x[1].long() - 1)
