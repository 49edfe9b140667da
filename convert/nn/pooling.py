"""Pooling, padding and up-sampling with Torch7's size rules (ceil mode, pad > 0 drop, centring)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F

from .base import REQUIRED, TorchModule, register
from .layers import batched, check_rank

LOWEST_FLOAT = float(torch.finfo(torch.float32).min)  # what Torch7's max pooling gives an empty window


def torch7_pool_size(size: int, kernel: int, stride: int, pad: int, ceil: bool, any_pad: bool) -> int:
    """THNN's output size: floor or ceil, then (when any pad is set) drop a last window starting past the input."""
    span = size + 2 * pad - kernel
    out = (math.ceil(span / stride) if ceil else span // stride) + 1
    if any_pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class MaxPooling(TorchModule):
    """Max pooling over the last `dims` axes; explicit padding reproduces Torch7's sizes in every case."""

    dims = 2
    axes: ClassVar[tuple[str, ...]] = ("H", "W")

    def geometry(self) -> list[tuple[int, int, int, int]]:
        """(kernel, stride, pad, dilation) per pooled axis, outermost first."""
        o = self.options
        return [(o["k" + a], o["d" + a], o.get("pad" + a, 0), o.get("dilation" + a, 1)) for a in self.axes]

    def forward(self, x):
        check_rank(self, x, (self.dims + 1, self.dims + 2))
        x, added = batched(x, self.dims + 2)
        geometry = self.geometry()
        any_pad = any(pad for _, _, pad, _ in geometry)
        pads = []
        for axis, (kernel, stride, pad, dilation) in enumerate(geometry):
            size = x.shape[2 + axis]
            reach = dilation * (kernel - 1) + 1
            out = torch7_pool_size(size, reach, stride, pad, bool(self.options.get("ceil_mode")), any_pad)
            pads.append((pad, (out - 1) * stride + reach - size - pad))
        flat = [p for pair in reversed(pads) for p in pair]
        x = F.pad(x, flat, value=LOWEST_FLOAT)
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self.dims - 1]
        y = pool(x, [g[0] for g in geometry], [g[1] for g in geometry], 0, [g[3] for g in geometry])
        return y[0] if added else y


@register("SpatialMaxPooling")
class SpatialMaxPooling(MaxPooling):
    options_spec = {"kW": REQUIRED, "kH": REQUIRED, "dW": None, "dH": None, "padW": 0, "padH": 0, "ceil_mode": False}

    def setup(self):
        self.options["dW"] = self.options["dW"] or self.options["kW"]
        self.options["dH"] = self.options["dH"] or self.options["kH"]


@register("SpatialDilatedMaxPooling")
class SpatialDilatedMaxPooling(SpatialMaxPooling):
    options_spec = {**SpatialMaxPooling.options_spec, "dilationW": 1, "dilationH": 1}


@register("VolumetricMaxPooling")
class VolumetricMaxPooling(SpatialMaxPooling):
    dims = 3
    axes = ("T", "H", "W")
    options_spec = {
        "kT": REQUIRED,
        "kW": REQUIRED,
        "kH": REQUIRED,
        "dT": None,
        "dW": None,
        "dH": None,
        "padT": 0,
        "padW": 0,
        "padH": 0,
        "ceil_mode": False,
    }

    def setup(self):
        super().setup()
        self.options["dT"] = self.options["dT"] or self.options["kT"]


@register("TemporalMaxPooling")
class TemporalMaxPooling(TorchModule):
    """Input T x frame or B x T x frame; windows along T."""

    options_spec = {"kW": REQUIRED, "dW": None}

    def setup(self):
        self.options["dW"] = self.options["dW"] or self.options["kW"]

    def forward(self, x):
        check_rank(self, x, (2, 3))
        x, added = batched(x, 3)
        y = F.max_pool1d(x.transpose(1, 2), self.options["kW"], self.options["dW"]).transpose(1, 2)
        return y[0] if added else y


class AveragePooling(TorchModule):
    """Average (or, with divide=false, sum) pooling; a window Torch7 keeps past PyTorch's last one is NaN."""

    dims = 2
    axes: ClassVar[tuple[str, ...]] = ("H", "W")

    def forward(self, x):
        check_rank(self, x, (self.dims + 1, self.dims + 2))
        x, added = batched(x, self.dims + 2)
        o = self.options
        kernel = [o["k" + a] for a in self.axes]
        stride = [o["d" + a] for a in self.axes]
        pad = [o.get("pad" + a, 0) for a in self.axes]
        ceil = bool(o.get("ceil_mode"))
        pool = {2: F.avg_pool2d, 3: F.avg_pool3d}[self.dims]
        y = pool(
            x,
            kernel,
            stride,
            pad,
            ceil,
            o.get("count_include_pad", True),
            divisor_override=None if o.get("divide", True) else 1,
        )
        for axis in range(self.dims):
            want = torch7_pool_size(x.shape[2 + axis], kernel[axis], stride[axis], pad[axis], ceil, any(pad))
            missing = want - y.shape[2 + axis]
            if missing > 0:
                shape = list(y.shape)
                shape[2 + axis] = missing
                y = torch.cat([y, y.new_full(shape, float("nan"))], 2 + axis)
        return y[0] if added else y


@register("SpatialAveragePooling")
class SpatialAveragePooling(AveragePooling):
    options_spec = {
        "kW": REQUIRED,
        "kH": REQUIRED,
        "dW": 1,
        "dH": 1,
        "padW": 0,
        "padH": 0,
        "ceil_mode": False,
        "count_include_pad": True,
        "divide": True,
    }


@register("VolumetricAveragePooling")
class VolumetricAveragePooling(AveragePooling):
    dims = 3
    axes = ("T", "H", "W")
    options_spec = {
        "kT": REQUIRED,
        "kW": REQUIRED,
        "kH": REQUIRED,
        "dT": 1,
        "dW": 1,
        "dH": 1,
        "padT": 0,
        "padW": 0,
        "padH": 0,
        "ceil_mode": False,
        "count_include_pad": True,
    }


class AdaptivePooling(TorchModule):
    """Output H x W; window i spans [floor(i * in / out), ceil((i + 1) * in / out)), as THNN and PyTorch."""

    options_spec = {"W": REQUIRED, "H": REQUIRED}
    function: ClassVar[Callable[..., torch.Tensor]]  # the PyTorch pooling function (subclasses)

    def forward(self, x):
        check_rank(self, x, (3, 4))
        return type(self).function(x, (self.options["H"], self.options["W"]))


@register("SpatialAdaptiveMaxPooling")
class SpatialAdaptiveMaxPooling(AdaptivePooling):
    function = staticmethod(F.adaptive_max_pool2d)


@register("SpatialAdaptiveAveragePooling")
class SpatialAdaptiveAveragePooling(AdaptivePooling):
    function = staticmethod(F.adaptive_avg_pool2d)


class Padding2d(TorchModule):
    """pad_l, pad_r, pad_t, pad_b on the last two axes (zero padding also crops with negative pads)."""

    options_spec = {"pad_l": REQUIRED, "pad_r": REQUIRED, "pad_t": REQUIRED, "pad_b": REQUIRED}
    mode = "constant"

    def forward(self, x):
        check_rank(self, x, (3, 4))
        o = self.options
        return F.pad(x, (o["pad_l"], o["pad_r"], o["pad_t"], o["pad_b"]), mode=self.mode)


@register("SpatialZeroPadding")
class SpatialZeroPadding(Padding2d):
    pass


@register("SpatialReflectionPadding")
class SpatialReflectionPadding(Padding2d):
    mode = "reflect"


@register("SpatialReplicationPadding")
class SpatialReplicationPadding(Padding2d):
    mode = "replicate"


@register("SpatialUpSamplingNearest")
class SpatialUpSamplingNearest(TorchModule):
    scratch = {"inputSize": 4, "outputSize": 4}
    options_spec = {"scale_factor": REQUIRED}

    def forward(self, x):
        check_rank(self, x, (3, 4))
        scale = self.options["scale_factor"]
        return x.repeat_interleave(scale, -2).repeat_interleave(scale, -1)


@register("SpatialUpSamplingBilinear")
class SpatialUpSamplingBilinear(TorchModule):
    """Output scale * H x scale * W (or oheight x owidth), corners aligned."""

    scratch = {"inputSize": 4, "outputSize": 4}

    options_spec = {"scale_factor": None, "oheight": None, "owidth": None}

    def forward(self, x):
        check_rank(self, x, (3, 4))
        x, added = batched(x, 4)
        o = self.options
        if o["scale_factor"] is not None:
            size = (x.shape[2] * o["scale_factor"], x.shape[3] * o["scale_factor"])
        else:
            size = (o["oheight"], o["owidth"])
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return y[0] if added else y
