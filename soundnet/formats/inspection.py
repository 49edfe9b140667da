"""Human-readable reports of a model file: the Torch module tree of a .t7, or a converted file's contents.

For a .t7 the report shows what a porter needs before trusting a file: each module with its Torch index
path and class, tensor types and shapes with their storage offsets, parameter counts, the detected
architecture, the BN style (running_var or legacy running_std) and how parameters share storages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import convert
import convert.nn

from ..input_files import regular_file
from ..model.registry import resolve_model_path
from .custom_head import describe_body
from .peer_formats import read_keras_npy, rename_port_state
from .t7_import import NotSoundNetError, detect_architecture, read_torch7, short_class, top_level_modules
from .tensor_files import detect_format, read_weights

PARAMETER_FIELDS = ("weight", "bias", "running_mean", "running_var", "running_std")


def _size_text(value: Any) -> str:
    return "x".join(str(n) for n in value.shape) or "scalar"


def _module_line(path: str, module: Any) -> str:
    if not isinstance(module, convert.TorchObject):
        return f"{path:<7} {type(module).__name__}"
    sizes = ""
    if short_class(module.typename) in ("SpatialConvolution", "SpatialMaxPooling"):
        sizes = f" k{module.get('kH')} s{module.get('dH')} p{module.get('padH', 0)}"
        if "nInputPlane" in module:
            sizes += f" {module.get('nInputPlane')}->{module.get('nOutputPlane')}"
    tensors, count = [], 0
    for name in PARAMETER_FIELDS:
        value = module.get(name)
        if isinstance(value, np.ndarray) and value.size:
            offset = getattr(value, "storage_offset", 0)
            tensors.append(f"{name} {_size_text(value)}@{offset}")
            count += value.size if name in ("weight", "bias") else 0
    kind = next((getattr(module.get(n), "typename", None) for n in PARAMETER_FIELDS if module.get(n) is not None), None)
    extra = f"  [{', '.join(tensors)}] {kind or ''} params={count:,}" if tensors else ""
    version = f" V{module.version}" if module.version != 1 else ""
    return f"{path:<7} {module.typename}{version}{sizes}{extra}"


def _walk(modules: list, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for number, module in enumerate(modules, 1):
        path = f"{prefix}{number}"
        yield path, module
        children = module.get("modules") if isinstance(module, convert.TorchObject) else None
        if isinstance(children, list):
            yield from _walk(children, path + ".")


def _storage_summary(modules: list) -> list[str]:
    """How the parameter tensors share storages (getParameters leaves one flat storage for all)."""
    storages: dict[int, tuple[Any, int]] = {}
    for _, module in _walk(modules):
        for name in ("weight", "bias", "gradWeight", "gradBias"):
            value = module.get(name) if isinstance(module, convert.TorchObject) else None
            storage = getattr(value, "storage", None)
            if storage is not None:
                previous = storages.get(id(storage), (storage, 0))
                storages[id(storage)] = (storage, previous[1] + 1)
    lines = []
    for storage, views in storages.values():
        lines.append(f"  {storage.typename} of {storage.size:,} elements viewed by {views} tensors")
    return lines or ["  no parameter storages"]


def _outline(value: Any, name: str = "", depth: int = 0, max_depth: int = 3) -> Iterator[str]:
    """An indented outline of any Torch7 value: tables and objects with their keys, tensors with shapes."""
    indent = "  " * depth
    if isinstance(value, np.ndarray):
        yield f"{indent}{name}: {getattr(value, 'typename', None) or value.dtype} {_size_text(value)}"
        return
    fields = value.fields if isinstance(value, convert.TorchObject) else value
    if isinstance(fields, (dict, list)):
        kind = value.typename if isinstance(value, convert.TorchObject) else type(value).__name__
        yield f"{indent}{name}: {kind} of {len(fields)}" if name else f"{indent}{kind} of {len(fields)}"
        items = fields.items() if isinstance(fields, dict) else enumerate(fields, 1)
        if depth < max_depth:
            for key, child in items:
                yield from _outline(child, str(key), depth + 1, max_depth)
        return
    yield f"{indent}{name}: {value!r}"[:200]


def converter_line(root: Any) -> str:
    """Whether the generic converter takes every module, else the first it refuses, with its path."""
    problem = convert.nn.first_unsupported(root)
    if problem is None:
        return "converter: every module is supported (it converts as a generic Torch7 network)"
    return f"converter: first unsupported module: {problem}"


def describe_t7(path: str | Path) -> str:
    """The report for a .t7 file (raises ValueError with one line when it is unreadable)."""
    root = read_torch7(path)
    lines = [
        f"{path}: Torch7 file, {Path(path).stat().st_size:,} bytes, "
        f"top object {getattr(root, 'typename', type(root).__name__)}"
    ]
    try:
        modules = top_level_modules(root)
    except NotSoundNetError:  # another root module, or not a model (a reference file...): show its structure
        support = [converter_line(root)] if isinstance(root, convert.TorchObject) else []
        return "\n".join(lines + support + list(_outline(root)))
    try:
        arch = detect_architecture(modules)
        lines.append(f"architecture: {arch.name} ({len(modules)} top-level modules)")
    except NotSoundNetError as error:
        lines.append(f"architecture: {describe_body(modules) or error}")
        lines.append(converter_line(root))
    bn_styles = {
        ("running_std (legacy, V1)" if "running_std" in m else "running_var")
        for _, m in _walk(modules)
        if isinstance(m, convert.TorchObject) and short_class(m.typename) == "SpatialBatchNormalization"
    }
    lines.append(f"batch norm: {', '.join(sorted(bn_styles)) or 'none'}")
    lines.append("parameter storages:")
    lines += _storage_summary(modules)
    lines.append("modules (Torch index path, class, sizes, tensors with storage offsets):")
    lines += [_module_line(p, m) for p, m in _walk(modules)]
    return "\n".join(lines)


def describe_weights(path: str | Path) -> str:
    """The report for a converted file or another port's weights: metadata and parameter tensors."""
    fmt = detect_format(path)
    state, meta = (read_keras_npy(path), {}) if fmt == "npy" else read_weights(path, fmt)
    state = rename_port_state(state)
    lines = [f"{path}: {fmt} weights, {Path(path).stat().st_size:,} bytes"]
    for key, value in sorted(meta.items()):
        shown = value if len(value) <= 120 else value[:117] + "..."
        lines.append(f"  {key}: {shown}")
    total = 0
    for key, tensor in state.items():
        lines.append(f"  {key:<28} {'x'.join(map(str, tensor.shape)):<16} {str(tensor.dtype).replace('torch.', '')}")
        total += tensor.numel() if not key.startswith("bn") or key.endswith(("weight", "bias")) else 0
    lines.append(f"trainable parameters: {total:,}")
    return "\n".join(lines)


def describe(path: str | Path) -> str:
    """The report for a model file or `example`, whatever its format, or for a feature or prediction file."""
    from ..jobs.feature_files import describe_output_file  # outputs of jobs, recognised before weights

    path = regular_file(resolve_model_path(path), "model file")
    if Path(path).suffix.lower() in (".h5", ".hdf5", ".npz"):
        report = describe_output_file(path)
        if report is not None:
            return report
    return describe_t7(path) if detect_format(path) == "t7" else describe_weights(path)
