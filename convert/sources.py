"""Primitive readers: the binary and ascii encodings of THFile's scalars, strings and arrays.

Both expose the same small interface so the object-graph reader never knows
which encoding it reads. Every count the file claims is checked against the
bytes left (``require``) before anything of that size is allocated.
"""

from __future__ import annotations

import builtins  # the sources' `int` method hides the type inside their class bodies
import re
import struct
import warnings
from collections.abc import Callable
from types import MethodType
from typing import Any, BinaryIO

import numpy as np

from .errors import T7FormatError
from .types import ElementType

_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)


def _scalar_reader(fmt: struct.Struct) -> Callable[[BinarySource, str], Any]:
    """A BinarySource method unpacking one ``fmt`` value (the hot path: one Python call per value)."""
    size, unpack_from = fmt.size, fmt.unpack_from

    def read(self: BinarySource, what: str) -> Any:
        pos = self._pos
        if pos + size > len(self._buf):
            pos = self._fill(size, what)
        self._pos = pos + size
        return unpack_from(self._buf, pos)[0]

    return read


class BinarySource:
    """Little-endian THFile binary encoding; longs are ``long_size`` (4 or 8) bytes.

    Small items are unpacked from a chunk buffered here (one Python call per
    item, not per file read); storages are read straight into their array.
    """

    CHUNK = 1 << 16

    def __init__(self, f: BinaryIO, size: int, long_size: int) -> None:
        self._f = f
        self._buf = b""
        self._base = 0  # stream offset of _buf[0]
        self._pos = 0  # position in _buf of the next unread byte
        self._size = size
        self.long_size = long_size
        self.long = MethodType(_scalar_reader(_I64 if long_size == 8 else _I32), self)

    int = _scalar_reader(_I32)
    double = _scalar_reader(_F64)

    @property
    def offset(self) -> builtins.int:
        return self._base + self._pos

    def left(self) -> builtins.int:
        return self._size - self.offset

    def require(self, count: builtins.int, unit: ElementType | str, what: str) -> None:
        """Fail unless ``count`` items of ``unit`` ("tag", "long", "byte" or an element type) can still fit."""
        width = self._width(unit)
        if count < 0 or count * width > self.left():
            raise T7FormatError(
                self.offset,
                f"{what}: the file claims {count} items ({count * width} bytes) but only {self.left()} bytes remain",
            )

    def _width(self, unit: ElementType | str) -> builtins.int:
        if isinstance(unit, str):
            return {"tag": 4, "byte": 1, "long": self.long_size}[unit]
        return self.long_size if unit.kind == "long" else unit.dtype.itemsize

    def _fill(self, n: builtins.int, what: str) -> builtins.int:
        """Make n bytes available at _pos (n checked against the bytes left first); return _pos."""
        if len(self._buf) - self._pos < n:
            if n > self.left():
                raise T7FormatError(self.offset, f"truncated: expected {what} ({n} bytes), {self.left()} left")
            rest = self._buf[self._pos :]
            self._base += self._pos
            self._buf = rest + self._f.read(max(self.CHUNK, n - len(rest)))
            self._pos = 0
            if len(self._buf) < n:
                raise T7FormatError(self.offset, f"truncated: expected {what} ({n} bytes), got {len(self._buf)}")
        return self._pos

    def raw(self, n: builtins.int, what: str) -> bytes:
        pos = self._pos
        if pos + n > len(self._buf):
            pos = self._fill(n, what)
        self._pos = pos + n
        return self._buf[pos : pos + n]

    def string(self, what: str) -> bytes:
        """A length-prefixed byte string (one call when it lies in the buffer: strings are most of a header)."""
        pos, buf = self._pos, self._buf
        if pos + 4 <= len(buf):
            end = pos + 4 + _I32.unpack_from(buf, pos)[0]
            if pos + 4 <= end <= len(buf):
                self._pos = end
                return buf[pos + 4 : end]
        n = self.int(what)
        if n < 0:
            raise T7FormatError(self.offset - 4, f"negative {what} length {n}")
        return self.raw(n, what)

    def longs(self, n: builtins.int, what: str) -> list[builtins.int]:
        if n == 0:
            return []
        return list(struct.unpack(f"<{n}{'q' if self.long_size == 8 else 'i'}", self.raw(n * self.long_size, what)))

    def array(self, el: ElementType, n: builtins.int, what: str) -> np.ndarray:
        """Read ``n`` elements into a fresh numpy buffer: buffered bytes first, the rest straight from the file."""
        self.require(n, el, what)
        on_disk = np.dtype("<i4") if el.kind == "long" and self.long_size == 4 else el.dtype
        out = np.empty(n, dtype=on_disk)
        target = out.data.cast("B")
        have = min(len(self._buf) - self._pos, out.nbytes)
        target[:have] = self._buf[self._pos : self._pos + have]
        done = have
        while done < out.nbytes:
            got = self._f.readinto(target[done:])  # type: ignore[attr-defined]  # typing.BinaryIO omits it
            if not got:
                raise T7FormatError(self.offset + done, f"truncated: expected {what} ({out.nbytes} bytes)")
            done += got
        self._base += self._pos + out.nbytes
        self._buf, self._pos = self._buf[self._pos + have :], 0
        return out.astype(el.dtype) if on_disk is not el.dtype else out

    def at_end(self) -> bool:
        return self.left() == 0


_WS = b" \t\n\r\v\f"
_MAX_TOKEN = 40  # bytes a printed number and its separator can plausibly take
_TOKEN = re.compile(rb"[ \t\n\r\v\f]*([^ \t\n\r\v\f]+)")
_INT = re.compile(rb"[+-]?[0-9]+")
_FLOAT = re.compile(rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)", re.IGNORECASE)


def _parse_line(line: bytes, dtype: np.dtype) -> np.ndarray | None:
    """All numbers of a whitespace-separated line, or None if any token is not a number."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return np.fromstring(line, dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning):
        return None


class AsciiSource:
    """THFile ascii encoding: numbers as whitespace-separated text, each write
    followed by one newline; chars and bytes stay raw."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.offset = 0

    def left(self) -> int:
        return len(self._data) - self.offset

    def require(self, count: int, unit: ElementType | str, what: str) -> None:
        """Numbers take at least one digit and one separator; raw bytes take one byte each."""
        raw = unit == "byte" or (isinstance(unit, ElementType) and unit.kind == "raw")
        need = count if raw else 2 * count - 1
        if count < 0 or need > self.left():
            raise T7FormatError(
                self.offset,
                f"{what}: the file claims {count} items (at least {need} bytes) but only {self.left()} bytes remain",
            )

    def _eol(self) -> None:
        if self._data[self.offset : self.offset + 1] == b"\n":
            self.offset += 1

    def _token(self, pattern: re.Pattern, what: str) -> bytes:
        m = _TOKEN.match(self._data, self.offset)
        if m is None:
            raise T7FormatError(len(self._data), f"truncated: expected {what}, found the end of the file")
        tok = m.group(1)
        if not pattern.fullmatch(tok):
            raise T7FormatError(m.start(1), f"expected {what}, found {tok[:40]!r}")
        self.offset = m.end()
        return tok

    def _integer(self, what: str, bounds: tuple[int, int]) -> int:
        start = self.offset
        tok = self._token(_INT, what)
        value = int(tok) if len(tok) <= 24 else bounds[1] + 1
        if not bounds[0] <= value <= bounds[1]:
            raise T7FormatError(start, f"{what} {value} out of range")
        return value

    def int(self, what: str) -> int:
        value = self._integer(what, INT32_RANGE)
        self._eol()
        return value

    def long(self, what: str) -> builtins.int:
        value = self._integer(what, INT64_RANGE)
        self._eol()
        return value

    def double(self, what: str) -> float:
        value = float(self._token(_FLOAT, what))
        self._eol()
        return value

    def raw(self, n: builtins.int, what: str) -> bytes:
        if n > self.left():
            raise T7FormatError(self.offset, f"truncated: expected {what} ({n} bytes), {self.left()} left")
        data = self._data[self.offset : self.offset + n]
        self.offset += n
        if n:
            self._eol()
        return data

    def string(self, what: str) -> bytes:
        """A length line, then the raw bytes."""
        at = self.offset
        n = self.int(what)
        if n < 0:
            raise T7FormatError(at, f"negative {what} length {n}")
        return self.raw(n, what)

    def longs(self, n: builtins.int, what: str) -> list[builtins.int]:
        values = [self._integer(what, INT64_RANGE) for _ in range(n)]
        if n:
            self._eol()
        return values

    def array(self, el: ElementType, n: builtins.int, what: str) -> np.ndarray:
        """Parse a whole storage line with numpy; fall back to one token at a time for odd layouts."""
        self.require(n, el, what)
        if el.kind == "raw":
            return np.frombuffer(self.raw(n, what), dtype=el.dtype).copy()
        if n == 0:
            return np.empty(0, dtype=el.dtype)
        parse_dtype = np.dtype(np.float32) if el.dtype == np.float16 else el.dtype
        start = self.offset
        while start < len(self._data) and self._data[start] in _WS:
            start += 1
        end = self._data.find(b"\n", start)
        end = len(self._data) if end < 0 else end
        line = self._data[start:end]
        out: np.ndarray | None
        if len(line) == 2 * n - 1 and line == b"0 " * (n - 1) + b"0":
            out = np.zeros(n, dtype=el.dtype)  # zeroed buffers (gradients) are common; skip per-token parsing
        elif len(line) <= _MAX_TOKEN * n:  # a longer line cannot be n numbers: never re-parse it piecewise
            out = _parse_line(line, parse_dtype)
        else:
            out = None
        if out is not None and out.size == n:
            self.offset = end
        else:
            out = self._slow_array(el, n, what)
        self._eol()
        return out.astype(el.dtype) if out.dtype != el.dtype else out

    def _slow_array(self, el: ElementType, n: builtins.int, what: str) -> np.ndarray:
        if el.kind in ("int", "long"):
            bounds = (int(np.iinfo(el.dtype).min), int(np.iinfo(el.dtype).max))
            return np.array([self._integer(what, bounds) for _ in range(n)], dtype=el.dtype)
        return np.array([float(self._token(_FLOAT, what)) for _ in range(n)], dtype=np.float64)

    def at_end(self) -> bool:
        return self._data[self.offset :].strip(_WS) == b""
