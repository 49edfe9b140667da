"""From a SoundNet model back to the original Torch7 module structure, written with convert.write_t7.

The tree mirrors what Torch7 itself saved after `getParameters()` and `clearState()`: the original top-level
modules (28 for SoundNet8) with the fields modern nn writes, every weight and bias a view into ONE flat
storage and every gradWeight/gradBias into a second one, BN with running_var and class version 2.
`layout="released"` writes what the released GPU checkpoints looked like instead: cudnn.* convolutions,
ReLUs and poolings with cudnn's extra fields, and torch.CudaTensor everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import convert
import convert.nn
from convert.objects import empty_tensor
from convert.types import TENSOR_TYPES

from ..atomic import atomic_path
from ..model.architecture import SAMPLE_RATE, Layer
from ..model.network import SoundNet

LAYOUTS = ("torch", "released")
CLIP_SAMPLES = 20 * SAMPLE_RATE  # SpatialMaxPooling keeps the input size of its last forward (a 20 s clip)
BN_VERSION = 2  # nn's SpatialBatchNormalization.__version since running_var replaced running_std


class _TreeBuilder:
    """Builds TorchObjects whose parameters are views into shared flat storages, as getParameters leaves them."""

    def __init__(self, model: SoundNet, layout: str):
        if layout not in LAYOUTS:
            raise ValueError(f"unknown t7 layout {layout!r}; choose from {', '.join(LAYOUTS)}")
        if layout == "released" and model.architecture.has_custom_head:
            raise ValueError("the released layout has no custom heads; write the torch layout")
        self.model = model
        self.cuda = layout == "released"
        self.tensor_type = "torch.CudaTensor" if self.cuda else "torch.FloatTensor"
        params = [p.detach().cpu().float().numpy().ravel() for p in self._parameters_in_torch_order()]
        flat = np.concatenate(params)
        self.weights, self.grads = self.storage(flat), self.storage(np.zeros_like(flat))
        self.offset = 0

    def _parameters_in_torch_order(self) -> list:
        """getParameters() order: module by module, weight then bias."""
        return [param for module in self._parameter_modules() for param in (module.weight, module.bias)]

    def _parameter_modules(self) -> list:
        arch = self.model.architecture
        body = [getattr(self.model, layer.name) for layer in arch.body if layer.kind in ("conv", "bn")]
        return body if arch.has_custom_head else body + self.model.head_modules()

    def storage(self, values: np.ndarray, tensor_type: str | None = None) -> convert.Storage:
        typename = TENSOR_TYPES[tensor_type or self.tensor_type].storage
        return convert.Storage.from_array(values, typename=typename)

    def views(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        """The next parameter as (weight view, grad view) at the same offset of the two flat storages."""
        count = int(np.prod(shape))
        strides = tuple(int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
        pair = tuple(
            convert.make_tensor(storage, self.offset, shape, strides, typename=self.tensor_type)
            for storage in (self.weights, self.grads)
        )
        self.offset += count
        return pair

    def empty(self) -> Any:
        return empty_tensor(self.tensor_type)

    def own(self, values: Any, tensor_type: str | None = None) -> Any:
        """A tensor with a storage of its own (running statistics, cudnn's size buffers)."""
        values = np.asarray(values, dtype=np.float32 if tensor_type is None else None)
        storage = self.storage(values, tensor_type)
        return convert.make_tensor(
            storage, 0, values.shape, [1] * values.ndim, typename=tensor_type or self.tensor_type
        )

    def module(self, typename: str, fields: dict[str, Any], version: int = 1, train: bool = True) -> Any:
        base = {"_type": self.tensor_type, "output": self.empty(), "gradInput": self.empty()}
        if train:
            base["train"] = False
        return convert.TorchObject(typename, {**base, **fields}, version)

    def package(self, kind: str) -> str:
        return "cudnn" if self.cuda and kind in ("conv", "relu", "pool") else "nn"

    def conv(self, module: Any, train: bool = True) -> Any:
        out_channels, in_channels, kernel = module.weight.shape
        weight, grad_weight = self.views((out_channels, in_channels, kernel, 1))
        bias, grad_bias = self.views((out_channels,))
        fields = {
            "nInputPlane": in_channels,
            "nOutputPlane": out_channels,
            "kW": 1,
            "kH": kernel,
            "dW": 1,
            "dH": module.stride[0],
            "padW": 0,
            "padH": module.padding[0],
            "weight": weight,
            "bias": bias,
            "gradWeight": grad_weight,
            "gradBias": grad_bias,
        }
        if train:
            fields.update(finput=self.empty(), fgradInput=self.empty())
        if self.cuda:
            fields.update(groups=1, iSize=self.own(np.zeros(4, np.int64), "torch.LongTensor"))
        return self.module(f"{self.package('conv')}.SpatialConvolution", fields, train=train)

    def layer(self, layer: Layer, input_length: int) -> Any:
        module = getattr(self.model, layer.name)
        if layer.kind == "conv":
            return self.conv(module)
        if layer.kind == "bn":
            weight, grad_weight = self.views(tuple(module.weight.shape))
            bias, grad_bias = self.views(tuple(module.bias.shape))
            return self.module(
                "nn.SpatialBatchNormalization",
                {
                    "affine": True,
                    "eps": float(module.eps),
                    "momentum": float(module.momentum),
                    "weight": weight,
                    "bias": bias,
                    "gradWeight": grad_weight,
                    "gradBias": grad_bias,
                    "running_mean": self.own(module.running_mean),
                    "running_var": self.own(module.running_var),
                    "save_mean": self.empty(),
                    "save_std": self.empty(),
                },
                version=BN_VERSION,
            )
        if layer.kind == "relu":
            return self.module(f"{self.package('relu')}.ReLU", {"inplace": True, "threshold": 0, "val": 0})
        return self.module(
            f"{self.package('pool')}.SpatialMaxPooling",
            {
                "kW": 1,
                "kH": layer.kernel,
                "dW": 1,
                "dH": layer.stride,
                "padW": 0,
                "padH": 0,
                "ceil_mode": False,
                "indices": empty_tensor("torch.CudaLongTensor" if self.cuda else "torch.LongTensor"),
                "iheight": input_length,
                "iwidth": 1,
            },
        )

    def container(self, typename: str, modules: list, table_output: bool = True) -> Any:
        return self.module(typename, {"modules": modules, "output": {} if table_output else self.empty()})

    def teacher_tail(self, steps: int) -> list:
        """Modules 26-28: split both heads along time, flatten, LogSoftMax + Squeeze per step."""
        splits = [self.module("nn.SplitTable", {"dimension": 3, "output": {}}) for _ in range(2)]
        per_step = [
            self.container(
                "nn.Sequential",
                [self.module(f"nn.{name}", {}) for name in ("Contiguous", "LogSoftMax", "Squeeze")],
                table_output=False,
            )
            for _ in range(2 * steps)
        ]
        return [
            self.module("nn.ParallelTable", {"modules": splits, "output": {}, "gradInput": {}}),
            self.module("nn.FlattenTable", {"input_map": {}, "output": {}, "gradInput": {}}),
            self.module("nn.ParallelTable", {"modules": per_step, "output": {}, "gradInput": {}}),
        ]

    def tree(self) -> Any:
        arch = self.model.architecture
        modules, length = [], CLIP_SAMPLES
        for layer in arch.body:
            modules.append(self.layer(layer, length))
            length = layer.output_length(length)
        if arch.has_custom_head:  # the head's modules follow the body at the top level, as in the file
            modules.extend(convert.nn.to_t7(module) for module in self.model.head.submodules)
            return self.container("nn.Sequential", modules, table_output=False)
        if arch.is_classifier:
            classes = self.model.classes[0]
            modules.append(self.conv(self.model.classifier, train=False))
            modules.append(
                convert.TorchObject(
                    "nn.View",
                    {
                        "_type": self.tensor_type,
                        "output": self.empty(),
                        "gradInput": self.empty(),
                        "size": self.storage(np.array([classes], np.int64), "torch.LongTensor"),
                        "numElements": classes,
                        "numInputDims": 3,
                    },
                )
            )
            return self.container("nn.Sequential", modules, table_output=False)
        heads = [self.conv(module) for module in self.model.head_modules()]
        modules.append(self.container("nn.ConcatTable", heads))
        modules.extend(self.teacher_tail(arch.head.output_length(length)))
        return self.container("nn.Sequential", modules)


def model_to_t7_tree(model: SoundNet, layout: str = "torch") -> Any:
    """The Torch7 module tree of `model` as convert.TorchObjects (see the module docstring)."""
    return _TreeBuilder(model, layout).tree()


def export_t7(model: SoundNet, path: str | Path, *, layout: str = "torch", fmt: str = "binary") -> Path:
    """Write `model` as a .t7 file Torch7 loads with torch.load (ascii with fmt='ascii'), atomically."""
    tree = model_to_t7_tree(model, layout)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        convert.write_t7(tree, handle, format=fmt)
    return Path(path)
