"""Conversion between .t7, safetensors, pth and h5; the released GPU layout; wrong files."""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
import pytest
import torch
from safetensors import safe_open

import convert
import soundnet
from soundnet.formats.categories import load_categories
from soundnet.formats.t7_export import model_to_t7_tree
from soundnet.formats.t7_import import NotSoundNetError, model_from_t7
from soundnet.model.examples import EXAMPLE_MODEL
from soundnet.parity.verify import verify_reference


def same_parameters(a: soundnet.SoundNet, b: soundnet.SoundNet) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("suffix", ["safetensors", "pth", "h5", "t7"])
def test_every_format_round_trips_bit_identically(tmp_path, suffix):
    model = soundnet.load(EXAMPLE_MODEL)
    path = soundnet.save(model, tmp_path / f"model.{suffix}")
    again = soundnet.load(path)
    assert same_parameters(model, again)
    assert again.name == model.name and again.widths == model.widths and not again.training


def test_t7_to_safetensors_to_t7_is_byte_identical(tmp_path):
    soundnet.convert_file(EXAMPLE_MODEL, tmp_path / "a.safetensors")
    soundnet.convert_file(tmp_path / "a.safetensors", tmp_path / "b.t7")
    assert (tmp_path / "b.t7").read_bytes() == EXAMPLE_MODEL.read_bytes()


def test_safetensors_metadata(tmp_path, categories_dir):
    model = soundnet.load(EXAMPLE_MODEL, categories=categories_dir)
    soundnet.save(model, tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as handle:
        meta = handle.metadata()
    assert meta["architecture"] == "soundnet8"
    assert json.loads(meta["classes"]) == [1000, 401]
    assert meta["sample_rate"] == "22050" and float(meta["input_scale"]) == 256.0
    assert json.loads(meta["torch_index_map"])["25"] == ["object_head", "scene_head"]
    assert json.loads(meta["torch_index_map"])["23"] == ["bn7"]
    assert meta["source_sha256"] == hashlib.sha256(EXAMPLE_MODEL.read_bytes()).hexdigest()
    assert meta["soundnet_t7_version"] == soundnet.__version__
    objects, scenes = json.loads(meta["categories"])
    assert objects[0] == "n01440764 tench, Tinca tinca" and scenes[0] == "/a/abbey"
    reloaded = soundnet.load(tmp_path / "m.safetensors")
    assert reloaded.metadata["categories"] == [objects, scenes]


def test_categories_from_two_paths_and_count_check(tmp_path, categories_dir):
    pair = (categories_dir / "categories_imagenet.txt", categories_dir / "categories_places2.txt")
    assert load_categories(pair, (1000, 401)) == load_categories(categories_dir, (1000, 401))
    with pytest.raises(ValueError, match="has 1000 names, the model has 999"):
        load_categories(categories_dir, (999, 401))


def test_pth_is_a_plain_state_dict(tmp_path):
    model = soundnet.load(EXAMPLE_MODEL)
    soundnet.save(model, tmp_path / "m.pth")
    state = torch.load(tmp_path / "m.pth", weights_only=True)
    fresh = soundnet.SoundNet8(widths=model.widths)
    fresh.load_state_dict(state, strict=False)
    assert same_parameters(fresh, model)


def test_h5_has_a_dataset_per_parameter_and_metadata_attributes(tmp_path):
    model = soundnet.load(EXAMPLE_MODEL)
    soundnet.save(model, tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as h5:
        assert h5["conv1.weight"].shape == (4, 1, 64)
        assert h5["bn7.running_var"].dtype == np.float32
        assert h5.attrs["architecture"] == "soundnet8"


def as_released(tree):
    """Rewrite a real Torch7 tree the way the released GPU files are: cudnn.* classes with cudnn's fields,
    torch.CudaTensor / CudaStorage everywhere; the flat shared parameter storage stays as it is."""

    def visit(module):
        kind = module.typename.split(".")[1]
        if kind in ("SpatialConvolution", "ReLU", "SpatialMaxPooling"):
            module.typename = f"cudnn.{kind}"
            module.fields.update(
                groups=1,
                input_offset=0,
                output_offset=0,
                weight_offset=0,
                iSize=convert.make_tensor(np.zeros(4, np.int64), 0, (4,), (1,)),
            )
        for value in module.fields.values():
            if isinstance(value, convert.Tensor) and value.dtype == np.float32:
                value.typename = "torch.CudaTensor"
                if value.storage is not None:
                    value.storage.typename = "torch.CudaStorage"
        for child in module.get("modules") or []:
            visit(child)

    for module in tree["modules"]:
        visit(module)
    return tree


@pytest.mark.slow
def test_released_layout_of_the_real_file_converts_to_the_same_model(torch7_refs, tmp_path):
    real = torch7_refs / "soundnet8_quarter.t7"
    convert.write_t7(as_released(convert.read_t7(real)), tmp_path / "released.t7")
    tree = convert.read_t7(tmp_path / "released.t7")
    assert tree["modules"][0].typename == "cudnn.SpatialConvolution"
    assert tree["modules"][0]["weight"].typename == "torch.CudaTensor"
    weight_storage = tree["modules"][0]["weight"].storage
    assert all(tree["modules"][i]["weight"].storage is weight_storage for i in (0, 1, 4, 21))
    converted = soundnet.load(tmp_path / "released.t7")
    assert same_parameters(converted, soundnet.load(real))
    assert all(c.ok for c in verify_reference(converted, convert.read_t7(torch7_refs / "refs_soundnet8_quarter.t7")))


def test_half_tensors_convert(torch7_refs, tmp_path):
    tree = convert.read_t7(torch7_refs / "soundnet8_quarter.t7")
    conv = tree["modules"][0]
    half = np.asarray(conv["weight"], np.float16)
    storage = convert.Storage.from_array(half, typename="torch.CudaHalfStorage")
    conv.fields["weight"] = convert.make_tensor(
        storage, 0, half.shape, [s // 2 for s in half.strides], typename="torch.CudaHalfTensor"
    )
    convert.write_t7(tree, tmp_path / "half.t7")
    model = soundnet.load(tmp_path / "half.t7")
    assert torch.equal(model.conv1.weight, torch.from_numpy(half.astype(np.float32).reshape(4, 1, 64)))


@pytest.mark.parametrize("factory", [soundnet.SoundNet8, soundnet.SoundNet5])
def test_full_width_released_layout_needs_no_constants(factory, tmp_path):
    model = factory().eval()
    soundnet.export_t7(model, tmp_path / "full.t7", layout="released")
    loaded = soundnet.load(tmp_path / "full.t7")
    assert loaded.widths == model.widths and loaded.classes == (1000, 401)
    assert same_parameters(model, loaded)


def test_export_structure_equals_what_torch7_saved(torch7_refs):
    """Our exported module tree has the classes, versions, fields and storage layout of the real file."""
    real = convert.read_t7(torch7_refs / "soundnet8_quarter.t7")
    ours = model_to_t7_tree(model_from_t7(real))

    def compare(a, b, path):
        assert type(a) is type(b) or (isinstance(a, dict) and b == []) or (a == [] and isinstance(b, dict)), path
        if isinstance(a, convert.TorchObject):
            assert (a.typename, a.version, set(a.keys())) == (b.typename, b.version, set(b.keys())), path
            for key in a.keys():
                compare(a[key], b[key], f"{path}.{key}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, y) in enumerate(zip(a, b)):
                compare(x, y, f"{path}[{i}]")
        elif isinstance(a, np.ndarray):
            assert (a.typename, a.shape, a.strides, a.storage_offset) == (
                b.typename,
                b.shape,
                b.strides,
                b.storage_offset,
            ), path
            assert np.array_equal(a, b), path
        else:
            assert a == b, path

    compare(real, ours, "root")


def mutated(tree, index, **fields):
    tree["modules"][index - 1].fields.update(fields)
    return tree


def test_wrong_architecture_names_the_first_differing_module(torch7_refs):
    tree = convert.read_t7(torch7_refs / "soundnet8_quarter.t7")
    tree["modules"][4] = tree["modules"][2]  # a ReLU where conv2 belongs
    with pytest.raises(
        NotSoundNetError, match=r"module 5 \(conv2\): expected SpatialConvolution k32 s2 p16, found nn.ReLU"
    ):
        model_from_t7(tree)
    tree = mutated(convert.read_t7(torch7_refs / "soundnet8_quarter.t7"), 9, kH=15)
    with pytest.raises(NotSoundNetError, match=r"module 9 \(conv3\).*kH15"):
        model_from_t7(tree)


def test_not_a_model_file_is_one_clear_error(torch7_refs, tmp_path):
    with pytest.raises(NotSoundNetError, match="expected nn.Sequential"):
        soundnet.load(torch7_refs / "refs_soundnet8_quarter.t7")
    (tmp_path / "junk.t7").write_bytes(b"\x04\x00\x00\x00garbage")
    with pytest.raises(ValueError, match="not a readable Torch7 file"):
        soundnet.load(tmp_path / "junk.t7")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="cannot read"):
        soundnet.load(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="cannot tell the format"):
        soundnet.save(soundnet.SoundNet5(), tmp_path / "m.xyz")
    with pytest.raises(FileNotFoundError):
        soundnet.load(tmp_path / "missing.t7")


def test_example_name_loads_the_embedded_checkpoint():
    """`example` works wherever a model file is taken (load, and so every command that takes --model)."""
    assert same_parameters(soundnet.load("example"), soundnet.load(EXAMPLE_MODEL))
