"""Torch7 nn module trees <-> PyTorch modules, with Torch7's evaluate-mode numerics.

    import convert, convert.nn
    net = convert.nn.from_t7(convert.read_t7("model.t7"))   # a torch.nn.Module (eval mode)
    convert.write_t7(convert.nn.to_t7(net), "back.t7")       # loadable by Torch7 again

Every class of ``supported_classes()`` converts from its nn, cunn and cudnn spellings (cudnn's as
``cudnn.convert(net, nn)`` turns them into nn); export writes nn classes. This package knows Torch classes
only, nothing about any particular model.
"""

from . import activations, containers, layers, pooling, shapes  # noqa: F401  (register the classes)
from .base import TorchModule
from .errors import ModuleConversionError
from .tree import DESCRIPTION_FORMAT, describe, first_unsupported, from_t7, rebuild, supported_classes, to_t7, walk_t7

__all__ = [
    "DESCRIPTION_FORMAT",
    "ModuleConversionError",
    "TorchModule",
    "describe",
    "first_unsupported",
    "from_t7",
    "rebuild",
    "supported_classes",
    "to_t7",
    "walk_t7",
]
