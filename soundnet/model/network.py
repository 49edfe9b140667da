"""SoundNet as a PyTorch nn.Module built from the architecture table.

Submodules carry the names a reader expects (conv1, bn1, relu1, pool1, ..., object_head, scene_head or
classifier), so state-dict keys read like the paper. Inputs are raw waveforms already scaled to
[-256, 256]; the time axis is the last one (Torch used the H axis of B x 1 x N x 1).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .architecture import (OBJECT_CLASSES, SAMPLE_RATE, SCENE_CLASSES, Architecture, Layer,
                           get_architecture)
from ..errors import one_line
from .layers import TorchBatchNorm1d, TorchConv1d

if TYPE_CHECKING:
    from .weights import Weights



def eval_batch_norm_(module: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode BN written over x: (x - mean) / sqrt(var + eps) * w + b as one fused multiply-add.

    A fresh output per BN made BN slower than the convolutions on CPU (large fresh allocations are
    page-faulted on first touch); x is a conv output nobody else holds.
    """
    scale = torch.rsqrt(module.running_var + module.eps) * module.weight
    shift = module.bias - module.running_mean * scale
    return torch.addcmul(shift[:, None], x, scale[:, None], out=x)


def as_waveform_batch(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Accept N, B x N, B x 1 x N or Torch's B x 1 x N x 1; return float32 B x 1 x N."""
    x = torch.as_tensor(x)
    if x.dim() == 4 and x.shape[1] == 1 and x.shape[3] == 1:
        x = x[..., 0]
    elif x.dim() == 2:
        x = x[:, None, :]
    elif x.dim() == 1:
        x = x[None, None, :]
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"expected a waveform N, B x N, B x 1 x N or B x 1 x N x 1; got shape {tuple(x.shape)}")
    return x.float()


class SoundNet(nn.Module):
    """SoundNet8, SoundNet5 or the fine-tuned SoundNet8, with Torch7's exact layer semantics.

    widths: out channels of each conv block (default: the released full width).
    classes: (objects, scenes) for the teacher heads, or the class count of a fine-tuned classifier.
    """

    def __init__(self, architecture: str | Architecture = "soundnet8", widths: Sequence[int] | None = None,
                 classes: Sequence[int] | int | None = None):
        super().__init__()
        self.architecture = get_architecture(architecture)
        self.widths = tuple(widths or self.architecture.default_widths)
        if len(self.widths) != len(self.architecture.default_widths):
            raise ValueError(f"{self.architecture.name} has {len(self.architecture.default_widths)} conv blocks, "
                             f"got {len(self.widths)} widths")
        if self.architecture.is_classifier:
            if not isinstance(classes, int) or classes < 1:
                raise ValueError("a fine-tuned SoundNet needs classes=N (a positive int)")
            self.classes: tuple[int, ...] = (classes,)
        else:
            self.classes = tuple(classes or (OBJECT_CLASSES, SCENE_CLASSES))
        self.metadata: dict[str, Any] = {}
        self.weights: Weights | None = None  # what is known of these weights (soundnet.load sets it)
        for layer in self.architecture.body:
            self.add_module(layer.name, self._build(layer))
        head = self.architecture.head
        make_head = lambda n: TorchConv1d(self.widths[-1], n, head.kernel, head.stride, head.padding)
        if self.architecture.is_classifier:
            self.classifier = make_head(self.classes[0])
        else:
            self.object_head = make_head(self.classes[0])
            self.scene_head = make_head(self.classes[1])

    def _build(self, layer: Layer) -> nn.Module:
        width = self.widths[layer.block - 1]
        if layer.kind == "conv":
            in_channels = 1 if layer.block == 1 else self.widths[layer.block - 2]
            return TorchConv1d(in_channels, width, layer.kernel, layer.stride, layer.padding)
        if layer.kind == "bn":
            return TorchBatchNorm1d(width)
        if layer.kind == "relu":
            return nn.ReLU(inplace=True)
        return nn.MaxPool1d(layer.kernel, layer.stride)

    @classmethod
    def from_state_dict(cls, architecture: str | Architecture, widths: Sequence[int], classes: Sequence[int] | int,
                        state: dict[str, torch.Tensor]) -> "SoundNet":
        """Build around existing tensors (no random init, no copy), eval mode; ValueError if they do not fit.

        Building on the meta device and assigning the given tensors keeps conversion of a 115 MB file from
        spending most of its time initialising weights that are overwritten at once.
        """
        with torch.device("meta"):
            model = cls(architecture, widths, classes)
        state = dict(state)
        for name, module in model.named_modules():
            if isinstance(module, nn.BatchNorm1d):
                state.setdefault(f"{name}.num_batches_tracked", torch.tensor(0, dtype=torch.long))
        expected = set(model.state_dict())
        if set(state) != expected:
            missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"not {model.name} parameters: missing {missing[:3]}, unexpected {unexpected[:3]}")
        try:
            model.load_state_dict(state, assign=True)
        except RuntimeError as error:
            raise ValueError(f"parameters do not fit {model.name}: {one_line(error)[:300]}") from None
        return model.eval()

    def bn_eps(self) -> dict[str, float]:
        """Each BN layer's epsilon (1e-5 in every released file; kept when a file says otherwise)."""
        return {name: module.eps for name, module in self.named_children() if isinstance(module, nn.BatchNorm1d)}

    def set_bn_eps(self, eps: dict[str, float]) -> None:
        modules = dict(self.named_children())
        for name, value in eps.items():
            if not isinstance(modules.get(name), nn.BatchNorm1d):
                raise ValueError(f"{self.name} has no batch norm layer {name!r}")
            modules[name].eps = float(value)

    @property
    def name(self) -> str:
        return self.architecture.name

    def head_modules(self) -> list[nn.Module]:
        """The modules of Torch index 25 (SoundNet5: 16), in Torch's ConcatTable order."""
        if self.architecture.is_classifier:
            return [self.classifier]
        return [self.object_head, self.scene_head]

    def check_length(self, samples: int, layer: Layer | None = None) -> None:
        """Raise a clear error when an input is shorter than the receptive field of `layer`."""
        minimum = self.architecture.min_input_length(layer)
        if samples < minimum:
            where = f"layer {layer.index} ({layer.name})" if layer else "the output layer"
            raise ValueError(f"input of {samples} samples is too short for {self.name} {where}: "
                             f"at least {minimum} samples ({minimum / SAMPLE_RATE:.2f} s at {SAMPLE_RATE} Hz) needed")

    def extract(self, x: torch.Tensor | np.ndarray, layer: int | str) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Output of one layer, by Torch index (1-based) or name, as B x C x T.

        As the original feature script, the net is truncated after that layer: index 23 (bn7) is the BN
        output before the ReLU, 24 after it. The head index returns the tuple of head outputs.

        Two rewrites keep the results and save time: a ReLU followed by a max-pool runs after the pool
        (the two commute exactly), and in eval mode without autograd BN works in place (`infer`).
        """
        target = self.architecture.layer(layer)
        x = as_waveform_batch(x)
        self.check_length(x.shape[-1], target)
        in_place = not self.training and not torch.is_grad_enabled()
        body = [spec for spec in self.architecture.body if spec.index <= target.index]
        deferred_relu = None
        for position, spec in enumerate(body):
            following = body[position + 1] if position + 1 < len(body) else None
            if spec.kind == "relu" and following is not None and following.kind == "pool":
                deferred_relu = getattr(self, spec.name)
                continue
            module = getattr(self, spec.name)
            x = eval_batch_norm_(module, x) if in_place and spec.kind == "bn" else module(x)
            if deferred_relu is not None and spec.kind == "pool":
                x, deferred_relu = deferred_relu(x), None
        if target.index < self.architecture.head.index:
            return x
        return tuple(module(x) for module in self.head_modules())

    def infer(self, x: torch.Tensor | np.ndarray, layer: int | str) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """extract() as the original scripts ran it: eval-mode BN whatever the mode, no autograd."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return self.extract(x, layer)
        finally:
            self.train(was_training)

    def forward(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        """Teacher nets: (object logits B x 1000 x T, scene logits B x 401 x T).

        Fine-tuned net: logits B x N, as the original's View(N); that needs exactly one time step.
        """
        heads = self.extract(x, self.architecture.head.index)
        if not self.architecture.is_classifier:
            return heads
        logits = heads[0]
        if logits.shape[-1] != 1:
            raise ValueError(f"the fine-tuned net's View(N) needs one time step, the input gave {logits.shape[-1]}; "
                             "use extract(x, 25) for B x N x T")
        return logits[..., 0]

    def log_probabilities(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, ...]:
        """Per time step log-softmax over the classes of each head (the paper's intent)."""
        outputs = self(x)
        outputs = (outputs,) if isinstance(outputs, torch.Tensor) else outputs
        return tuple(F.log_softmax(o, dim=1) for o in outputs)

    def probabilities(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, ...]:
        """Per time step softmax over the classes of each head, as extract_predictions.lua computed."""
        return tuple(lp.exp() for lp in self.log_probabilities(x))


def SoundNet8(widths: Sequence[int] | None = None, classes: Sequence[int] | None = None) -> SoundNet:
    """The 8-layer SoundNet (soundnet8_final.t7)."""
    return SoundNet("soundnet8", widths, classes)


def SoundNet5(widths: Sequence[int] | None = None, classes: Sequence[int] | None = None) -> SoundNet:
    """The 5-layer SoundNet (soundnet5_final.t7)."""
    return SoundNet("soundnet5", widths, classes)


def SoundNet8Finetuned(classes: int, widths: Sequence[int] | None = None) -> SoundNet:
    """SoundNet8 with modules 25-28 replaced by conv 1024 -> classes (k4) and a view, as main_finetune.lua."""
    return SoundNet("soundnet8-finetuned", widths, classes)
