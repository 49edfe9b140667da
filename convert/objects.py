"""Python stand-ins for Torch7 values that have no native Python twin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import STORAGE_TYPES, TENSOR_TYPES, same_dtype, type_for_dtype


class TorchObject:
    """An instance of a Torch class other than a tensor or storage.

    ``fields`` is what the class serialized: a dict for ordinary classes
    (``nn.*``), a list for ``tds.Vec``, a dict for ``tds.Hash``. ``version`` is
    the number of the ``V n`` prefix; 0 when the file has none, as Torch7's own
    reader assumes. Equality and hashing are by identity, like Lua objects.
    """

    __slots__ = ("typename", "fields", "version")

    def __init__(self, typename: str, fields: Any = None, version: int = 1) -> None:
        self.typename = typename
        self.fields = {} if fields is None else fields
        self.version = version

    def __getitem__(self, key: Any) -> Any:
        return self.fields[key]

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self.fields[key]
        except (KeyError, IndexError, TypeError):
            return default

    def __contains__(self, key: Any) -> bool:
        return key in self.fields if isinstance(self.fields, dict) else False

    def keys(self) -> Any:
        return self.fields.keys() if isinstance(self.fields, dict) else range(1, len(self.fields) + 1)

    def __repr__(self) -> str:
        keys = list(self.keys()) if isinstance(self.fields, dict) else f"[{len(self.fields)} items]"
        return f"TorchObject({self.typename!r}, version={self.version}, keys={keys})"


@dataclass(eq=False)
class LuaFunction:
    """A serialized Lua function, kept opaque (never loaded or executed).

    ``dump`` is the ``string.dump`` bytecode, ``upvalues`` the value stored
    after it (for tag 8, a list of ``{"name": ..., "value": ...}`` tables), and
    ``tag`` the type tag it was written with (6 plain, 7 legacy, 8 recursive).
    """

    dump: bytes
    upvalues: Any = field(default_factory=list)
    tag: int = 8


def _storage_type_name(typename: str | None, dtype: np.dtype) -> str:
    """Check an explicit storage type name against the dtype, or derive one from it."""
    if typename is None:
        return type_for_dtype(dtype).storage
    t = STORAGE_TYPES.get(typename)
    if t is None:
        raise ValueError(f"{typename!r} is not a Torch7 storage type")
    if not same_dtype(t.element.dtype, dtype):
        raise ValueError(f"{typename} holds {t.element.dtype}, not {dtype}")
    return typename


class Storage(np.ndarray):
    """A Torch storage: a flat 1-D array plus its Torch class name."""

    typename: str | None

    @classmethod
    def from_array(cls, arr: Any, typename: str | None = None) -> Storage:
        """Wrap ``arr`` (flattened, C order) as a storage; no copy when it is already flat and contiguous."""
        flat = np.ascontiguousarray(arr).reshape(-1)
        name = _storage_type_name(typename, flat.dtype)
        out = flat.view(cls)
        out.typename = name
        return out

    def __array_finalize__(self, obj: Any) -> None:
        parent = getattr(obj, "typename", None) if isinstance(obj, Storage) else None
        self.typename = parent if parent is not None and same_dtype(obj.dtype, self.dtype) else None


class Tensor(np.ndarray):
    """A Torch tensor: a numpy view of ``storage`` at ``storage_offset`` (0-based, elements).

    Torch's empty tensors (nDimension 0) read as shape ``(0,)``; ``storage`` is
    None when the file had no storage. Arrays derived from a Tensor (slices,
    ufunc results, reshapes) drop ``storage`` so they never claim a storage
    they may not match; they are written back with a fresh storage.
    """

    typename: str | None
    storage: Storage | None
    storage_offset: int

    def __array_finalize__(self, obj: Any) -> None:
        parent = getattr(obj, "typename", None) if isinstance(obj, Tensor) else None
        self.typename = parent if parent is not None and same_dtype(obj.dtype, self.dtype) else None
        self.storage = None
        self.storage_offset = 0


def view_problem(
    storage_size: int, offset: int, size: Sequence[int], stride: Sequence[int], itemsize: int
) -> str | None:
    """Why (offset, size, stride) is not a valid view of a storage of ``storage_size`` elements, or None."""
    if len(size) != len(stride):
        return f"{len(size)} sizes but {len(stride)} strides"
    if offset < 0:
        return f"negative storage offset {offset}"
    for s, st in zip(size, stride):
        if s < 0:
            return f"negative size {s}"
        if st < 0:
            return f"negative stride {st}"
        if st * itemsize >= 2**63 or s >= 2**63:
            return f"size {s} / stride {st} overflows"
    if not size or 0 in size:  # no elements: only the offset must lie within the storage
        if offset > storage_size:
            return f"storage offset {offset} past the end of a storage of {storage_size} elements"
        return None
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= storage_size:
        return (
            f"view (offset {offset}, size {list(size)}, stride {list(stride)}) reaches element {last} "
            f"of a storage of {storage_size}"
        )
    return None


def empty_tensor(typename: str, storage: Storage | None = None, offset: int = 0) -> Tensor:
    """Torch's nDimension-0 tensor: no elements, maybe a storage."""
    t = np.empty(0, dtype=TENSOR_TYPES[typename].element.dtype).view(Tensor)
    t.typename, t.storage, t.storage_offset = typename, storage, offset
    return t


def make_tensor(
    storage: Storage | np.ndarray, offset: int, size: Sequence[int], stride: Sequence[int], typename: str | None = None
) -> Tensor:
    """A checked Tensor view of ``storage``: ``offset`` 0-based and ``stride`` in elements, as Torch counts them."""
    if not isinstance(storage, Storage):
        storage = Storage.from_array(storage)
    if storage.ndim != 1 or not storage.flags.c_contiguous:
        raise ValueError("a storage must be a flat contiguous array")
    if typename is None:
        typename = STORAGE_TYPES[storage.typename].tensor if storage.typename else type_for_dtype(storage.dtype).tensor
    ttype = TENSOR_TYPES.get(typename)
    if ttype is None:
        raise ValueError(f"{typename!r} is not a Torch7 tensor type")
    if storage.typename not in (None, ttype.storage) or not same_dtype(storage.dtype, ttype.element.dtype):
        raise ValueError(f"{typename} cannot view a {storage.typename or storage.dtype} storage")
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    problem = view_problem(len(storage), int(offset), size, stride, storage.itemsize)
    if problem:
        raise ValueError(problem)
    return view_unchecked(storage, int(offset), size, stride, typename)


def view_unchecked(storage: Storage, offset: int, size: list[int], stride: list[int], typename: str) -> Tensor:
    """The unchecked view; callers have run view_problem."""
    if not size:
        return empty_tensor(typename, storage, offset)
    item = storage.itemsize
    t = np.ndarray.__new__(
        Tensor,
        shape=tuple(size),
        dtype=storage.dtype,
        buffer=storage,
        offset=offset * item if 0 not in size else 0,
        strides=tuple(st * item for st in stride),
    )
    t.typename, t.storage, t.storage_offset = typename, storage, offset
    return t
