"""SoundNet as plain PyTorch layers, for TorchScript and ONNX.

SoundNet itself takes numpy arrays and four input layouts, walks its architecture table by name and
picks a convolution path per call (polyphase, im2col, conv) for CPU speed: all of that is Python that
TorchScript cannot compile and that an exported graph does not need. PortableSoundNet runs the same
layers as stock nn.Conv1d / BatchNorm1d / ReLU / MaxPool1d sharing the model's tensors (no copy), so
its outputs equal SoundNet.forward_features' up to float summation order. `torch.jit.script(model)` scripts it
(SoundNet.__prepare_scriptable__), and soundnet.formats.onnx_export exports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from .architecture import Layer

if TYPE_CHECKING:
    from .network import SoundNet

OUTPUT_NAMES = {"heads": ["objects", "scenes"], "classifier": ["logits"]}


def _conv(source: nn.Conv1d) -> nn.Conv1d:
    padding = source.padding if isinstance(source.padding, str) else source.padding[0]
    conv = nn.Conv1d(
        source.in_channels,
        source.out_channels,
        source.kernel_size[0],
        source.stride[0],
        padding,
        bias=source.bias is not None,
        device="meta",
    )
    conv.weight, conv.bias = source.weight, source.bias
    return conv


def _batch_norm(source: nn.BatchNorm1d) -> nn.BatchNorm1d:
    norm = nn.BatchNorm1d(source.num_features, source.eps, source.momentum, device="meta")
    norm.weight, norm.bias = source.weight, source.bias
    norm.running_mean, norm.running_var = source.running_mean, source.running_var
    norm.num_batches_tracked = source.num_batches_tracked
    return norm


class PortableSoundNet(nn.Module):
    """The layers of `model` up to `layer` (default: its head) as stock modules; eval-mode inference.

    forward takes B x N or B x 1 x N (scaled to [-256, 256], the model's dtype) and returns a list: the
    two head outputs (objects, scenes: B x C x T) for the head of a teacher net, the classifier's logits
    (B x N x T) for a fine-tuned one, or the one feature map (B x C x T) of an earlier layer.
    """

    def __init__(self, model: SoundNet, layer: int | str | Layer | None = None):
        super().__init__()
        architecture = model.architecture
        target = layer if isinstance(layer, Layer) else architecture.layer(layer or architecture.head.index)
        self.layer_name = target.name
        self.body = nn.Sequential()
        for spec in architecture.body:
            if spec.index > target.index:
                break
            source = getattr(model, spec.name)
            if spec.kind == "conv":
                self.body.add_module(spec.name, _conv(source))
            elif spec.kind == "bn":
                self.body.add_module(spec.name, _batch_norm(source))
            elif spec.kind == "relu":
                self.body.add_module(spec.name, nn.ReLU())
            else:
                self.body.add_module(spec.name, nn.MaxPool1d(spec.kernel, spec.stride))
        heads = model.head_modules() if target.index == architecture.head.index else []
        self.heads = nn.ModuleList([_conv(cast(nn.Conv1d, head)) for head in heads])
        self.output_names = OUTPUT_NAMES.get(target.kind, [target.name])
        self.train(model.training)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        x = self.body(x)
        if len(self.heads) == 0:
            return [x]
        return [head(x) for head in self.heads]
