"""Whole trees: Torch7 objects -> converted modules -> (JSON description + tensors) -> Torch7 objects.

The JSON description names each module's Torch class, its options and which tensors it holds; the tensors
themselves are the root module's state_dict. Rebuilding needs both and no pickle.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import torch

from ..objects import TorchObject, empty_tensor
from .base import REGISTRY, TorchModule, finite_options, restore_options, short_name
from .containers import Container
from .errors import ModuleConversionError

DESCRIPTION_FORMAT = "torch7-nn-tree/1"
UNSUPPORTED_YET = {"gModule": "nngraph graphs (nn.gModule) are not supported yet"}


def child_path(path: str, number: int) -> str:
    return f"{path}.{number}" if path else str(number)


def _children(obj: TorchObject, cls: type[TorchModule]) -> list:
    if not issubclass(cls, Container):
        return []
    if cls.child_field == "module":
        module = obj.get("module")
        if module is None and isinstance(obj.get("modules"), list) and obj.get("modules"):
            module = obj.get("modules")[0]
        return [module]
    modules = obj.get("modules")
    return modules if isinstance(modules, list) else []


def _class_of(obj: Any, path: str) -> type[TorchModule]:
    """The converter class of a Torch object, or a one-line error naming the class and the path."""
    if not isinstance(obj, TorchObject):
        raise ModuleConversionError(type(obj).__name__, path, "not a Torch module")
    name = short_name(obj.typename)
    bare = obj.typename.rpartition(".")[2]
    if bare in UNSUPPORTED_YET:
        raise ModuleConversionError(obj.typename, path, UNSUPPORTED_YET[bare])
    if name is None or name not in REGISTRY:
        raise ModuleConversionError(obj.typename, path, "unsupported module class")
    cls = REGISTRY[name]
    reason = cls.refusal(obj)
    if reason:
        raise ModuleConversionError(obj.typename, path, reason)
    return cls


def walk_t7(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, object) of every module, parents first; children of unknown classes are not visited."""
    yield path, obj
    name = short_name(getattr(obj, "typename", "")) or ""
    cls = REGISTRY.get(name)
    if cls is not None:
        for number, child in enumerate(_children(obj, cls), 1):
            yield from walk_t7(child, child_path(path, number))


def first_unsupported(obj: Any) -> ModuleConversionError | None:
    """The error the first module that cannot be converted raises (depth first), or None."""
    for path, module in walk_t7(obj):
        try:
            _class_of(module, path)
        except ModuleConversionError as error:
            return error
    return None


def from_t7(obj: Any, path: str = "") -> TorchModule:
    """The PyTorch module (evaluate mode) of a Torch7 module tree as convert.read_t7 returns it."""
    cls = _class_of(obj, path)
    children = [from_t7(child, child_path(path, n)) for n, child in enumerate(_children(obj, cls), 1)]
    try:
        module = cls(
            cls.read_options(obj, path), cls.read_tensors(obj, path), children if issubclass(cls, Container) else None
        )
    except (ValueError, RuntimeError) as error:  # options and tensors that do not fit together
        if isinstance(error, ModuleConversionError):
            raise
        raise ModuleConversionError(obj.typename, path, str(error)) from None
    name = short_name(obj.typename)
    assert name is not None  # _class_of refused every class outside nn, cunn and cudnn
    module.torch_class = "nn." + name
    for name in cls.learnable + cls.kept:
        if name not in cls.optional and getattr(module, name) is None:
            raise ModuleConversionError(obj.typename, path, f"the file has no {name} tensor")
    return module.eval()


def to_t7(module: TorchModule) -> TorchObject:
    """The Torch7 object tree of a converted module (nn.* classes, float tensors, evaluate mode)."""
    fields = {
        "_type": "torch.FloatTensor",
        "train": False,
        "output": {} if module.table_output else empty_tensor("torch.FloatTensor"),
        "gradInput": {} if module.table_input else empty_tensor("torch.FloatTensor"),
    }
    fields.update(module.torch_fields())
    if isinstance(module, Container):
        children = [to_t7(cast(TorchModule, child)) for child in module.submodules]
        if module.child_field == "module":
            fields.update(module=children[0], modules=[children[0]], shared=True)
        else:
            fields["modules"] = children
    version = 2 if "BatchNormalization" in module.torch_class else 1
    return TorchObject(module.torch_class, fields, version)


def describe(module: TorchModule) -> dict:
    """The JSON-ready description of a converted tree (tensors are in module.state_dict())."""
    node: dict[str, Any] = {
        "class": module.torch_class,
        "options": finite_options(module.options),
        "tensors": [name for name in module.learnable + module.kept if getattr(module, name) is not None],
    }
    if isinstance(module, Container):
        node["children"] = [describe(cast(TorchModule, child)) for child in module.submodules]
    return node


def rebuild(description: dict, state: dict[str, torch.Tensor], prefix: str = "") -> TorchModule:
    """The module a description and a state dict give back (strict: every tensor must be there)."""
    try:
        name = short_name(description["class"])
        if name is None:
            raise KeyError(description["class"])
        cls = REGISTRY[name]
        tensors = {tensor: state[prefix + tensor] for tensor in description["tensors"]}
        children = None
        if issubclass(cls, Container):
            children = [
                rebuild(child, state, f"{prefix}submodules.{n}.") for n, child in enumerate(description["children"])
            ]
        module = cls(restore_options(description["options"]), tensors, children)
        module.torch_class = "nn." + name
        return module.eval()
    except (KeyError, TypeError, AttributeError) as error:
        where = prefix.rstrip(".") or "the root"
        raise ValueError(f"not a valid module description at {where}: missing or malformed {error}") from None


def supported_classes() -> list[str]:
    """Every Torch class name the converter takes (each also under cunn./cudnn. where those exist)."""
    return sorted(REGISTRY)
