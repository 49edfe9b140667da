"""The public entry points for files: load any supported file, save, convert.

The format is told by the file's content (its suffix only when the content says nothing): `.t7` goes
through the format layer (convert.read_t7) and the Torch module mapping (t7_import); safetensors, pth and
h5 through tensor_files (state_dicts of public PyTorch ports are renamed); the TF/Keras port's pickled
sound8.npy through peer_formats. Every model gets its weights bundle (`model.weights`). Every failure is
a one-line ValueError/OSError.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from torch import nn

import convert

from ..input_files import regular_file
from ..model.network import SoundNet
from ..model.registry import resolve_model_path
from ..model.weights import identify
from .categories import load_categories
from .custom_head import soundnet_with_head_from_t7
from .networks import export_network, is_network, network_from_t7, network_from_weights, network_metadata
from .peer_formats import read_keras_npy
from .t7_export import export_t7
from .t7_import import NotSoundNetError, model_from_t7, read_torch7
from .tensor_files import (
    detect_format,
    format_of,
    model_from_weights,
    read_weights,
    save_weights,
    tensors_of,
    write_tensors,
)
from .validation import validate_model

CategorySource = str | Path | tuple[str | Path, str | Path]


def sha256_of(path: str | Path) -> str:
    """The file's sha256, read in large blocks into one reused buffer (hashlib releases the GIL)."""
    digest, buffer = hashlib.sha256(), bytearray(1 << 22)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


def model_from_tree(tree: object) -> SoundNet | nn.Module:
    """A SoundNet; else a SoundNet body with its own (generic) head; else any supported Torch7 network."""
    try:
        return model_from_t7(tree)
    except NotSoundNetError:
        if not isinstance(tree, convert.TorchObject):
            raise
        if tree.typename.partition(".")[2] == "Sequential":
            model = soundnet_with_head_from_t7(tree)
            if model is not None:
                return model
        return network_from_t7(tree)


def load(path: str | Path, *, categories: CategorySource | None = None) -> SoundNet | nn.Module:
    """A ready model in eval mode from .t7, .safetensors, .pth, .h5 or a TF/Keras sound8.npy.

    A SoundNet (also one with a custom head) comes back as a SoundNet; any other supported Torch7 network
    as its convert.nn module (see `load_soundnet` where only a SoundNet will do).
    `"example"` names the embedded example checkpoint (random weights) and `"soundnet8"` the released
    weights (fetched into the cache folder on first use), here and so in every command.
    """
    name = str(path)
    path = regular_file(resolve_model_path(path), "model file")
    fmt, file_metadata = detect_format(path), {}
    with ThreadPoolExecutor(1) as pool:  # hashing overlaps parsing (hashlib releases the GIL)
        digest = pool.submit(sha256_of, path)
        if fmt == "t7":
            model = model_from_tree(read_torch7(path))  # the tree (and its gradient storage) dies here
            model.metadata.update(source_file=path.name, source_sha256=digest.result())
        elif fmt == "npy":
            model = model_from_weights(read_keras_npy(path), {}, source=path)
            model.metadata.update(source_file=path.name, source_sha256=digest.result())
        else:
            state, file_metadata = read_weights(path, fmt)
            if is_network(file_metadata):
                model = network_from_weights(state, file_metadata, path)
            else:
                model = model_from_weights(state, file_metadata, source=path)
        model.metadata.update(file=name, file_sha256=digest.result())
    validate_model(model, path)
    if isinstance(model, SoundNet):
        model.weights = identify(model, file_metadata)
    if categories is not None:
        attach_categories(model, categories)
    return model


def load_soundnet(path: str | Path, *, categories: CategorySource | None = None) -> SoundNet:
    """`load` for the commands that need a SoundNet: a one-line error for any other network."""
    model = load(path, categories=categories)
    if not isinstance(model, SoundNet):
        raise NotSoundNetError(
            f"not a SoundNet: {path} holds a {model.torch_class} network; "
            "inspect, convert, verify and export take it, this needs a SoundNet"
        )
    return model


def model_sha256(model: SoundNet) -> str:
    """What identifies a model in outputs and caches: the sha256 of the file it was loaded from, or of its
    tensors (names, dtypes, shapes, bytes) for a model built in memory."""
    if model.metadata.get("file_sha256"):
        return model.metadata["file_sha256"]
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(f"{key} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def model_label(model: SoundNet) -> str:
    """How outputs name a model: the file it was loaded from (as given), else its architecture."""
    return str(model.metadata.get("file") or model.name)


def attach_categories(model: SoundNet, source: CategorySource) -> None:
    """Attach category names (checked against the head sizes) so they travel inside converted files."""
    if not isinstance(model, SoundNet) or model.architecture.has_custom_head:
        raise ValueError("category files name the object and scene heads; this model has neither")
    if model.architecture.is_classifier:
        raise ValueError("category files name the object and scene heads; a fine-tuned model has neither")
    model.metadata["categories"] = list(load_categories(source, model.classes))


def save(model: SoundNet, path: str | Path, fmt: str | None = None) -> Path:
    """Write the model as safetensors (default for unknown suffixes is an error), pth, h5 or t7, atomically."""
    path = Path(path)
    fmt = format_of(path, fmt)
    if not isinstance(model, SoundNet):
        if fmt == "t7":
            export_network(model, path)
        else:
            write_tensors(tensors_of(model), network_metadata(model), path, fmt)
    elif fmt == "t7":
        export_t7(model, path)
    else:
        save_weights(model, path, fmt)
    return path


def convert_file(
    source: str | Path, target: str | Path, fmt: str | None = None, categories: CategorySource | None = None
) -> SoundNet:
    """Load `source` (any format), attach categories if given, write `target`; returns the model."""
    model = load(source, categories=categories)
    save(model, target, fmt)
    return model
