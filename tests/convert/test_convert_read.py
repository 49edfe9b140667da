"""read_t7 on the real Torch7-written files, checked against torchfile (the independent oracle)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torchfile

from convert import Storage, T7FormatError, Tensor, TorchObject, read_t7
from convert_helpers import (
    assert_matches_torchfile,
    assert_same_value,
    default_leaf_check,
    default_tensor_check,
    float_storage,
    float_tensor,
)
from ground_truth import torch7_refs_dir

ALL_FILES = sorted(p.relative_to(torch7_refs_dir()).as_posix() for p in torch7_refs_dir().rglob("*.t7"))
# torchfile cannot read these two (MANIFEST "Step 5"); everything else is binary with 8-byte longs.
NOT_FOR_TORCHFILE = {"soundnet8_finetune_quarter_ascii.t7", "variants/soundnet8_finetune_quarter_b32.t7"}
FINETUNE = "soundnet8_finetune_quarter.t7"


def torchfile_load(path: Path):
    """torchfile with its list heuristic, or without it where Lua arrays of tensors trip it (MANIFEST)."""
    try:
        return torchfile.load(str(path))
    except ValueError:
        return torchfile.load(str(path), use_list_heuristic=False)


@pytest.fixture(scope="module")
def finetune(torch7_refs):
    return read_t7(torch7_refs / FINETUNE)


@pytest.mark.parametrize("name", ALL_FILES or ["<none>"])
def test_every_real_file_reads(torch7_refs, name):
    value = read_t7(torch7_refs / name)
    assert isinstance(value, (dict, TorchObject))


@pytest.mark.parametrize("name", [n for n in ALL_FILES if n not in NOT_FOR_TORCHFILE] or ["<none>"])
def test_matches_torchfile(torch7_refs, name):
    assert_matches_torchfile(read_t7(torch7_refs / name), torchfile_load(torch7_refs / name))


def test_file_objects_and_paths_agree(torch7_refs):
    path = torch7_refs / FINETUNE
    with open(path, "rb") as f:
        from_file = read_t7(f)
    assert_same_value(read_t7(str(path)), from_file)
    assert_same_value(from_file, read_t7(io.BytesIO(path.read_bytes())))


def test_quarter_model_structure(torch7_refs):
    net = read_t7(torch7_refs / "soundnet8_quarter.t7")
    assert isinstance(net, TorchObject) and net.typename == "nn.Sequential" and net.version == 1
    assert net["train"] is False and "modules" in net and net.get("nope", 7) == 7
    assert net["output"] == {}  # container output is an empty Lua table
    conv, bn = net["modules"][0], net["modules"][1]
    assert conv.typename == "nn.SpatialConvolution" and bn.version == 2 and bn["eps"] == 1e-5
    assert isinstance(conv["kH"], int) and conv["kH"] == 64 and isinstance(bn["eps"], float)
    w = conv["weight"]
    assert isinstance(w, Tensor) and w.typename == "torch.FloatTensor" and w.shape == (4, 1, 64, 1)
    assert w.strides == (256, 256, 4, 4)  # Torch's (64, 64, 1, 1) in elements
    assert isinstance(w.storage, Storage) and w.storage.typename == "torch.FloatStorage"
    assert w.storage is bn["weight"].storage and np.shares_memory(w, w.storage)
    assert len(w.storage) == 3_051_629 and w.storage_offset == 0 and conv["bias"].storage_offset == 256
    assert conv["gradWeight"].storage is not w.storage and conv["gradWeight"].storage_offset == 0
    assert conv["finput"].storage is None and conv["finput"].shape == (0,)
    w.storage[0] = 123.0  # views of one buffer, not copies
    assert w[0, 0, 0, 0] == 123.0


def test_legacy_bn_carries_version_1_and_running_std(torch7_refs):
    net = read_t7(torch7_refs / "soundnet8_quarter_legacybn.t7")
    bn = net["modules"][1]
    assert bn.version == 1 and "running_std" in bn and "running_var" not in bn


def test_sequences_with_n_keys_stay_dicts(torch7_refs):
    refs = read_t7(torch7_refs / "refs_soundnet8_quarter.t7")
    clip2 = refs["outputs"]["clip2"]
    assert isinstance(clip2, dict) and clip2["_n"] == 24 and isinstance(clip2[1], Tensor)
    assert isinstance(refs["meta"]["module_typenames"], list)  # keys exactly 1..n: a list


def test_ascii_twin_reads_to_the_binary_values(torch7_refs, finetune):
    assert_same_value(finetune, read_t7(torch7_refs / "soundnet8_finetune_quarter_ascii.t7"))


def test_b32_variant_reads_to_the_same_values(torch7_refs, finetune):
    path = torch7_refs / "variants/soundnet8_finetune_quarter_b32.t7"
    assert_same_value(finetune, read_t7(path))
    assert_same_value(finetune, read_t7(path, long_size=4))
    with pytest.raises(T7FormatError):
        read_t7(path, long_size=8)


def test_double_variant_is_the_float_model_in_double(torch7_refs, finetune):
    def check(a, b, where):
        if a.size == 0:  # :double() also retypes empty buffers such as pooling indices
            assert b.size == 0, where
            return
        if a.dtype != np.float32:  # e.g. nn.View's LongStorage stays Long
            return default_tensor_check(a, b, where)
        assert b.dtype == np.float64 and a.shape == b.shape, where
        assert np.array_equal(b.astype(np.float32), a), where
        assert b.typename == a.typename.replace("Float", "Double"), where

    def leaf(a, b, where):  # the `_type` fields name the Double classes
        default_leaf_check(a.replace("Float", "Double") if isinstance(a, str) else a, b, where)

    assert_same_value(
        finetune,
        read_t7(torch7_refs / "variants/soundnet8_finetune_quarter_double.t7"),
        tensor_check=check,
        leaf_check=leaf,
    )


def test_conv2d_variant_has_the_same_numbers_in_2d_weights(torch7_refs, finetune):
    def check(a, b, where):
        if a.shape != b.shape:
            assert b.ndim == 2 and a.shape[0] == b.shape[0] and a.size == b.size, where
            a = a.reshape(b.shape)
        default_tensor_check(a, b, where)

    variant = read_t7(torch7_refs / "variants/soundnet8_finetune_quarter_conv2d.t7")
    assert variant["modules"][0]["weight"].shape == (4, 64)
    assert_same_value(finetune, variant, tensor_check=check, layout=False)


def test_torchfile_fails_on_b32_and_ascii(torch7_refs):
    """Why we need our own reader: MANIFEST quotes these torchfile 0.1.0 failures."""
    with pytest.raises(TypeError, match="unhashable type: 'numpy.ndarray'"):
        torchfile.load(str(torch7_refs / "variants/soundnet8_finetune_quarter_b32.t7"))
    with pytest.raises(torchfile.T7ReaderException, match="unknown object type / typeidx: 170986036"):
        torchfile.load(str(torch7_refs / "soundnet8_finetune_quarter_ascii.t7"))


def test_view_past_storage_end_torchfile_accepts_we_reject(tmp_path):
    """A 10-element view of a 4-element storage: torchfile hands back an array reading past the buffer."""
    data = float_tensor(1, [10], [1], 1, float_storage(2, [1.0, 2.0, 3.0, 4.0]))
    path = tmp_path / "past_end.t7"
    path.write_bytes(data)
    loose = torchfile.load(str(path))
    assert loose.shape == (10,)  # values beyond index 3 are whatever memory follows; never read them
    with pytest.raises(T7FormatError, match="reaches element 9 of a storage of 4") as err:
        read_t7(path)
    assert err.value.offset > 0 and "byte offset" in str(err.value)
