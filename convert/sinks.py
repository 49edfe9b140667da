"""Primitive writers: the binary and ascii encodings THFile produces (mirror of sources.py)."""

from __future__ import annotations

import builtins  # the sinks' `int` method hides the type inside their class bodies
import struct
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from .sources import INT32_RANGE, INT64_RANGE
from .types import ElementType

_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


def _check_range(values: Sequence[int], bounds: tuple[int, int], what: str) -> None:
    for v in values:
        if not bounds[0] <= v <= bounds[1]:
            raise ValueError(f"{what} {v} does not fit in {bounds}")


class BinarySink:
    """Little-endian binary, longs of ``long_size`` bytes, as torch.save writes on x86."""

    def __init__(self, f: BinaryIO, long_size: int) -> None:
        self._f = f
        self.long_size = long_size
        self._long_range = INT64_RANGE if long_size == 8 else INT32_RANGE

    def int(self, value: int) -> None:
        _check_range([value], INT32_RANGE, "int")
        self._f.write(_I32.pack(value))

    def long(self, value: builtins.int) -> None:
        self.longs([value])

    def longs(self, values: Sequence[builtins.int]) -> None:
        _check_range(values, self._long_range, f"{self.long_size}-byte long")
        self._f.write(np.asarray(values, dtype="<i8" if self.long_size == 8 else "<i4").tobytes())

    def double(self, value: float) -> None:
        self._f.write(_F64.pack(value))

    def raw(self, data: bytes) -> None:
        self._f.write(data)

    def array(self, el: ElementType, arr: np.ndarray) -> None:
        """Write the elements as they lie in memory (no copy for native little-endian data)."""
        if el.kind == "long" and self.long_size == 4:
            if arr.size:
                _check_range([int(arr.min()), int(arr.max())], INT32_RANGE, "4-byte long storage value")
            arr = arr.astype("<i4")
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        self._f.write(data.data.cast("B"))


_FORMATS = {"int": "%d", "long": "%d", "float": "%.9g", "double": "%.17g"}


class AsciiSink:
    """THFile ascii: each write is its values separated by spaces, then a newline."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def int(self, value: int) -> None:
        _check_range([value], INT32_RANGE, "int")
        self._f.write(b"%d\n" % value)

    def long(self, value: builtins.int) -> None:
        self.longs([value])

    def longs(self, values: Sequence[builtins.int]) -> None:
        _check_range(values, INT64_RANGE, "long")
        if values:
            self._f.write(" ".join(str(int(v)) for v in values).encode() + b"\n")

    def double(self, value: float) -> None:
        self._f.write(b"%.17g\n" % value)

    def raw(self, data: bytes) -> None:
        if data:
            self._f.write(bytes(data) + b"\n")

    def array(self, el: ElementType, arr: np.ndarray) -> None:
        if el.kind == "raw":
            self.raw(np.ascontiguousarray(arr).tobytes())
        elif arr.size:
            fmt = _FORMATS[el.kind]
            self._f.write(" ".join(map(fmt.__mod__, arr.tolist())).encode() + b"\n")
