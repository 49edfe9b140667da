"""One entry point for writing a loaded model out: Torch7 .t7, ONNX or TorchScript, chosen by the suffix."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..model.network import SoundNet
from .networks import export_network, summary
from .t7_export import LAYOUTS

EXPORT_SUFFIXES = (".t7", ".onnx", ".pt")


def export_model(
    net: nn.Module,
    target: str | Path,
    *,
    layout: str | None = None,
    ascii_format: bool = False,
    layer: str | None = None,
) -> str:
    """Write `net` to `target` (format from the suffix) and say what was written, in one line.

    A SoundNet goes to any of the three; any other converted Torch7 network goes back to .t7 (nn layout).
    `layer` ends an ONNX/TorchScript graph early; `layout` and `ascii_format` apply to .t7.
    """
    kind = Path(target).suffix.lower()
    fmt = "ascii" if ascii_format else "binary"
    if not isinstance(net, SoundNet):
        export_network(net, target, fmt)
        return summary(net)
    if kind == ".onnx":
        from .onnx_export import export_onnx

        export_onnx(net, target, layer)
    elif kind == ".pt":
        from .torchscript_export import export_torchscript

        export_torchscript(net, target, layer)
    else:
        from .t7_export import export_t7

        export_t7(net, target, layout=layout or LAYOUTS[0], fmt=fmt)
        return f"{net.name}, {len(net.architecture.layers) + len(net.architecture.tail)} top-level modules"
    upto = net.architecture.layer(layer or net.architecture.head.index)
    return (
        f"{net.name} up to layer {upto.index} ({upto.name}), "
        f"input batch x samples (at least {net.architecture.min_input_length(upto)})"
    )
