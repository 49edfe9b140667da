"""Support for the convert tests and benchmarks/fuzz_t7.py: value comparison walkers, byte crafting, mutations."""

from __future__ import annotations

import io
import math
import random
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from convert import LuaFunction, Storage, T7FormatError, Tensor, TorchObject, make_tensor, read_t7, write_t7

# ---------------------------------------------------------------- comparing our values


def _items(table: dict | list) -> dict:
    return dict(enumerate(table, 1)) if isinstance(table, list) else table


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def default_tensor_check(a: np.ndarray, b: np.ndarray, where: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape and _arrays_equal(a, b), f"{where}: arrays differ"
    assert getattr(a, "typename", None) in (None, getattr(b, "typename", None)), f"{where}: type names differ"


def default_leaf_check(a: Any, b: Any, where: str) -> None:
    assert type(a) is type(b) and a == b, f"{where}: {b!r} != {a!r}"


def assert_same_value(
    a: Any,
    b: Any,
    where: str = "value",
    tensor_check: Callable = default_tensor_check,
    layout: bool = True,
    leaf_check: Callable = default_leaf_check,
    _pairs: dict | None = None,
) -> None:
    """Deep equality of two read_t7-style values that also demands the same sharing and cycles.

    Table keys may come in any order (Lua's pairs order differs between runs). ``layout`` also
    compares storage offsets and strides. A plain ndarray in ``a`` matches a Tensor in ``b`` with
    the same values (that is what the writer makes of it).
    """
    pairs = {} if _pairs is None else _pairs
    if isinstance(a, (dict, list, TorchObject, LuaFunction, np.ndarray)) and getattr(a, "tag", None) != 6:
        if id(a) in pairs:  # (functions with tag 6 carry no reference index: each copy is its own object)
            assert pairs[id(a)] is b, f"{where}: sharing differs"
            return
        pairs[id(a)] = b
    recurse = lambda x, y, w: assert_same_value(x, y, w, tensor_check, layout, leaf_check, pairs)  # noqa: E731
    if isinstance(a, Storage):
        assert isinstance(b, Storage), f"{where}: {type(b).__name__} is not a Storage"
        tensor_check(a, b, where)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, Tensor), f"{where}: {type(b).__name__} is not a Tensor"
        tensor_check(a.reshape(0) if a.size == 0 else a, b, where)  # Torch keeps no empty dimensions
        if layout and isinstance(a, Tensor) and a.storage is not None:
            assert a.storage_offset == b.storage_offset and b.storage is not None, f"{where}: storage offset differs"
            if a.size:
                assert np.divide(a.strides, a.itemsize).tolist() == np.divide(b.strides, b.itemsize).tolist(), (
                    f"{where}: strides differ"
                )
            recurse(a.storage, b.storage, where + ".storage")
    elif isinstance(a, TorchObject):
        assert isinstance(b, TorchObject) and (a.typename, a.version) == (b.typename, b.version), (
            f"{where}: {b!r} is not {a!r}"
        )
        recurse(a.fields, b.fields, f"{where}<{a.typename}>")
    elif isinstance(a, LuaFunction):
        assert isinstance(b, LuaFunction) and (a.dump, a.tag) == (b.dump, b.tag), f"{where}: functions differ"
        recurse(a.upvalues, b.upvalues, where + ".upvalues")
    elif isinstance(a, (dict, list)):
        assert type(a) is type(b), f"{where}: {type(b).__name__} is not {type(a).__name__}"
        ia, ib = _items(a), _items(b)
        assert ia.keys() == ib.keys(), f"{where}: keys differ: {list(ia)[:8]} vs {list(ib)[:8]}"
        for key in ia:
            recurse(ia[key], ib[key], f"{where}[{key!r}]")
    elif isinstance(a, float):
        assert type(b) is float and (a == b or (math.isnan(a) and math.isnan(b))), f"{where}: {b!r} != {a!r}"
        assert math.copysign(1, a) == math.copysign(1, b) or math.isnan(a), f"{where}: sign of zero differs"
    else:
        leaf_check(a, b, where)


# ---------------------------------------------------------------- comparing with torchfile (the oracle)


def assert_matches_torchfile(ours: Any, theirs: Any, where: str = "top", _seen: set | None = None) -> None:
    """Our value equals what torchfile.load returned (its bytes, lists, dicts, TorchObjects, ndarrays)."""
    import torchfile

    seen = set() if _seen is None else _seen
    if (id(ours), id(theirs)) in seen:
        return
    seen.add((id(ours), id(theirs)))
    recurse = lambda x, y, w: assert_matches_torchfile(x, y, w, seen)  # noqa: E731
    if isinstance(ours, np.ndarray):
        assert isinstance(theirs, np.ndarray), f"{where}: torchfile gave {type(theirs).__name__}"
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, f"{where}: {ours.shape} vs {theirs.shape}"
        assert _arrays_equal(ours, theirs), f"{where}: values differ"
    elif isinstance(ours, TorchObject) and ours.typename.startswith("tds."):
        recurse(ours.fields, theirs, where)
    elif isinstance(ours, TorchObject):
        assert isinstance(theirs, torchfile.TorchObject), f"{where}: torchfile gave {type(theirs).__name__}"
        assert theirs._typename == ours.typename.encode(), f"{where}: class {theirs._typename} vs {ours.typename}"
        assert theirs._version_number == ours.version, f"{where}: version differs"
        recurse(ours.fields, theirs._obj, f"{where}<{ours.typename}>")
    elif isinstance(ours, LuaFunction):
        assert theirs.dumped == ours.dump, f"{where}: bytecode differs"
        recurse(ours.upvalues, theirs.upvalues, where + ".upvalues")
    elif isinstance(ours, (dict, list)):
        assert isinstance(theirs, (dict, list)), f"{where}: torchfile gave {type(theirs).__name__}"
        mine = {k.encode() if isinstance(k, str) else k: v for k, v in _items(ours).items()}
        other = _items(theirs)
        assert set(mine) == set(other), f"{where}: keys {sorted(map(repr, mine))[:6]} vs {sorted(map(repr, other))[:6]}"
        for key, value in mine.items():
            recurse(value, other[key], f"{where}[{key!r}]")
    elif isinstance(ours, str):
        assert theirs == ours.encode(), f"{where}: {theirs!r} vs {ours!r}"
    elif isinstance(ours, float) and math.isnan(ours):
        assert math.isnan(theirs), where
    else:
        assert theirs == ours and isinstance(theirs, bool) == isinstance(ours, bool), f"{where}: {theirs!r} vs {ours!r}"


# ---------------------------------------------------------------- crafting binary streams by hand


def i32(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


def i64(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}q", *values)


def lua_str(data: bytes) -> bytes:
    return i32(len(data)) + data


def torch_head(index: int, typename: str, version: bytes = b"V 1") -> bytes:
    """Tag, reference index, version and class name of a Torch object."""
    return i32(4, index) + lua_str(version) + lua_str(typename.encode())


def float_tensor(index: int, size: list[int], stride: list[int], offset1: int, storage: bytes) -> bytes:
    """A binary FloatTensor (8-byte longs); ``offset1`` is Torch's 1-based storage offset."""
    return torch_head(index, "torch.FloatTensor") + i32(len(size)) + i64(*size) + i64(*stride) + i64(offset1) + storage


def float_storage(index: int, values: list[float]) -> bytes:
    return torch_head(index, "torch.FloatStorage") + i64(len(values)) + np.asarray(values, "<f4").tobytes()


# ---------------------------------------------------------------- fuzzing


def seed_value() -> dict:
    """A small value touching every kind the format has."""
    storage = Storage.from_array(np.arange(12, dtype=np.float32))
    loop = {"name": "cycle"}
    loop["self"] = loop
    return {
        "views": [make_tensor(storage, 1, [3, 2], [1, 3]), make_tensor(storage, 0, [12], [1])],
        "long": np.array([1, -2, 3]),
        "half": np.array([0.5, -1], np.float16),
        "bytes": np.array([1, 2], np.uint8),
        "module": TorchObject("nn.Linear", {"weight": np.ones((2, 2), np.float64), "train": False}, 1),
        "vec": TorchObject("tds.Vec", [1, None, "a"], 0),
        "hash": TorchObject("tds.Hash", {"k": 2.5}, 0),
        "fn": LuaFunction(b"\x1bLua", [{"name": "x", "value": 1}], 8),
        "loop": loop,
        1.5: b"\xff\x00",
        True: "t",
    }


def seed_bytes(fmt: str, long_size: int = 8) -> bytes:
    buf = io.BytesIO()
    write_t7(seed_value(), buf, format=fmt, long_size=long_size)
    return buf.getvalue()


_INTERESTING = [0, 1, -1, 2, 255, 2**15, 2**31 - 1, -(2**31), 2**30, 1000000]


def mutations(seed: bytes, rng: random.Random, head: int = 4096) -> Iterator[tuple[str, bytes]]:
    """An endless stream of (label, mutated bytes): truncations, bit flips, overwritten ints/longs, splices."""
    n = len(seed)
    while True:
        kind = rng.randrange(5)
        if kind == 0:
            cut = rng.randrange(min(n, head)) if rng.random() < 0.7 else rng.randrange(n)
            yield f"truncate@{cut}", seed[:cut]
        elif kind == 1:
            pos = rng.randrange(min(n, head)) if rng.random() < 0.6 else rng.randrange(n)
            flipped = bytearray(seed)
            flipped[pos] ^= 1 << rng.randrange(8)
            yield f"flip@{pos}", bytes(flipped)
        elif kind == 2:
            pos = rng.randrange(max(1, min(n, head) - 4)) & ~3
            value = rng.choice(_INTERESTING) * rng.choice([1, 1, 4, 8])
            value = max(-(2**31), min(2**31 - 1, value))
            yield f"int{value}@{pos}", seed[:pos] + i32(value) + seed[pos + 4 :]
        elif kind == 3:
            pos = rng.randrange(max(1, min(n, head) - 8))
            value = rng.choice([2**62, -1, -(2**63), 2**40, 2**33 + 1, 2**63 - 1])
            yield f"long{value}@{pos}", seed[:pos] + i64(value) + seed[pos + 8 :]
        else:
            a, b = sorted(rng.randrange(n) for _ in range(2))
            c = rng.randrange(n)
            yield f"splice[{a}:{b}]@{c}", seed[:c] + seed[a:b] + seed[c:]


def read_or_format_error(data: bytes, label: str = "") -> float:
    """Read ``data``; anything but success or T7FormatError fails the caller. Returns the seconds taken."""
    start = time.perf_counter()
    try:
        read_t7(io.BytesIO(data))
    except T7FormatError:
        pass
    except BaseException as e:  # noqa: BLE001 - the point is to catch anything else
        raise AssertionError(f"{label}: {type(e).__name__}: {e}") from e
    return time.perf_counter() - start
