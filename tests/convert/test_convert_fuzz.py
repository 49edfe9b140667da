"""Fuzzing read_t7: whatever the bytes, the only exception is T7FormatError, memory stays bounded, nothing hangs.

A hang is caught by a timeout, not by timing cases: each test here takes about a second, so 120 s only fires
when a case does not finish (benchmarks/fuzz_t7.py reports how long cases take).
"""

from __future__ import annotations

import io
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convert import T7FormatError, read_t7, write_t7
from convert.reader import MAX_DEPTH
from convert_helpers import (
    float_storage,
    float_tensor,
    i32,
    i64,
    lua_str,
    mutations,
    read_or_format_error,
    seed_bytes,
    torch_head,
)

pytestmark = pytest.mark.timeout(120)
CASES = {"run": 0}


@pytest.fixture(scope="module", autouse=True)
def _count_cases():
    yield
    print(f"\nconvert fuzz: {CASES['run']} cases")


def check(data: bytes, label: str) -> None:
    CASES["run"] += 1
    read_or_format_error(data, label)


SEEDS = {"binary8": seed_bytes("binary"), "binary4": seed_bytes("binary", 4), "ascii": seed_bytes("ascii")}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_truncation_of_a_small_file(name):
    data = SEEDS[name]
    assert read_t7(io.BytesIO(data))  # the seed itself is valid
    for cut in range(len(data)):
        check(data[:cut], f"{name} truncated at {cut}")


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_random_mutations_of_a_small_file(name):
    stream = mutations(SEEDS[name], random.Random(name))
    for _ in range(2500):
        label, data = next(stream)
        check(data, f"{name} {label}")


@pytest.mark.parametrize(
    "name,head,sampled,mutated",
    [
        ("soundnet8_finetune_quarter.t7", 4096, 150, 250),
        ("variants/soundnet8_finetune_quarter_b32.t7", 2048, 60, 120),
        ("soundnet8_finetune_quarter_ascii.t7", 2048, 10, 15),
    ],
)
def test_mutations_of_real_files(torch7_refs, name, head, sampled, mutated):
    data = (torch7_refs / name).read_bytes()
    rng = random.Random(name)
    for cut in list(range(head)) + rng.sample(range(head, len(data)), sampled):
        check(data[:cut], f"{name} truncated at {cut}")
    stream = mutations(data, rng)
    for _ in range(mutated):
        label, mutant = next(stream)
        check(mutant, f"{name} {label}")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    check(data, f"bytes {data[:40]!r}")


@FUZZ
@given(st.lists(st.one_of(st.integers(-2, 10), st.integers(-(2**31), 2**31 - 1)), max_size=60))
def test_random_int_streams(values):
    """Streams of small ints hit real tags, indices and sizes far more often than random bytes."""
    check(i32(*values), f"ints {values[:20]}")


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.integers(0, 10**6), st.binary(min_size=1, max_size=8))
def test_overwrites_of_a_small_file(name, where, patch):
    seed = SEEDS[name]
    pos = where % len(seed)
    check(seed[:pos] + patch + seed[pos + len(patch) :], f"{name} patch {patch!r}@{pos}")


def _tensor_with(size, stride, offset1, n=4, ndim=None):
    body = i32(len(size) if ndim is None else ndim) + i64(*size) + i64(*stride) + i64(offset1)
    return torch_head(1, "torch.FloatTensor") + body + float_storage(2, [0.0] * n)


CRAFTED = {
    "empty file": (b"", "empty stream"),
    "unknown tag": (i32(2304), "unknown type tag 2304"),
    "trailing garbage": (i32(1) + b"\0" * 8 + b"junk", "trailing data"),
    "negative string length": (i32(2, -5), "negative string length"),
    "huge string": (i32(2, 2**31 - 1) + b"abc", "truncated"),
    "huge table": (i32(3, 1, 2**31 - 1), "claims 4294967294 items"),  # two tags per entry
    "negative table size": (i32(3, 1, -1), "negative table size"),
    "huge storage": (float_storage(1, [])[:-8] + i64(2**62), "claims 4611686018427387904"),
    "negative storage size": (float_storage(1, [])[:-8] + i64(-3), "negative storage size"),
    "huge ndim": (torch_head(1, "torch.FloatTensor") + i32(2**31 - 1), "sizes and strides: the file claims"),
    "negative ndim": (torch_head(1, "torch.FloatTensor") + i32(-1), "negative number of dimensions"),
    "negative size": (_tensor_with([-2], [1], 1), "negative size"),
    "negative stride": (_tensor_with([2], [-1], 1), "negative stride"),
    "zero offset": (_tensor_with([2], [1], 0), "negative storage offset"),
    "view past the end": (_tensor_with([2, 2], [2, 1], 2), "reaches element 4 of a storage of 4"),
    "overflowing stride": (_tensor_with([2], [2**62], 1), "overflows"),
    "overflowing size": (_tensor_with([2**62, 2**62], [1, 1], 1), "reaches element"),
    "elements but no storage": (torch_head(1, "torch.FloatTensor") + i32(1) + i64(3, 1, 1) + i32(0), "no storage"),
    "wrong storage type": (
        torch_head(1, "torch.FloatTensor") + i32(0) + i64(1) + torch_head(2, "torch.DoubleStorage") + i64(0),
        "needs a torch.FloatStorage",
    ),
    "unseen reference": (i32(3, 1, 1) + i32(1) + b"\0" * 8 + i32(3, 7), "neither a seen object"),
    "kind mismatch": (i32(3, 1, 1) + i32(1) + b"\0" * 8 + i32(4, 1), "refers to a table"),
    "tensor as its own storage": (torch_head(1, "torch.FloatTensor") + i32(0) + i64(1) + i32(4, 1), "neither a seen"),
    "bad boolean": (i32(5, 7), "boolean must be 0 or 1"),
    "nil key": (i32(3, 1, 1, 0, 1) + b"\0" * 8, "is nil"),
    "duplicate key": (i32(3, 1, 2) + (i32(1) + b"\0" * 8) * 4, "repeated"),
    "bad version": (i32(4, 1) + lua_str(b"V x") + lua_str(b"nn.X"), "is not 'V <integer>'"),
    "binary class name": (i32(4, 1) + lua_str(b"V 1") + lua_str(b"\xff\xfe"), "is not text"),
    "neither format": (b"\x7fELF", "neither a binary nor an ascii"),
    "ascii bad token": (b"1\nxyz\n", "expected number"),
    "ascii huge int": (b"9" * 5000 + b"\n", "out of range"),
    "ascii truncated string": (b"2\n100\nabc", "truncated"),
    "ascii huge storage": (b"4\n1\n3\nV 1\n18\ntorch.FloatStorage\n99999999\n1 2\n", "claims 99999999"),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_bad_files(name):
    data, message = CRAFTED[name]
    CASES["run"] += 1
    tracemalloc.start()
    try:
        with pytest.raises(T7FormatError, match=message) as err:
            read_t7(io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0 <= err.value.offset <= len(data) and "byte offset" in str(err.value)
    assert peak < 1_000_000, f"{name}: {peak} bytes traced for a {len(data)}-byte file"


@pytest.mark.parametrize("kind", ["binary tables", "ascii tables", "plain functions"])
def test_deep_nesting_is_a_format_error_not_a_recursion_error(kind):
    depth = 100_000
    if kind == "binary tables":
        data = b"".join(i32(3, i + 1, 1, 1) + b"\0" * 8 for i in range(depth)) + i32(0)
    elif kind == "ascii tables":
        data = "".join(f"3\n{i + 1}\n1\n1\n1\n" for i in range(depth)).encode() + b"0\n"
    else:  # tag 6 functions carry no index: each one's upvalues is the next function
        data = i32(6, 0) * depth + i32(0)
    with pytest.raises(T7FormatError, match=f"deeper than {MAX_DEPTH}"):
        read_t7(io.BytesIO(data))


def test_writer_and_reader_agree_on_the_nesting_limit():
    def nested(levels):
        value = inner = {}
        for _ in range(levels):
            inner["x"] = inner = {}
        return value

    buf = io.BytesIO()
    write_t7(nested(MAX_DEPTH - 1), buf)
    buf.seek(0)
    assert isinstance(read_t7(buf), dict)
    with pytest.raises(ValueError, match="nested deeper"):
        write_t7(nested(MAX_DEPTH), io.BytesIO())


def test_torchfile_style_crafted_view_with_crafted_helper_is_consistent():
    """The helpers build valid files too: a view inside its storage reads fine."""
    data = float_tensor(1, [2], [2], 2, float_storage(2, [1.0, 2.0, 3.0, 4.0]))
    assert read_t7(io.BytesIO(data)).tolist() == [2.0, 4.0]
