"""write_t7: serialize Python values as Torch7 does (the inverse of read_t7).

Shared Python objects become one Lua object plus reference indices, exactly as
File.lua numbers them, so a file read from Torch7 is written back with the same
layout. The graph logic is shared; sinks.py holds the encodings.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from typing import Any, BinaryIO

import numpy as np

from .objects import LuaFunction, Storage, TorchObject, view_problem
from .reader import MAX_DEPTH
from .sinks import AsciiSink, BinarySink
from .types import (
    FUNCTION_TAGS,
    STORAGE_TYPES,
    TAG_BOOLEAN,
    TAG_FUNCTION,
    TAG_NIL,
    TAG_NUMBER,
    TAG_STRING,
    TAG_TABLE,
    TAG_TORCH,
    TDS_HASH_NAMES,
    TDS_VEC_NAMES,
    TENSOR_TYPES,
    same_dtype,
    type_for_dtype,
)

Target = str | os.PathLike | BinaryIO


class _GraphWriter:
    """Writes one value graph; ``memo`` maps id(obj) to its Lua reference index."""

    def __init__(self, sink: BinarySink | AsciiSink) -> None:
        self.sink = sink
        self.memo: dict[int, int] = {}
        self.alive: list[Any] = []  # keeps objects made while writing alive, so their ids stay unique

    def write(self, value: Any, depth: int = 0) -> None:
        if depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple, TorchObject, LuaFunction, np.ndarray)):
            raise ValueError(f"objects nested deeper than {MAX_DEPTH} levels (read_t7 would refuse them)")
        sink = self.sink
        if value is None:
            sink.int(TAG_NIL)
        elif isinstance(value, (bool, np.bool_)):
            sink.int(TAG_BOOLEAN)
            sink.int(1 if value else 0)
        elif isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
            sink.int(TAG_NUMBER)
            sink.double(_lua_double(value))
        elif isinstance(value, (str, bytes, bytearray)):
            sink.int(TAG_STRING)
            self._string(value.encode("utf-8") if isinstance(value, str) else bytes(value))
        elif isinstance(value, LuaFunction):
            self._function(value, depth)
        elif isinstance(value, Storage):
            if not self._reference(TAG_TORCH, value):
                self._storage(value)
        elif isinstance(value, np.ndarray):
            if not self._reference(TAG_TORCH, value):
                self._tensor(value, depth)
        elif isinstance(value, TorchObject):
            if not self._reference(TAG_TORCH, value):
                self._torch_object(value, depth)
        elif isinstance(value, (dict, list, tuple)):
            if not self._reference(TAG_TABLE, value):
                self._table(value, depth)
        else:
            raise TypeError(f"cannot write a {type(value).__name__} as a Torch7 value")

    def _reference(self, tag: int, value: Any) -> bool:
        """Write tag and index; True when the object was already written (only the index is needed)."""
        self.sink.int(tag)
        index = self.memo.get(id(value))
        if index is not None:
            self.sink.int(index)
            return True
        index = len(self.memo) + 1
        self.memo[id(value)] = index
        self.alive.append(value)
        self.sink.int(index)
        return False

    def _string(self, data: bytes) -> None:
        self.sink.int(len(data))
        self.sink.raw(data)

    def _header(self, version: int, typename: str) -> None:
        self._string(b"V %d" % version)
        self._string(typename.encode("utf-8"))

    def _table(self, table: dict | list | tuple, depth: int) -> None:
        pairs = list(table.items()) if isinstance(table, dict) else list(enumerate(table, 1))
        self.sink.int(len(pairs))
        self._pairs(pairs, depth, "table")

    def _pairs(self, pairs: list[tuple[Any, Any]], depth: int, what: str) -> None:
        for key, value in pairs:
            if key is None or value is None:
                raise ValueError(f"a Lua {what} cannot hold nil (key {key!r}, value {value!r})")
            self.write(key, depth + 1)
            self.write(value, depth + 1)

    def _function(self, fn: LuaFunction, depth: int) -> None:
        if fn.tag not in FUNCTION_TAGS:
            raise ValueError(f"LuaFunction.tag must be one of {sorted(FUNCTION_TAGS)}, not {fn.tag}")
        if fn.tag == TAG_FUNCTION:
            self.sink.int(TAG_FUNCTION)
        elif self._reference(fn.tag, fn):
            return
        self._string(bytes(fn.dump))
        self.write(fn.upvalues, depth + 1)

    def _torch_object(self, obj: TorchObject, depth: int) -> None:
        if obj.typename in TENSOR_TYPES or obj.typename in STORAGE_TYPES:
            raise ValueError(f"write {obj.typename} values as convert.Tensor/Storage, not TorchObject")
        self._header(obj.version, obj.typename)
        if obj.typename in TDS_VEC_NAMES:
            items = list(obj.fields)
            self.sink.long(len(items))
            for item in items:
                self.write(item, depth + 1)
        elif obj.typename in TDS_HASH_NAMES:
            pairs = list(dict(obj.fields).items())
            self.sink.long(len(pairs))
            self._pairs(pairs, depth, "tds.Hash")
        elif isinstance(obj.fields, (dict, list, tuple)):
            self.write(obj.fields, depth + 1)
        else:
            raise TypeError(f"{obj.typename} fields must be a dict or list, not {type(obj.fields).__name__}")

    def _storage(self, storage: Storage) -> None:
        name = storage.typename or type_for_dtype(storage.dtype).storage
        ttype = STORAGE_TYPES.get(name)
        if ttype is None or not same_dtype(ttype.element.dtype, storage.dtype):
            raise ValueError(f"storage type {name!r} does not match its dtype {storage.dtype}")
        if storage.ndim != 1:
            raise ValueError(f"a storage must be 1-D, not {storage.shape}")
        self._header(1, name)
        self.sink.long(storage.shape[0])
        self.sink.array(ttype.element, storage)

    def _tensor(self, arr: np.ndarray, depth: int) -> None:
        name, storage, offset, size, stride = self._tensor_layout(arr)
        self._header(1, name)
        self.sink.int(len(size))
        self.sink.longs(size)
        self.sink.longs(stride)
        self.sink.long(offset + 1)
        self.write(storage, depth + 1)

    def _tensor_layout(self, arr: np.ndarray) -> tuple[str, Storage | None, int, list[int], list[int]]:
        """Type name, storage, offset, sizes and strides (elements) that describe ``arr`` to Torch."""
        name = getattr(arr, "typename", None) or type_for_dtype(arr.dtype).tensor
        ttype = TENSOR_TYPES.get(name)
        if ttype is None or not same_dtype(ttype.element.dtype, arr.dtype):
            raise ValueError(f"tensor type {name!r} does not match its dtype {arr.dtype}")
        if arr.ndim == 0:
            raise ValueError("Torch7 has no 0-dim tensors with a value: write a number or a 1-element array")
        storage = getattr(arr, "storage", None)
        if storage is not None and storage.typename not in (None, ttype.storage):
            raise ValueError(f"{name} cannot view a {storage.typename}")
        if arr.size == 0:  # Torch7 keeps no empty dimensions: nDimension 0
            return name, storage, getattr(arr, "storage_offset", 0), [], []
        if storage is None:
            storage = Storage.from_array(np.ascontiguousarray(arr).reshape(-1).copy(), ttype.storage)
            self.alive.append(storage)
            size = list(arr.shape)
            stride = [int(np.prod(size[i + 1 :], dtype=np.int64)) for i in range(len(size))]
            return name, storage, 0, size, stride
        item = arr.itemsize
        delta = arr.__array_interface__["data"][0] - storage.__array_interface__["data"][0]
        size = list(arr.shape)
        stride = [s // item for s in arr.strides]
        offset = delta // item
        if delta % item or any(s % item for s in arr.strides) or view_problem(len(storage), offset, size, stride, item):
            raise ValueError("this Tensor no longer views its storage; use make_tensor or a plain array")
        return name, storage, offset, size, stride


def _lua_double(value: numbers.Real) -> float:
    """Lua numbers are doubles: refuse integers a double cannot hold exactly."""
    as_float = float(value)
    if isinstance(value, numbers.Integral) and int(as_float) != int(value):
        raise ValueError(f"{value} is not exactly representable as a Lua number (a double)")
    return as_float


def _write(value: Any, f: BinaryIO, fmt: str, long_size: int) -> None:
    sink = BinarySink(f, long_size) if fmt == "binary" else AsciiSink(f)
    try:
        _GraphWriter(sink).write(value)
    except RecursionError:
        raise ValueError("values nested too deeply to write") from None


def write_t7(value: Any, target: Target, *, format: str = "binary", long_size: int = 8) -> None:
    """Write ``value`` as torch.save would, to a path (atomically) or a binary file object.

    ``format`` is "binary" or "ascii"; ``long_size`` (8, or 4 as 32-bit/Windows
    Torch7 wrote) applies to binary output.
    """
    if format not in ("binary", "ascii"):
        raise ValueError(f"format must be 'binary' or 'ascii', not {format!r}")
    if long_size not in (4, 8):
        raise ValueError(f"long_size must be 4 or 8, not {long_size!r}")
    if not isinstance(target, (str, os.PathLike)):
        _write(value, target, format, long_size)
        return
    path = os.path.abspath(os.fspath(target))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write(value, f, format, long_size)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the file gets what the umask gives new files
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
