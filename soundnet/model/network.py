"""SoundNet as a PyTorch nn.Module built from the architecture table.

Submodules carry the names a reader expects (conv1, bn1, relu1, pool1, ..., object_head, scene_head or
classifier), so state-dict keys read like the paper. Inputs are raw waveforms already scaled to
[-256, 256]; the time axis is the last one (Torch used the H axis of B x 1 x N x 1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import one_line
from ..inference.tiling import FINETUNE_CROP_SAMPLES, main_finetune
from .architecture import (
    OBJECT_CLASSES,
    SAMPLE_RATE,
    SCENE_CLASSES,
    Architecture,
    Layer,
    get_architecture,
    pool_after_relu,
)
from .heads import CLASSIFIER_MODULE, TEACHER_HEAD_MODULES, HeadOutputs, head_module_names
from .inference import TimeMajorPlan, time_major_forward
from .layers import TorchBatchNorm1d, TorchConv1d
from .portable import PortableSoundNet

if TYPE_CHECKING:
    from .weights import Weights


def eval_batch_norm_(module: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode BN written over x: (x - mean) / sqrt(var + eps) * w + b as one fused multiply-add.

    A fresh output per BN made BN slower than the convolutions on CPU (large fresh allocations are
    page-faulted on first touch); x is a conv output nobody else holds.
    """
    mean, var = module.running_mean, module.running_var
    assert mean is not None and var is not None, "an eval-mode BN tracks running statistics"
    scale = torch.rsqrt(var + module.eps) * module.weight
    shift = module.bias - mean * scale
    return torch.addcmul(shift[:, None], x, scale[:, None], out=x)


Waveform = torch.Tensor | np.ndarray
AudioInput = Waveform | str | os.PathLike
Output = torch.Tensor | tuple[torch.Tensor, ...]
ClipList = list[AudioInput] | tuple[AudioInput, ...]  # clips of any lengths, run as one padded batch


def as_waveform_batch(x: AudioInput, like: torch.Tensor | None = None) -> torch.Tensor:
    """Accept N, B x N, B x 1 x N, Torch's B x 1 x N x 1 or an audio file path; return B x 1 x N.

    A B x C x N input with C > 1 channels is refused with one line: SoundNet hears one channel.
    The result takes the dtype and device of `like` (the model's weights), so a float64, float16 or
    bfloat16 model gets its own precision; without `like`, float input keeps its dtype and integers
    become float32.
    """
    if isinstance(x, (str, os.PathLike)):
        from ..audio import load_audio

        x = load_audio(x)
    x = torch.as_tensor(x)
    if x.dim() == 4 and x.shape[1] == 1 and x.shape[3] == 1:
        x = x[..., 0]
    elif x.dim() == 2:
        x = x[:, None, :]
    elif x.dim() == 1:
        x = x[None, None, :]
    if x.dim() == 3 and x.shape[1] != 1:
        raise ValueError(
            f"input of shape {tuple(x.shape)} has {x.shape[1]} channels; SoundNet takes mono "
            "B x 1 x N: mix them down (x.mean(1)) or use prepare_waveform"
        )
    if x.dim() != 3:
        raise ValueError(f"expected a waveform N, B x N, B x 1 x N or B x 1 x N x 1; got shape {tuple(x.shape)}")
    if like is not None:
        return x.to(device=like.device, dtype=like.dtype)
    return x if x.is_floating_point() else x.float()


def is_clip_list(x: object) -> bool:
    """A list or tuple of clips (waveforms or paths), as opposed to one tensor or array."""
    return isinstance(x, (list, tuple))


def pad_clips(clips: Sequence[AudioInput]) -> tuple[torch.Tensor, list[int]]:
    """Clips of any lengths (1-D waveforms or paths) as one zero-padded B x 1 x N batch and their lengths."""
    if not clips:
        raise ValueError("the list of clips is empty")
    waves = []
    for number, clip in enumerate(clips):
        wave = as_waveform_batch(clip)
        if wave.shape[0] != 1:
            raise ValueError(f"clip {number} of the list is a batch of {wave.shape[0]}; give one clip per entry")
        waves.append(wave[0, 0])
    lengths = [len(wave) for wave in waves]
    batch = waves[0].new_zeros(len(waves), 1, max(lengths))
    for row, wave in enumerate(waves):
        batch[row, 0, : len(wave)] = wave
    return batch, lengths


class SoundNet(nn.Module):
    """SoundNet8, SoundNet5 or the fine-tuned SoundNet8, with Torch7's exact layer semantics.

    widths: out channels of each conv block (default: the released full width).
    classes: (objects, scenes) for the teacher heads, or the class count of a fine-tuned classifier.
    """

    def __init__(
        self,
        architecture: str | Architecture = "soundnet8",
        widths: Sequence[int] | None = None,
        classes: Sequence[int] | int | None = None,
    ):
        super().__init__()
        self.architecture = get_architecture(architecture)
        self.widths = tuple(widths or self.architecture.default_widths)
        if len(self.widths) != len(self.architecture.default_widths):
            raise ValueError(
                f"{self.architecture.name} has {len(self.architecture.default_widths)} conv blocks, "
                f"got {len(self.widths)} widths"
            )
        self.classes: tuple[int, ...]
        if self.architecture.has_custom_head:
            self.classes = _class_counts(classes, ())
        elif self.architecture.is_classifier:
            if not isinstance(classes, int) or classes < 1:
                raise ValueError("a fine-tuned SoundNet needs classes=N (a positive int)")
            self.classes = (classes,)
        else:
            self.classes = _class_counts(classes, (OBJECT_CLASSES, SCENE_CLASSES))
        self.metadata: dict[str, Any] = {}
        self.weights: Weights | None = None  # what is known of these weights (soundnet.load sets it)
        self._time_major = TimeMajorPlan()
        for layer in self.architecture.body:
            self.add_module(layer.name, self._build(layer))
        head = self.architecture.head

        def make_head(n: int) -> TorchConv1d:
            return TorchConv1d(self.widths[-1], n, head.kernel, head.stride, head.padding)

        if self.architecture.has_custom_head:
            self.head: nn.Module = nn.Identity()  # replaced by the file's generic head (formats/custom_head.py)
        elif self.architecture.is_classifier:
            self.add_module(CLASSIFIER_MODULE, make_head(self.classes[0]))
        else:
            for name, count in zip(TEACHER_HEAD_MODULES, self.classes):
                self.add_module(name, make_head(count))

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
    def from_state_dict(
        cls,
        architecture: str | Architecture,
        widths: Sequence[int],
        classes: Sequence[int] | int,
        state: dict[str, torch.Tensor],
    ) -> SoundNet:
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

    def __prepare_scriptable__(self) -> nn.Module:
        """torch.jit.script(model) scripts the same layers as stock modules (see model/portable.py)."""
        return PortableSoundNet(self)

    def bn_eps(self) -> dict[str, float]:
        """Each BN layer's epsilon (1e-5 in every released file; kept when a file says otherwise)."""
        return {name: module.eps for name, module in self.named_children() if isinstance(module, nn.BatchNorm1d)}

    def set_bn_eps(self, eps: dict[str, float]) -> None:
        modules = dict(self.named_children())
        for name, value in eps.items():
            module = modules.get(name)
            if not isinstance(module, nn.BatchNorm1d):
                raise ValueError(f"{self.name} has no batch norm layer {name!r}")
            module.eps = float(value)

    @property
    def name(self) -> str:
        return self.architecture.name

    def head_modules(self) -> list[nn.Module]:
        """The modules of Torch index 25 (SoundNet5: 16), in Torch's ConcatTable order."""
        return [getattr(self, name) for name in head_module_names(self.architecture)]

    def check_length(self, samples: int, layer: Layer | None = None) -> None:
        """Raise a clear error when an input is shorter than the receptive field of `layer`."""
        minimum = self.architecture.min_input_length(layer)
        if samples < minimum:
            where = f"layer {layer.index} ({layer.name})" if layer else "the output layer"
            raise ValueError(
                f"input of {samples} samples is too short for {self.name} {where}: "
                f"at least {minimum} samples ({minimum / SAMPLE_RATE:.2f} s at {SAMPLE_RATE} Hz) needed"
            )

    @overload
    def forward_features(self, x: AudioInput, layer: int | str, lengths: Sequence[int] | None = None) -> Output: ...

    @overload
    def forward_features(self, x: ClipList, layer: int | str, lengths: Sequence[int] | None = None) -> list[Output]: ...

    def forward_features(
        self, x: AudioInput | ClipList, layer: int | str, lengths: Sequence[int] | None = None
    ) -> Output | list[Output]:
        """Output of one layer, by Torch index (1-based) or name, as B x C x T (the one feature API).

        The head index gives HeadOutputs(objects, scenes) of a teacher net, B x N x T logits of a
        fine-tuned one. As the original feature script, the net is truncated after that layer: index 23
        (bn7) is the BN output before the ReLU, 24 after it. `x` may also be a path, or a list of clips
        of any lengths (waveforms or paths): they run as one zero-padded batch and each clip's output is
        returned cut to its own steps, equal to running it alone. A padded B x 1 x N tensor with
        `lengths` gives the padded output, valid up to architecture.output_length(length, layer).

        In eval mode without autograd, unpadded inputs take the exact, faster path of
        soundnet/model/inference.py (time-major layout, BN folded into the convolutions). Otherwise the
        modules run one by one, with two rewrites that keep the results: a ReLU followed by a max-pool runs
        after the pool (the two commute exactly), and in eval mode without autograd BN works in place.
        """
        target = self.architecture.layer(layer)
        if isinstance(x, (list, tuple)):  # is_clip_list, spelled so that the type checker narrows x
            batch, lengths = pad_clips(x)
            output = self.forward_features(batch, target.index, lengths)
            steps = [self.architecture.output_length(length, target) for length in lengths]
            return [_select_clip(output, row, count) for row, count in enumerate(steps)]
        x = as_waveform_batch(x, like=cast(TorchConv1d, self.conv1).weight)
        lengths = _checked_lengths(lengths, x)
        for length in lengths or [x.shape[-1]]:
            self.check_length(length, target)
        in_place = not self.training and not torch.is_grad_enabled()
        valid = list(lengths) if lengths and min(lengths) < x.shape[-1] else None
        # the time-major plan caches float32 CPU weights; other dtypes and devices take the module path
        if in_place and valid is None and x.dtype == torch.float32 and x.device.type == "cpu":
            if self.architecture.has_custom_head and target.index >= self.architecture.head.index:
                features = time_major_forward(self, x, self.architecture.body[-1], self._time_major)
                assert isinstance(features, torch.Tensor), "a body layer gives one tensor"
                return self.head(features[..., None])  # in Torch's B x C x T x 1 layout, as the head was built for
            output = time_major_forward(self, x, target, self._time_major)
            if target.index < self.architecture.head.index:
                return output
            return output[0] if self.architecture.is_classifier else HeadOutputs(*output)
        body = [spec for spec in self.architecture.body if spec.index <= target.index]
        deferred_relu = pooled = None
        for position, spec in enumerate(body):
            following = body[position + 1] if position + 1 < len(body) else None
            if spec.kind == "relu" and following is not None and following.kind == "pool":
                deferred_relu = getattr(self, spec.name)
                continue
            if valid is not None and spec.kind == "conv":
                x = _zero_beyond(x, valid)  # what Torch's zero padding sees at each clip's end
            module = getattr(self, spec.name)
            pool = pool_after_relu(body, position)
            if self.training and spec.kind == "bn" and pool is not None:
                x = cast(torch.Tensor, module(x, pool_kernel=pool.kernel))  # one pass (model/batch_norm.py)
                pooled = pool
            elif spec is pooled:
                pooled = None
            elif in_place and spec.kind == "bn":
                x = eval_batch_norm_(module, x)
            else:
                x = cast(torch.Tensor, module(x))
            if deferred_relu is not None and spec.kind == "pool":
                x, deferred_relu = cast(torch.Tensor, deferred_relu(x)), None
            if valid is not None:
                valid = [spec.output_length(length) for length in valid]
        if target.index < self.architecture.head.index:
            return x if valid is None else _zero_beyond(x, valid)
        if self.architecture.has_custom_head:
            return self.head(x[..., None])  # in Torch's B x C x T x 1 layout, as the head was built for
        if valid is not None:
            x = _zero_beyond(x, valid)
        heads = [module(x) for module in self.head_modules()]
        if valid is not None:
            valid = [target.output_length(length) for length in valid]
            heads = [_zero_beyond(head, valid) for head in heads]
        return heads[0] if self.architecture.is_classifier else HeadOutputs(*heads)

    @overload
    def forward(self, x: AudioInput) -> Output: ...

    @overload
    def forward(self, x: ClipList) -> list[Output]: ...

    def forward(self, x: AudioInput | ClipList) -> Output | list[Output]:
        """Teacher nets: HeadOutputs(objects B x 1000 x T, scenes B x 401 x T) logits.

        Fine-tuned net: logits B x N, as the original's View(N) on a 5 s crop. Clips shorter than the
        crop are first tiled as fine-tuning tiled them (inference.tiling.main_finetune); a longer input
        gives several steps, whose logits are averaged into the clip's. A list of clips gives a list.
        """
        if self.architecture.has_custom_head:
            return self.forward_features(x, self.architecture.head.index)
        if isinstance(x, (list, tuple)):  # is_clip_list, spelled so that the type checker narrows x
            return (
                [self(clip) for clip in x]
                if self.architecture.is_classifier
                else self.forward_features(x, self.architecture.head.index)
            )
        if not self.architecture.is_classifier:
            return self.forward_features(x, self.architecture.head.index)
        x = as_waveform_batch(x)
        if x.shape[-1] < FINETUNE_CROP_SAMPLES:
            x = main_finetune(x)
        logits = self.forward_features(x, self.architecture.head.index)
        assert isinstance(logits, torch.Tensor), "a fine-tuned net has one head"
        return logits.mean(dim=-1)

    def log_probabilities(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, ...]:
        """Per time step log-softmax over the classes of each head (the paper's intent)."""
        outputs = self(as_waveform_batch(x))
        outputs = (outputs,) if isinstance(outputs, torch.Tensor) else outputs
        return tuple(F.log_softmax(o, dim=1) for o in outputs)

    def probabilities(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, ...]:
        """Per time step softmax over the classes of each head, as extract_predictions.lua computed."""
        return tuple(lp.exp() for lp in self.log_probabilities(x))


def _class_counts(classes: Sequence[int] | int | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """The class count of each head; one int is a fine-tuned net's (several heads take a sequence)."""
    if not classes:
        return default
    if isinstance(classes, int):
        raise TypeError(f"classes={classes} is one count: this architecture takes a sequence of class counts")
    return tuple(classes)


def _checked_lengths(lengths: Sequence[int] | None, batch: torch.Tensor) -> list[int] | None:
    if lengths is None:
        return None
    lengths = [int(length) for length in lengths]
    if len(lengths) != batch.shape[0] or not all(0 < length <= batch.shape[-1] for length in lengths):
        raise ValueError(
            f"lengths must give 1..{batch.shape[-1]} samples for each of the {batch.shape[0]} clips, got {lengths}"
        )
    return lengths


def _zero_beyond(x: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
    """x with each clip's steps from its valid length on set to zero."""
    steps = torch.arange(x.shape[-1], device=x.device)
    keep = steps[None, :] < torch.as_tensor(lengths, device=x.device)[:, None]
    return x * keep[:, None, :].to(x.dtype)


def _select_clip(output: Output, row: int, steps: int) -> Output:
    if isinstance(output, torch.Tensor):
        return output[row : row + 1, :, :steps]
    return type(output)(*(part[row : row + 1, :, :steps] for part in output))


def SoundNet8(widths: Sequence[int] | None = None, classes: Sequence[int] | None = None) -> SoundNet:
    """The 8-layer SoundNet (soundnet8_final.t7)."""
    return SoundNet("soundnet8", widths, classes)


def SoundNet5(widths: Sequence[int] | None = None, classes: Sequence[int] | None = None) -> SoundNet:
    """The 5-layer SoundNet (soundnet5_final.t7)."""
    return SoundNet("soundnet5", widths, classes)


def SoundNet8Finetuned(classes: int, widths: Sequence[int] | None = None) -> SoundNet:
    """SoundNet8 with modules 25-28 replaced by conv 1024 -> classes (k4) and a view, as main_finetune.lua."""
    return SoundNet("soundnet8-finetuned", widths, classes)
