"""The eval-mode, autograd-free forward of SoundNet, laid out for CPU speed (same results as the modules).

Exact rewrites (up to float summation order), chosen from a per-layer profile on AVX2 and AVX-512 CPUs
(`benchmarks/profile_layers.py`):

- Time-major activations (B x T x C, i.e. channels-last). A stride-s convolution's polyphase split is then
  a free view (s consecutive time steps of C channels are s*C channels of one step), oneDNN's
  convolutions read and write this layout natively (as a channels-last 2-D image of height 1), and a
  deep layer's unfolded windows (k steps of C channels) are contiguous rows of one matrix product. The
  channel-major path had oneDNN return channels-last output for conv1, after which max-pooling and BN ran
  5-10x slower than on contiguous data.
- Batch norm folded into the preceding convolution: w' = w * s, b' = (b - mean) * s + beta with
  s = gamma / sqrt(var + eps). See `fold_batch_norm` for the rounding bound; BN then costs nothing.
- ReLU inside the convolution (oneDNN applies it as the output is written), also before a max-pool
  (both are monotone, so they commute exactly); max-pooling as one reduction over the window's steps,
  taken on blocks of the convolution output while they are still in the cache (`TimeMajorConv.pooled`).
- conv1 (2 input channels after the polyphase split) computes two outputs per step, 4 input channels
  for oneDNN (`_grouped_phase_weight`); the deep layers multiply by weights reordered once for oneDNN.

The folded and reordered weights are cached per module and rebuilt when any parameter or buffer they
come from changes (new tensor or in-place update), so loading weights or training between calls is safe.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import Layer, pool_after_relu
from .layers import conv_padding

if TYPE_CHECKING:
    from .network import SoundNet

# The polyphase oneDNN convolution while in_channels * stride is at most this (conv1-conv5 of SoundNet8);
# wider layers with few steps (conv6, conv7, the heads) are one matrix product. Measured on 16 clips, one
# thread: conv3 14 ms as a matrix product (its im2col copy is 28 MB), 6 ms through oneDNN. (The module
# path used in training has its own, lower threshold: layers.POLYPHASE_MAX_CHANNELS.)
ONEDNN_MAX_CHANNELS = 256
# A polyphase layer with fewer input channels than this (conv1: 2) computes OUTPUT_GROUP outputs per step:
# in the forward of 16 clips on one thread, conv1's convolutions took 79 ms with 2 input channels and
# 47 ms with 4 (profiler; 6% extra multiply-adds by zero taps); single clips ran alike either way.
OUTPUT_GROUP_BELOW_CHANNELS = 4
OUTPUT_GROUP = 2
# Floats of convolution output per block of `TimeMajorConv.pooled` (8 MiB). A block is whole clips when
# they fit, else a time range of one clip: either way its input is a dense image (a time range across
# clips had to be copied into one first: conv1 and conv2 of 16 clips, 0.5 ms per clip). Of 2^17-2^23,
# 2^20 and up ran 16 clips fastest on one thread, within the noise of each other (2^17: 229 ms, 2^19:
# 195 ms, 2^21: 179-200 ms): smaller blocks pay oneDNN's and the pooling's fixed cost per call (30-50 us
# for the convolution) more often than they gain from the cache.
BLOCK_ELEMENTS = 1 << 21
# Input samples per clip group of the depth-first leading layers (`time_major_forward`): one 20 s clip, whose
# conv1 output after pooling (1.8 MB) fits a core's 2 MiB L2 cache. 16 clips on one thread, two in-process
# A/B runs (fastest to median): 188-197 and 192-201 ms depth first, 206-209 and 202-210 ms layer by layer;
# on two threads no difference.
DEPTH_FIRST_SAMPLES = 1 << 19
# Narrowest row `max_pool_time_major` reduces with amax: over rows of 16 floats (one AVX-512 vector) amax
# ran at 0.88 ns per element, slower than pairwise maxima (0.60); over rows of 32, 0.31 (8 MB, one thread).
AMAX_MIN_WIDTH = 32


def fold_batch_norm(conv: nn.Conv1d, bn: nn.BatchNorm1d | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of conv followed by eval-mode BN, as one convolution.

    Rounding: Torch7 computes y = sum_i w_i x_i + b, then (y - mean) * s + beta. The folded form rounds
    each w_i * s and the folded bias once more (relative error u = 2^-24 each), so the two differ by at
    most about (K + 4) u (sum_i |s w_i x_i| + |s| (|b| + |mean|) + |beta|) for K = in_channels * kernel
    terms: the same order as the float32 summation error both already carry, and for SoundNet's values
    below 1e-5 of the output scale (tests/model/test_inference.py checks the bound and the Torch7 refs).
    """
    weight, bias = conv.weight, conv.bias if conv.bias is not None else torch.zeros_like(conv.weight[:, 0, 0])
    if bn is None:
        return weight, bias
    mean, var = bn.running_mean, bn.running_var
    assert mean is not None and var is not None, "an eval-mode BN to fold tracks running statistics"
    scale = bn.weight * torch.rsqrt(var + bn.eps)
    return weight * scale[:, None, None], (bias - mean) * scale + bn.bias


def _source_key(*modules: nn.Module | None) -> tuple:
    """Identity and in-place version of every tensor the folded weights come from."""
    key: list = []
    for module in modules:
        if module is None:
            continue
        for tensor in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
            key += [id(tensor), tensor.data_ptr(), tensor._version]
        key.append(getattr(module, "eps", None))
    return tuple(key)


def _grouped_phase_weight(weight: torch.Tensor, stride: int, group: int) -> torch.Tensor:
    """The stride-1 convolution that computes `group` consecutive outputs of a stride-s one per step.

    Its input is the time-major signal read in steps of s*group samples (channel q*C + c holds sample q of
    the step, channel c) and its output channel i*O + o is output i of the step: the memory of
    B x T/group x group*O is B x T x O. Output r*u + i reads samples s*(r*u + i) + j, that is sample q of
    input step u + m with s*r*m + q = s*i + j; the taps that fall outside the kernel are zeros.
    group = 1 is the plain polyphase split. Returns (group O) x (s group C) x 1 x k', channels-last.
    """
    out_channels, in_channels, kernel = weight.shape
    span = stride * group
    steps = -(-(stride * (group - 1) + kernel) // span)  # k'
    shifted = [F.pad(weight, (stride * i, steps * span - kernel - stride * i)) for i in range(group)]
    # each: O x C x (k' span) -> O x C x k' x span -> O x span x C x k' (channel q*C + c)
    phases = [w.reshape(out_channels, in_channels, steps, span).permute(0, 3, 1, 2) for w in shifted]
    grouped = torch.stack(phases).reshape(group * out_channels, span * in_channels, 1, steps)
    return grouped.contiguous(memory_format=torch.channels_last)


def _packed_matrix(matrix: torch.Tensor) -> torch.Tensor | None:
    """An O x K matrix-product weight reordered once into oneDNN's layout, or None without oneDNN.

    The deep layers multiply few rows (the heads: 4 steps of a 20 s clip) by large weights, and MKL's
    sgemm repacked the whole weight on every call (46 MB for the heads); oneDNN's inner product on the
    reordered weight ran the heads of one clip 1.5-2 ms faster (AVX2 and AVX-512 dispatch alike).
    """
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight(matrix)
    except (AttributeError, RuntimeError):  # an internal op: absent or changed in another PyTorch build
        return None


@functools.cache
def _fused_relu_convolution() -> bool:
    """Whether oneDNN's convolution with a fused ReLU (an internal op of PyTorch's CPU compiler) is here."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        image = torch.ones(1, 1, 1, 2)
        out = torch.ops.mkldnn._convolution_pointwise(image, -image, None, [0, 0], [1, 1], [1, 1], 1, "relu", [], "")
    except (AttributeError, RuntimeError):  # absent or changed in another PyTorch build
        return False
    return bool(out.shape == (1, 1, 1, 1) and out.item() == 0)


def _convolve(image: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relu: bool) -> torch.Tensor:
    """conv2d(image, weight, bias), then ReLU if asked, always through oneDNN where it is available.

    F.conv2d leaves oneDNN for its native kernel on small single-clip images (below 20480 values), the
    blocks and short clips here; the fused ReLU costs nothing where a separate pass read the output again.
    """
    if _fused_relu_convolution():
        attr = "relu" if relu else "none"
        return torch.ops.mkldnn._convolution_pointwise(image, weight, bias, [0, 0], [1, 1], [1, 1], 1, attr, [], "")
    out = F.conv2d(image, weight, bias)
    return out.relu_() if relu else out


class TimeMajorConv:
    """One convolution (optionally with its BN folded in) over B x T x C inputs, weights laid out once."""

    def __init__(self, conv: nn.Conv1d, bn: nn.BatchNorm1d | None):
        self.kernel, self.stride, self.padding = conv.kernel_size[0], conv.stride[0], conv_padding(conv)
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.polyphase = self.in_channels * self.stride <= ONEDNN_MAX_CHANNELS
        # Outputs computed per step of the polyphase convolution (see `_grouped_phase_weight`).
        self.group = OUTPUT_GROUP if self.in_channels * self.stride < OUTPUT_GROUP_BELOW_CHANNELS else 1
        with torch.inference_mode(False), torch.no_grad():
            weight, bias = (t.detach().float().contiguous() for t in fold_batch_norm(conv, bn))
            if self.polyphase:
                self.weight = _grouped_phase_weight(weight, self.stride, self.group)
                self.bias = bias.repeat(self.group)
            else:
                # O x (k C): column j*C + c multiplies channel c of window step j.
                matrix = weight.permute(0, 2, 1).reshape(self.out_channels, -1).contiguous()
                self.packed = _packed_matrix(matrix)
                self.matrix = matrix.t() if self.packed is None else None
                self.bias = bias

    def output_steps(self, steps: int, padded: bool = False) -> int:
        """Output length for `steps` input steps (which already hold the padding when `padded`)."""
        out_steps = (steps + 2 * self._padding(padded) - self.kernel) // self.stride + 1
        if out_steps < 1:
            raise ValueError(f"input of {steps} steps is shorter than the kernel ({self.kernel})")
        return out_steps

    def _padding(self, padded: bool) -> int:
        return 0 if padded else self.padding

    def __call__(self, x: torch.Tensor, relu: bool = False, padded: bool = False) -> torch.Tensor:
        """The convolution of B x T x C, then ReLU if asked (fused into oneDNN's kernels).

        `padded`: x already holds this convolution's zero padding at both ends (see `pooled`'s margin).
        """
        batch, steps, channels = x.shape
        out_steps, padding = self.output_steps(steps, padded), self._padding(padded)
        if self.polyphase:
            return self._polyphase(self._phases(x, out_steps, padding), 0, out_steps, relu)
        x = F.pad(x, (0, 0, padding, padding)) if padding else x.contiguous()
        rows = x.as_strided((batch, out_steps, self.kernel * channels), (x.stride(0), self.stride * channels, 1))
        rows = rows.reshape(batch * out_steps, -1)
        if self.packed is not None:
            attr = "relu" if relu else "none"
            out = torch.ops.mkldnn._linear_pointwise(rows, self.packed, self.bias, attr, [], "")
        else:
            assert self.matrix is not None
            out = torch.addmm(self.bias, rows, self.matrix)
            out = out.relu_() if relu else out
        return out.reshape(batch, out_steps, self.out_channels)

    def pooled(self, x: torch.Tensor, kernel: int, padded: bool = False, margin: int = 0) -> torch.Tensor:
        """relu(max_pool(self(x, padded=padded), kernel)) computed block by block, with `margin` zero steps
        before and after it: the padding of the convolution that reads it, which then reads it in place
        (conv2 of 16 clips copied its 28 MB input into padded blocks, 0.45 ms per clip).

        For the polyphase layers (conv1, conv2) the convolution output of a batch is hundreds of MB
        (conv1, 16 clips of 20 s: 226 MB); pooling each block while it is still in the cache spares
        writing it to memory and reading it back. The blocks are whole pooling windows, so the result
        is the same as pooling the whole output.
        """
        batch, steps, _ = x.shape
        out_steps = self.output_steps(steps, padded)
        pooled_steps = out_steps // kernel
        out = x.new_empty(batch, margin + pooled_steps + margin, self.out_channels)
        out[:, :margin].zero_()
        out[:, margin + pooled_steps :].zero_()
        result = out[:, margin : margin + pooled_steps]
        if not self.polyphase:
            max_pool_time_major(self(x, relu=True, padded=padded), kernel, result)
            return out
        rows, left = self._phases(x, out_steps, self._padding(padded))
        unit = kernel * self.group  # blocks of whole pooling windows and whole output groups
        steps_per_block = max(1, BLOCK_ELEMENTS // (self.out_channels * unit)) * unit
        span = pooled_steps * kernel
        bounds = self._block_bounds(rows.shape[1], left, span, unit, steps_per_block)
        clips_per_block = max(1, steps_per_block // span) if span else batch
        for first in range(0, batch, clips_per_block):
            clips = slice(first, min(first + clips_per_block, batch))
            for start, stop in zip(bounds, bounds[1:]):
                block = self._polyphase((rows[clips], left), start, stop, relu=True)
                max_pool_time_major(block, kernel, result[clips, start // kernel : stop // kernel])
        return out

    def _block_bounds(self, count: int, left: int, span: int, unit: int, steps_per_block: int) -> list[int]:
        """Where `pooled`'s blocks of output steps [0, span) start, and span, for `count` steps of polyphase rows
        with `left` zero steps before them (see `_phases`): whole units, at most steps_per_block each, and the
        few steps at either end whose windows reach into the padding as blocks of their own. Only those are
        copied into zero-padded blocks by `_polyphase`; as the first and last of conv1's two blocks per 20 s
        clip they copied its whole input (0.5 ms per clip of 16). An output that fits one block stays one: the
        two more calls cost more than its copy (conv5 of one clip: 0.86 ms in three blocks, 0.56 in one).
        """
        if span <= steps_per_block:
            return [0, span] if span else [0]
        # group step u reads rows [u - left, u - left + taps): inside the input for u in [left, count + left - taps]
        inside_from = min(span, -(-left * self.group // unit) * unit)
        inside_to = (count + left - self.weight.shape[-1] + 1) * self.group // unit * unit
        inside_to = max(inside_from, min(span, inside_to))
        bounds = [0, inside_from] if inside_from > 0 else [0]
        bounds += [min(start + steps_per_block, inside_to) for start in range(inside_from, inside_to, steps_per_block)]
        return bounds + [span] if inside_to < span else bounds

    def _phases(self, x: torch.Tensor, out_steps: int, padding: int) -> tuple[torch.Tensor, int]:
        """B x T x C -> (B x T' x gsC, left): g*s consecutive steps as one step of g*s*C channels.

        `left` is how many zero steps the `padding` puts before the first one. When T and the padding
        are multiples of g*s (a 20 s clip, every SoundNet layer) this is a free view and `_polyphase`
        writes the padding per block; otherwise a padded copy (left = 0).
        """
        batch, steps, channels = x.shape
        span = self.stride * self.group
        x = x.contiguous()
        if steps % span == 0 and padding % span == 0:
            return x.view(batch, steps // span, span * channels), padding // span
        needed = (-(-out_steps // self.group) - 1 + self.weight.shape[-1]) * span
        right = needed - steps - padding
        # padded as B x (T C) rows: padding the T axis of a B x T x 1 tensor copied element by element
        flat = F.pad(x.view(batch, -1), (padding * channels, max(right, 0) * channels))[:, : needed * channels]
        return flat.reshape(batch, needed // span, span * channels), 0

    def _polyphase(self, phases: tuple[torch.Tensor, int], start: int, stop: int, relu: bool) -> torch.Tensor:
        """Output steps [start, stop) of the convolution (start a multiple of the group), B x (stop - start) x O."""
        rows, left = phases
        batch, count, width = rows.shape
        first_step, steps = start // self.group, -(-(stop - start) // self.group)
        first, last = first_step - left, first_step + steps - left + self.weight.shape[-1] - 1  # steps read
        low, high = max(0, first), min(count, last)
        if low > first or high < last:
            # zeros written out for the steps beyond either end: oneDNN's own padding ran this shape 2-3x
            # slower (conv1's first block: 7.6 ms padded against 3.4 ms; AVX2 dispatch, one clip)
            block = rows.new_empty(batch, last - first, width)
            block[:, : max(0, low - first)].zero_()
            block[:, max(0, high - first) :].zero_()
            if low < high:
                block[:, low - first : high - first] = rows[:, low:high]
            rows, low, high = block, 0, last - first
        # B x T x sC memory read as a channels-last B x sC x 1 x T image: oneDNN then convolves and
        # writes channels-last with no layout conversion. Through conv1d it converted the input to
        # channel-major and back (3-7x the convolution's own time).
        image = rows.as_strided(
            (batch, width, 1, high - low),
            (rows.stride(0), 1, rows.stride(0), width),
            rows.storage_offset() + low * width,
        )
        out = _convolve(image, self.weight, self.bias, relu).squeeze(2).transpose(1, 2)  # B x steps x gO
        return out.reshape(batch, steps * self.group, self.out_channels)[:, : stop - start].contiguous()


def max_pool_time_major(x: torch.Tensor, kernel: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Max-pooling with kernel = stride over the T axis of B x T x C (floor mode).

    One reduction over the window's steps, on rows of at least AMAX_MIN_WIDTH floats: narrower channels
    (conv1's 16) take pairs of steps as one row, whose halves a last pairwise maximum then merges.
    `out` (B x T/kernel x C, any strides) receives the result, as the last step writes it.
    """
    batch, steps, channels = x.shape
    pooled_steps = steps // kernel
    windows = x[:, : pooled_steps * kernel].reshape(batch, pooled_steps, kernel * channels)
    width, count = channels, kernel  # a window as `count` rows of `width` floats
    while width < AMAX_MIN_WIDTH and count % 2 == 0 and count > 2:
        width, count = width * 2, count // 2
    last = out if width == channels else None
    if count == 2:
        pooled = torch.maximum(windows[..., :width], windows[..., width:], out=last)
    else:
        pooled = torch.amax(windows.view(batch, pooled_steps, count, width), 2, out=last)
    while width > channels:
        width //= 2
        pooled = torch.maximum(pooled[..., :width], pooled[..., width:], out=out if width == channels else None)
    return pooled


class TimeMajorPlan:
    """The laid-out convolutions of one SoundNet, rebuilt per layer when that layer's tensors change."""

    def __init__(self) -> None:
        self._convs: dict[tuple[int, ...], tuple[tuple, TimeMajorConv]] = {}

    def __reduce__(self) -> tuple:
        """Copies and pickles of a model start with an empty plan: it is a cache (and oneDNN's reordered
        weights cannot be pickled)."""
        return (TimeMajorPlan, ())

    def conv(self, conv: nn.Conv1d, bn: nn.BatchNorm1d | None = None) -> TimeMajorConv:
        key, slot = _source_key(conv, bn), (id(conv), id(bn))
        cached = self._convs.get(slot)
        if cached is None or cached[0] != key:
            cached = (key, TimeMajorConv(conv, bn))
            self._convs[slot] = cached
        return cached[1]

    def heads(self, convs: list[nn.Conv1d]) -> TimeMajorConv:
        """Heads of one shape (the teacher's object and scene heads) as one convolution over their
        concatenated kernels: one product streams both weights (46 MB) past rows read once, about 1 ms less
        per clip than two products."""
        if len(convs) == 1:  # a fine-tuned classifier
            return self.conv(convs[0])
        key, slot = _source_key(*convs), tuple(id(conv) for conv in convs)
        cached = self._convs.get(slot)
        if cached is None or cached[0] != key:
            first = convs[0]
            merged = nn.Conv1d(
                first.in_channels,
                sum(conv.out_channels for conv in convs),
                first.kernel_size[0],
                first.stride[0],
                conv_padding(first),
                bias=False,
                device="meta",
            )
            with torch.inference_mode(False), torch.no_grad():
                merged.weight = nn.Parameter(torch.cat([conv.weight for conv in convs]))
                biases = [
                    conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels) for conv in convs
                ]
                merged.bias = nn.Parameter(torch.cat(biases))
            cached = (key, TimeMajorConv(merged, None))
            self._convs[slot] = cached
        return cached[1]


class Stage(NamedTuple):
    """One step of the time-major forward."""

    name: str
    run: Callable[[torch.Tensor], Any]
    # one of the leading wide layers, run clip group by clip group (see `time_major_forward`)
    depth_first: bool = False


def time_major_stages(model: SoundNet, target: Layer, plan: TimeMajorPlan) -> list[Stage]:
    """The forward up to `target` as named steps over B x T x C tensors (benchmarks time them one by one).

    The last step returns B x C x T (contiguous), or the tuple of head outputs.
    """
    body = [spec for spec in model.architecture.body if spec.index <= target.index]
    stages: list[Stage] = []
    position = 0
    padded = False  # whether h holds the next convolution's padding (a margin written by `pooled`)
    while position < len(body):
        spec = body[position]
        following = body[position + 1] if position + 1 < len(body) else None
        if spec.kind == "conv":
            conv = cast(nn.Conv1d, model.get_submodule(spec.name))
            names, bn = [spec.name], None
            if following is not None and following.kind == "bn":
                bn = cast(nn.BatchNorm1d, model.get_submodule(following.name))
                names.append(following.name)
            position += len(names)
            layer = plan.conv(conv, bn)
            pooling = pool_after_relu(body, position - 1)
            if pooling is None:
                relu = position < len(body) and body[position].kind == "relu"
                if relu:
                    names.append(body[position].name)
                    position += 1

                def conv_relu(
                    h: torch.Tensor, layer: TimeMajorConv = layer, relu: bool = relu, padded: bool = padded
                ) -> torch.Tensor:
                    return layer(h, relu, padded)

                stages.append(Stage("+".join(names), conv_relu))
                padded = False
                continue
            names += [pooling.name, body[position].name]
            position += 2
            # the next convolution's padding written around this output, which it then reads in place
            reader = body[position] if position < len(body) else None
            margin = 0
            if reader is not None and reader.kind == "conv":
                margin = conv_padding(cast(nn.Conv1d, model.get_submodule(reader.name)))

            def conv_pool_relu(
                h: torch.Tensor,
                layer: TimeMajorConv = layer,
                k: int = pooling.kernel,
                padded: bool = padded,
                margin: int = margin,
            ) -> torch.Tensor:
                return layer.pooled(h, k, padded, margin)

            leading = all(stage.depth_first for stage in stages)
            stages.append(Stage("+".join(names), conv_pool_relu, leading and layer.polyphase))
            padded = margin > 0
            continue
        elif spec.kind == "relu":
            stages.append(Stage(spec.name, torch.Tensor.relu_))  # h is always this pass's own output
            position += 1
        elif spec.kind == "pool":

            def pool(h: torch.Tensor, k: int = spec.kernel) -> torch.Tensor:
                return max_pool_time_major(h, k)

            stages.append(Stage(spec.name, pool))
            position += 1
        else:  # a BN is always folded into the conv before it
            raise AssertionError(f"unexpected {spec.kind} at {spec.name}")
    if target.index < model.architecture.head.index:
        stages.append(Stage("to B x C x T", lambda h: h.transpose(1, 2).contiguous()))
    else:
        modules = [cast(nn.Conv1d, head) for head in model.head_modules()]
        heads, sizes = plan.heads(modules), [head.out_channels for head in modules]

        def run_heads(h: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(out.transpose(1, 2).contiguous() for out in heads(h).split(sizes, dim=2))

        stages.append(Stage(target.name, run_heads))
    return stages


def time_major_forward(
    model: SoundNet, x: torch.Tensor, target: Layer, plan: TimeMajorPlan
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """model.forward_features(x, target) for a B x 1 x N waveform in eval mode without autograd.

    The leading wide layers (conv1 and conv2 with their pools) run depth first, DEPTH_FIRST_SAMPLES of
    input at a time: conv1's pooled output for those (1.8 MB) then reaches conv2 through the cache, not
    through memory. The deeper layers run on the whole batch, each weight read once per batch.
    """
    stages = time_major_stages(model, target, plan)
    leading = sum(stage.depth_first for stage in stages)
    batch, samples = x.shape[0], x.shape[-1]
    h = x.reshape(batch, samples, 1)
    if leading:
        group = max(1, DEPTH_FIRST_SAMPLES // samples)
        parts = []
        for first in range(0, batch, group):
            part = h[first : first + group]
            for stage in stages[:leading]:
                part = stage.run(part)
            parts.append(part)
        h = parts[0] if len(parts) == 1 else torch.cat(parts)
    for stage in stages[leading:]:
        h = stage.run(h)
    return h
