"""read_t7: rebuild the object graph of a Torch7 .t7 stream (binary or ascii).

The graph logic here is shared by both encodings; sources.py holds the only
encoding-specific code.
"""

from __future__ import annotations

import io
import math
import os
import struct
from typing import Any, BinaryIO

from .errors import T7FormatError
from .objects import LuaFunction, Storage, Tensor, TorchObject, empty_tensor, view_problem, view_unchecked
from .sources import AsciiSource, BinarySource
from .types import (
    INDEXED_TAGS,
    STORAGE_TYPES,
    TAG_BOOLEAN,
    TAG_FUNCTION,
    TAG_LEGACY_RECUR_FUNCTION,
    TAG_NIL,
    TAG_NUMBER,
    TAG_RECUR_FUNCTION,
    TAG_STRING,
    TAG_TABLE,
    TAG_TORCH,
    TDS_HASH_NAMES,
    TDS_VEC_NAMES,
    TENSOR_TYPES,
)

Source = str | os.PathLike | BinaryIO

MAX_DEPTH = 200  # nested tables/objects; far beyond real models, well inside Python's recursion limit
_KIND_OF_TAG = {
    TAG_TABLE: "table",
    TAG_TORCH: "torch object",
    TAG_RECUR_FUNCTION: "function",
    TAG_LEGACY_RECUR_FUNCTION: "function",
}


def lua_number(x: float) -> int | float:
    """Lua numbers are doubles: integral values below 2**53 become int (but -0.0 stays float)."""
    if x.is_integer() and abs(x) < 2**53 and not (x == 0 and math.copysign(1.0, x) < 0):
        return int(x)
    return x


def lua_string(raw: bytes) -> str | bytes:
    """Lua strings are bytes; give str when they are valid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


class _Entry:
    """A memo slot: what kind of object an index names, and whether it was referenced while still being read."""

    __slots__ = ("kind", "value", "open", "cycled")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind, self.value, self.open, self.cycled = kind, value, True, False


class _GraphReader:
    """Reads one object graph from a primitive source, keeping Lua's sharing and cycles."""

    def __init__(self, src: BinarySource | AsciiSource) -> None:
        self.src = src
        self.memo: dict[int, _Entry] = {}
        self.count = 0

    def read_top(self) -> Any:
        value = self.read(0)
        if not self.src.at_end():
            raise T7FormatError(self.src.offset, f"trailing data after the top object ({self.src.left()} bytes)")
        return value

    def read(self, depth: int) -> Any:
        src = self.src
        tag = src.int("type tag")
        if tag == TAG_NIL:
            return None
        if tag == TAG_NUMBER:
            return lua_number(src.double("number"))
        if tag == TAG_STRING:
            return lua_string(src.string("string"))
        if tag == TAG_BOOLEAN:
            flag = src.int("boolean")
            if flag not in (0, 1):
                raise T7FormatError(src.offset, f"boolean must be 0 or 1, found {flag}")
            return flag == 1
        if tag != TAG_FUNCTION and tag not in INDEXED_TAGS:
            raise T7FormatError(src.offset, f"unknown type tag {tag} (expected 0-8)")
        if depth >= MAX_DEPTH:
            raise T7FormatError(src.offset, f"objects nested deeper than {MAX_DEPTH} levels")
        if tag == TAG_FUNCTION:
            return self._function(tag, None, depth)
        index = src.int("object index")
        entry = self.memo.get(index)
        if entry is not None:
            if entry.kind != _KIND_OF_TAG[tag]:
                raise T7FormatError(
                    src.offset, f"index {index} refers to a {entry.kind}, but the tag says {_KIND_OF_TAG[tag]}"
                )
            entry.cycled |= entry.open
            return entry.value
        if index != self.count + 1:
            raise T7FormatError(
                src.offset, f"object index {index} is neither a seen object nor the next new one ({self.count + 1})"
            )
        self.count = index
        if tag == TAG_TABLE:
            return self._table(index, depth)
        if tag == TAG_TORCH:
            return self._torch(index, depth)
        return self._function(tag, index, depth)

    def _count(self, read: Any, what: str) -> int:
        """A size field, which must not be negative."""
        n = read(what)
        if n < 0:
            raise T7FormatError(self.src.offset, f"negative {what} {n}")
        return n

    def _register(self, index: int | None, kind: str, value: Any) -> _Entry:
        entry = _Entry(kind, value)
        if index is not None:
            self.memo[index] = entry
        return entry

    def _pairs_into(self, target: dict, n: int, depth: int, what: str) -> None:
        """Read n key/value pairs as Lua assigns them (nil values delete nothing)."""
        self.src.require(2 * n, "tag", what)
        read = self.read
        for _ in range(n):
            key = read(depth + 1)
            value = read(depth + 1)
            try:
                fresh = (
                    key is not None and key not in target and hash(key) is not None and key == key
                )  # no nil/NaN keys
            except TypeError:
                raise T7FormatError(
                    self.src.offset, f"{what} key of type {type(key).__name__} cannot be a Python dict key"
                ) from None
            if not fresh:
                raise T7FormatError(
                    self.src.offset,
                    f"{what} key {key!r} is nil, NaN, repeated, or collides with true/1 "
                    f"in Python (the entry ends here)",
                )
            if value is not None:
                target[key] = value

    def _table(self, index: int, depth: int) -> dict | list:
        n = self._count(self.src.int, "table size")
        table: dict = {}
        entry = self._register(index, "table", table)
        self._pairs_into(table, n, depth, "table")
        entry.open = False
        if table and not entry.cycled and _is_sequence(table):
            entry.value = [table[i] for i in range(1, len(table) + 1)]
        return entry.value

    def _function(self, tag: int, index: int | None, depth: int) -> LuaFunction:
        fn = LuaFunction(self.src.string("function bytecode"), None, tag)
        entry = self._register(index, "function", fn)
        fn.upvalues = self.read(depth + 1)
        entry.open = False
        return fn

    def _torch(self, index: int, depth: int) -> Any:
        head = self.src.string("class version")
        version = 0
        if head.startswith(b"V "):
            number = head[2:].strip()
            if not number.isdigit() or len(number) > 9:
                raise T7FormatError(self.src.offset, f"class version {head[:40]!r} is not 'V <integer>'")
            version = int(number)
            head = self.src.string("class name")
        try:
            name = head.decode("utf-8")
        except UnicodeDecodeError:
            raise T7FormatError(self.src.offset, f"class name {head[:40]!r} is not text") from None
        if name in TENSOR_TYPES:
            return self._tensor(name, index, depth)
        if name in STORAGE_TYPES:
            return self._storage(name, index)
        obj = TorchObject(name, None, version)
        entry = self._register(index, "torch object", obj)
        if name in TDS_VEC_NAMES:
            n = self._count(self.src.long, "tds.Vec size")
            self.src.require(n, "tag", "tds.Vec")
            obj.fields = [self.read(depth + 1) for _ in range(n)]
        elif name in TDS_HASH_NAMES:
            n = self._count(self.src.long, "tds.Hash size")
            self._pairs_into(obj.fields, n, depth, "tds.Hash")
        else:
            obj.fields = self.read(depth + 1)
        entry.open = False
        return obj

    def _storage(self, name: str, index: int) -> Storage:
        n = self._count(self.src.long, "storage size")
        data = self.src.array(STORAGE_TYPES[name].element, n, f"{name} data")
        storage = data.view(Storage)
        storage.typename = name
        self._register(index, "torch object", storage).open = False
        return storage

    def _tensor(self, name: str, index: int, depth: int) -> Tensor:
        src = self.src
        at = src.offset
        ndim = self._count(src.int, "number of dimensions")
        src.require(2 * ndim + 1, "long", "tensor sizes and strides")
        size = src.longs(ndim, "tensor sizes")
        stride = src.longs(ndim, "tensor strides")
        offset = src.long("storage offset") - 1
        storage_at = src.offset
        storage = self.read(depth + 1)
        expected = TENSOR_TYPES[name].storage
        if storage is not None and (not isinstance(storage, Storage) or storage.typename != expected):
            raise T7FormatError(storage_at, f"{name} needs a {expected} or nil, found {_describe(storage)}")
        itemsize = TENSOR_TYPES[name].element.dtype.itemsize
        problem: str | None
        if storage is None and size and 0 not in size:
            problem = "a tensor with elements has no storage"
        else:
            problem = view_problem(0 if storage is None else len(storage), offset, size, stride, itemsize)
        if problem:
            raise T7FormatError(at, f"bad {name}: {problem}")
        tensor = (
            empty_tensor(name, None, offset) if storage is None else view_unchecked(storage, offset, size, stride, name)
        )
        self._register(index, "torch object", tensor).open = False  # after its storage: it cannot contain itself
        return tensor


def _is_sequence(table: dict) -> bool:
    n = len(table)
    return all(type(k) is int for k in table) and min(table) == 1 and max(table) == n


def _describe(value: Any) -> str:
    return getattr(value, "typename", None) or type(value).__name__


def _parse(src: BinarySource | AsciiSource) -> Any:
    """Run the graph reader, turning any stray low-level error into a T7FormatError."""
    try:
        return _GraphReader(src).read_top()
    except T7FormatError:
        raise
    except (ValueError, TypeError, OverflowError, IndexError, KeyError, struct.error, RecursionError, MemoryError) as e:
        raise T7FormatError(src.offset, f"malformed data ({type(e).__name__}: {e})") from e


def _binary_file(source: Source) -> tuple[BinaryIO, bool]:
    """A seekable binary file positioned at the stream start, and whether we must close it."""
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source), True
    try:
        seekable = source.seekable()
    except (AttributeError, OSError):
        seekable = False
    return (source, False) if seekable else (io.BytesIO(source.read()), True)


def read_t7(source: Source, *, long_size: int | None = None) -> Any:
    """Read one Torch7-serialized object from a path, a binary file object or bytes.

    The encoding (binary or ascii) is detected. ``long_size`` (4 or 8) fixes the
    width of binary longs; None tries 8 then 4. Malformed input raises
    T7FormatError, whose offset counts from where reading started.
    """
    if long_size not in (None, 4, 8):
        raise ValueError(f"long_size must be None, 4 or 8, not {long_size!r}")
    f, owned = _binary_file(source)
    try:
        start = f.tell()
        size = f.seek(0, io.SEEK_END) - start
        f.seek(start)
        first = f.read(1)
        f.seek(start)
        if not first:
            raise T7FormatError(0, "empty stream: expected a type tag")
        if first in b"0123456789-+ \t\r\n":
            return _parse(AsciiSource(f.read()))
        if first[0] > 8:
            raise T7FormatError(0, f"first byte {first[0]:#04x} starts neither a binary nor an ascii type tag")
        return _read_binary(f, start, size, long_size)
    finally:
        if owned:
            f.close()


def _read_binary(f: BinaryIO, start: int, size: int, long_size: int | None) -> Any:
    """Parse with the given long size, or with 8 then 4; report both failures when neither fits."""
    failures = []
    for width in [long_size] if long_size else [8, 4]:
        f.seek(start)
        try:
            return _parse(BinarySource(f, size, width))
        except T7FormatError as e:
            failures.append((width, e))
    if len(failures) == 1 or failures[0][1].args == failures[1][1].args:  # the long size made no difference
        raise failures[0][1]
    furthest = max(failures, key=lambda we: we[1].offset)[1]
    detail = "; ".join(f"with {w}-byte longs: {e}" for w, e in failures)
    raise T7FormatError(furthest.offset, f"cannot read the file with 8- or 4-byte longs ({detail})")
