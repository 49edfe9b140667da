"""write_t7 inverts read_t7: generated values of every kind, shared storages, cycles, the real files byte for byte."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from convert import LuaFunction, Storage, T7FormatError, Tensor, TorchObject, make_tensor, read_t7, write_t7
from convert.reader import lua_number
from convert.types import STORAGE_TYPES, TENSOR_TYPES
from convert_helpers import assert_same_value
from ground_truth import torch7_refs_dir

FORMATS = [("binary", 8), ("binary", 4), ("ascii", 8)]
REAL_FILES = sorted(p.relative_to(torch7_refs_dir()).as_posix() for p in torch7_refs_dir().rglob("*.t7"))


def round_trip(value, fmt="binary", long_size=8):
    buf = io.BytesIO()
    write_t7(value, buf, format=fmt, long_size=long_size)
    buf.seek(0)
    return read_t7(buf)


# ---------------------------------------------------------------- strategies


def _elements(dtype: np.dtype):
    if dtype == np.int64:  # Long values must fit 4-byte longs too
        return st.integers(-(2**31), 2**31 - 1)
    return None  # hypothesis' defaults: NaN, infinities, -0.0, subnormals, extremes


@st.composite
def views(draw, name: str | None = None):
    """1-3 Tensor views (transposed, offset, strided, size-1 dims with odd strides) of one fresh Storage."""
    name = name or draw(st.sampled_from(sorted(TENSOR_TYPES)))
    ttype = TENSOR_TYPES[name]
    layouts = []
    for _ in range(draw(st.integers(1, 3))):
        size = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
        stride = draw(st.lists(st.integers(0, 4), min_size=len(size), max_size=len(size)))
        layouts.append((draw(st.integers(0, 3)), size, stride))
    n = max(off + sum((s - 1) * d for s, d in zip(size, stride)) + 1 for off, size, stride in layouts)
    n += draw(st.integers(0, 2))
    data = draw(arrays(ttype.element.dtype.newbyteorder("="), n, elements=_elements(ttype.element.dtype)))
    storage = Storage.from_array(data, ttype.storage)
    return [make_tensor(storage, off, size, stride, name) for off, size, stride in layouts]


@st.composite
def tensors(draw):
    kind = draw(st.sampled_from(["view", "plain", "empty", "empty_on_storage"]))
    if kind == "view":
        return draw(views())[0]
    name = draw(st.sampled_from(sorted(TENSOR_TYPES)))
    dtype = TENSOR_TYPES[name].element.dtype.newbyteorder("=")
    if kind == "plain":
        shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
        return draw(arrays(dtype, tuple(shape), elements=_elements(dtype)))
    storage = None if kind == "empty" else Storage.from_array(np.zeros(3, dtype), TENSOR_TYPES[name].storage)
    return make_tensor(storage, 1, [], [], name) if storage is not None else _no_storage(name)


def _no_storage(name: str) -> Tensor:
    from convert.objects import empty_tensor

    return empty_tensor(name)


storages = st.sampled_from(sorted(STORAGE_TYPES)).flatmap(
    lambda name: arrays(
        STORAGE_TYPES[name].element.dtype.newbyteorder("="),
        st.integers(0, 5),
        elements=_elements(STORAGE_TYPES[name].element.dtype),
    ).map(lambda a: Storage.from_array(a, name))
)

invalid_utf8 = st.binary(max_size=6).map(lambda b: b"\xff" + b)
numbers = st.one_of(st.integers(-(2**53) + 1, 2**53 - 1), st.floats().map(lua_number), st.just(-0.0))
leaves = st.one_of(st.booleans(), numbers, st.text(max_size=8), invalid_utf8, tensors(), storages)
keys = st.one_of(
    st.text(max_size=6), st.integers(-5, 40), st.floats(allow_nan=False).map(lua_number), invalid_utf8, st.booleans()
)


def _not_sequence(d: dict) -> bool:
    n = len(d)
    return not (n and all(type(k) is int for k in d) and set(d) == set(range(1, n + 1)))


def _containers(children):
    fields = st.dictionaries(st.text(max_size=8), children, max_size=4)
    return st.one_of(
        st.dictionaries(keys, children, max_size=4).filter(_not_sequence),
        st.lists(children, min_size=1, max_size=4),
        st.builds(
            TorchObject,
            st.sampled_from(["nn.Sequential", "nn.Linear", "cudnn.SpatialConvolution"]),
            fields,
            st.integers(0, 3),
        ),
        st.builds(TorchObject, st.just("tds.Vec"), st.lists(st.one_of(st.none(), children), max_size=4), st.just(0)),
        st.builds(TorchObject, st.just("tds.Hash"), st.dictionaries(keys, children, max_size=3), st.just(0)),
        st.builds(LuaFunction, st.binary(max_size=12), st.one_of(st.none(), children), st.sampled_from([6, 7, 8])),
    )


values = st.recursive(leaves, _containers, max_leaves=10)

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# ---------------------------------------------------------------- generated round trips


@pytest.mark.parametrize("fmt,long_size", FORMATS)
@SETTINGS
@given(value=st.one_of(st.none(), values))
def test_generated_values_round_trip(fmt, long_size, value):
    assert_same_value(value, round_trip(value, fmt, long_size))


@pytest.mark.parametrize("fmt,long_size", FORMATS)
@SETTINGS
@given(shared=views(), other=values)
def test_shared_storages_and_objects_stay_shared(fmt, long_size, shared, other):
    value = {"views": shared, "again": shared[0], "other": [other, other], "obj": TorchObject("nn.Id", {"x": other})}
    back = round_trip(value, fmt, long_size)
    assert_same_value(value, back)
    assert back["again"] is back["views"][0]
    assert all(t.storage is back["views"][0].storage for t in back["views"])
    assert all(np.shares_memory(t, t.storage) for t in back["views"] if t.size)


@pytest.mark.parametrize("fmt,long_size", FORMATS)
def test_cycles(fmt, long_size):
    table = {"name": "loop"}
    obj = TorchObject("nn.Module", {"parent": table})
    table["self"], table["obj"] = table, obj
    obj.fields["me"] = obj
    vec = TorchObject("tds.Vec", [None, "x"], 0)
    vec.fields.append(vec)
    fn = LuaFunction(b"\x1bLJ", [{"name": "f"}], 8)
    fn.upvalues[0]["value"] = fn
    back = round_trip({"t": table, "v": vec, "f": fn}, fmt, long_size)
    t = back["t"]
    assert t["self"] is t and t["obj"]["parent"] is t and t["obj"]["me"] is t["obj"]
    assert back["v"].fields[2] is back["v"] and back["v"].fields[0] is None
    assert back["f"].upvalues[0]["value"] is back["f"]


def test_a_list_that_contains_itself_reads_back_as_a_dict():
    """Turning it into a list would break the inner reference, so it stays a dict keyed 1..n."""
    loop = [1]
    loop.append(loop)
    back = round_trip(loop)
    assert isinstance(back, dict) and back[1] == 1 and back[2] is back


def test_conventions():
    value = {
        "i": 3,
        "big": 2.0**53,
        "negzero": -0.0,
        "half": 0.5,
        "nan": math.nan,
        "s": "é",
        "b": b"\xff\xfe",
        "t": True,
        "f": False,
        "e": {},
        "l": [1, 2],
        "k": {1: "a", 3: "c"},
    }
    back = round_trip(value)
    assert type(back["i"]) is int and type(back["big"]) is float and math.copysign(1, back["negzero"]) < 0
    assert back["s"] == "é" and back["b"] == b"\xff\xfe" and back["e"] == {} and back["l"] == [1, 2]
    assert back["k"] == {1: "a", 3: "c"} and math.isnan(back["nan"])


@pytest.mark.parametrize("fmt,long_size", FORMATS)
def test_every_tensor_type(fmt, long_size):
    value = {}
    for name, ttype in TENSOR_TYPES.items():
        data = (np.arange(12) - 3).astype(ttype.element.dtype).reshape(3, 4)
        storage = Storage.from_array(data, ttype.storage)
        value[name] = [
            make_tensor(storage, 0, [3, 4], [4, 1], name),
            make_tensor(storage, 1, [4, 2], [1, 4], name),  # transposed, offset
            make_tensor(storage, 2, [2, 1, 3], [5, 7, 2], name),
        ]  # strided, odd stride on a size-1 dim
    back = round_trip(value, fmt, long_size)
    assert_same_value(value, back)
    for name, (full, transposed, _) in back.items():
        assert full.typename == name and full.storage.typename == TENSOR_TYPES[name].storage
        assert transposed.storage is full.storage and transposed.storage_offset == 1


def test_plain_arrays_get_a_fresh_contiguous_storage():
    arr = np.arange(6, dtype=np.float64).reshape(2, 3).T
    back = round_trip({"a": arr, "b": arr})
    t = back["a"]
    assert t.typename == "torch.DoubleTensor" and t.storage.typename == "torch.DoubleStorage"
    assert np.array_equal(t, arr) and t.flags.c_contiguous and t.storage_offset == 0 and back["b"] is t


def test_derived_arrays_drop_the_storage_claim():
    storage = Storage.from_array(np.arange(10, dtype=np.float32))
    t = make_tensor(storage, 2, [2, 3], [3, 1])
    for derived in (t[1:], t.T, t + 1, t.reshape(6), t.astype(np.float64)):
        assert getattr(derived, "storage", None) is None
    assert (t + 1).typename == "torch.FloatTensor" and t.astype(np.float64).typename is None
    assert Storage.from_array(storage).base is not None  # no copy for a flat contiguous array
    back = round_trip(t[:, ::2])
    assert np.array_equal(back, t[:, ::2]) and back.storage_offset == 0 and len(back.storage) == 4


def test_make_tensor_checks_its_view():
    storage = Storage.from_array(np.zeros(6, np.float32), "torch.CudaStorage")
    assert make_tensor(storage, 0, [2, 3], [3, 1]).typename == "torch.CudaTensor"
    for offset, size, stride in [
        (0, [7], [1]),
        (-1, [1], [1]),
        (0, [2], [-1]),
        (4, [2, 2], [1, 1]),
        (0, [-2], [1]),
        (0, [2, 2], [1]),
    ]:
        with pytest.raises(ValueError):
            make_tensor(storage, offset, size, stride)
    with pytest.raises(ValueError):
        make_tensor(storage, 0, [2], [1], "torch.DoubleTensor")
    with pytest.raises(ValueError):
        Storage.from_array(np.zeros(2, np.float32), "torch.LongStorage")


def test_writer_refuses_what_lua_cannot_hold():
    for bad in [{"a": None}, [1, None], {None: 1}, 2**60 + 1, np.array(1.0, np.float32), object(), np.zeros(2, bool)]:
        with pytest.raises((ValueError, TypeError)):
            write_t7(bad, io.BytesIO())
    with pytest.raises(ValueError):
        write_t7(np.array([2**40]), io.BytesIO(), long_size=4)
    with pytest.raises(ValueError):
        write_t7(1, io.BytesIO(), format="json")


def test_path_output_is_atomic(tmp_path):
    path = tmp_path / "x.t7"
    write_t7({"a": 1}, path)
    with pytest.raises(TypeError):
        write_t7({"a": 1, "b": object()}, path)
    assert read_t7(path) == {"a": 1} and os.listdir(tmp_path) == ["x.t7"]


def test_class_versions_are_written_as_torch_does():
    buf = io.BytesIO()
    write_t7(TorchObject("nn.SpatialBatchNormalization", {"eps": 1e-5}, version=2), buf)
    assert b"V 2" in buf.getvalue() and read_t7(io.BytesIO(buf.getvalue())).version == 2
    no_prefix = bytearray(buf.getvalue().replace(b"\x03\x00\x00\x00V 2", b""))
    assert read_t7(io.BytesIO(bytes(no_prefix))).version == 0  # old files without "V n" read as version 0


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize("name", REAL_FILES or ["<none>"])
def test_real_files_rewrite_byte_identically(torch7_refs, name):
    original = (torch7_refs / name).read_bytes()
    value = read_t7(io.BytesIO(original))
    out = io.BytesIO()
    write_t7(value, out, format="ascii" if "ascii" in name else "binary", long_size=4 if "b32" in name else 8)
    assert out.getvalue() == original


@pytest.mark.parametrize("fmt,long_size", FORMATS)
def test_real_model_round_trips_in_every_format(torch7_refs, fmt, long_size):
    value = read_t7(torch7_refs / "soundnet8_finetune_quarter.t7")
    assert_same_value(value, round_trip(value, fmt, long_size))


def test_ascii_reader_tolerates_torch_spacing_variants():
    """fscanf-style reading: numbers split over lines still parse (slow path); bad tokens are format errors."""
    buf = io.BytesIO()
    write_t7(Storage.from_array(np.array([1.5, -2.25, 3.0], np.float32)), buf, format="ascii")
    text = buf.getvalue()
    assert np.array_equal(read_t7(io.BytesIO(text.replace(b"1.5 -2.25 3", b"1.5\n-2.25   3"))), [1.5, -2.25, 3.0])
    with pytest.raises(T7FormatError, match="expected"):
        read_t7(io.BytesIO(text.replace(b"-2.25", b"-2.x5")))
