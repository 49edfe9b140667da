"""Torch7 type tags and the tensor/storage class tables (CPU and CUDA names).

CUDA classes serialize exactly like their CPU twins, so both read to the same
numpy dtype; only the type name differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Object type tags written before every value (torch7 File.lua).
TAG_NIL = 0
TAG_NUMBER = 1
TAG_STRING = 2
TAG_TABLE = 3
TAG_TORCH = 4
TAG_BOOLEAN = 5
TAG_FUNCTION = 6
TAG_LEGACY_RECUR_FUNCTION = 7
TAG_RECUR_FUNCTION = 8

# Tags whose objects carry a reference index (and may be shared or cyclic).
INDEXED_TAGS = frozenset({TAG_TABLE, TAG_TORCH, TAG_LEGACY_RECUR_FUNCTION, TAG_RECUR_FUNCTION})
FUNCTION_TAGS = frozenset({TAG_FUNCTION, TAG_LEGACY_RECUR_FUNCTION, TAG_RECUR_FUNCTION})

TDS_VEC_NAMES = frozenset({"tds.Vec", "tds_vec"})
TDS_HASH_NAMES = frozenset({"tds.Hash", "tds_hash"})


@dataclass(frozen=True)
class ElementType:
    """One Torch element type: its numpy dtype and how THFile writes it.

    ``kind`` is "raw" (bytes even in ascii mode), "long" (size set by the file's
    long size), "int", "float" (%.9g in ascii, also half) or "double" (%.17g).
    """

    name: str
    dtype: np.dtype
    kind: str


@dataclass(frozen=True)
class TorchType:
    """A tensor class and the storage class it views."""

    tensor: str
    storage: str
    element: ElementType


_ELEMENTS = [
    ElementType("Byte", np.dtype("<u1"), "raw"),
    ElementType("Char", np.dtype("<i1"), "raw"),
    ElementType("Short", np.dtype("<i2"), "int"),
    ElementType("Int", np.dtype("<i4"), "int"),
    ElementType("Long", np.dtype("<i8"), "long"),
    ElementType("Float", np.dtype("<f4"), "float"),
    ElementType("Double", np.dtype("<f8"), "double"),
    ElementType("Half", np.dtype("<f2"), "float"),
]


def _build() -> tuple[dict[str, TorchType], dict[str, TorchType], dict[np.dtype, TorchType]]:
    tensors: dict[str, TorchType] = {}
    storages: dict[str, TorchType] = {}
    cpu_by_dtype: dict[np.dtype, TorchType] = {}
    for el in _ELEMENTS:
        cuda = "Cuda" if el.name == "Float" else "Cuda" + el.name
        for prefix in (el.name, cuda):
            t = TorchType(f"torch.{prefix}Tensor", f"torch.{prefix}Storage", el)
            tensors[t.tensor] = t
            storages[t.storage] = t
        cpu_by_dtype[el.dtype] = tensors[f"torch.{el.name}Tensor"]
    return tensors, storages, cpu_by_dtype


TENSOR_TYPES, STORAGE_TYPES, _CPU_BY_DTYPE = _build()


def type_for_dtype(dtype: np.dtype) -> TorchType:
    """The CPU Torch type for a numpy dtype (float32 -> torch.FloatTensor, ...)."""
    t = _CPU_BY_DTYPE.get(np.dtype(dtype).newbyteorder("<"))
    if t is None:
        raise TypeError(f"numpy dtype {np.dtype(dtype)} has no Torch7 tensor type")
    return t


def same_dtype(a: np.dtype, b: np.dtype) -> bool:
    """Equal element types, ignoring byte order notation."""
    return np.dtype(a).newbyteorder("<") == np.dtype(b).newbyteorder("<")
