"""Torch7 semantics the zoo does not reach: spellings, refusals, old field names, empty ceil-mode windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convert
import convert.nn
from torch7_runtime import SCRIPTS, run_lua
from zoo_nets import TOLERANCE, as_value, clone_value, load_io, per_module_errors, relative_error, require_zoo


def module(typename: str, **fields) -> convert.TorchObject:
    return convert.TorchObject(typename, {"train": False, **fields})


def tensor(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def sequential(*modules) -> convert.TorchObject:
    return module("nn.Sequential", modules=list(modules))


def test_cudnn_and_cunn_spellings_convert_like_nn():
    tree = convert.read_t7(require_zoo("vgg_blocks"))
    for child in tree["modules"]:
        name = child.typename.partition(".")[2]
        if name in ("SpatialConvolution", "ReLU", "SpatialMaxPooling", "SpatialBatchNormalization"):
            child.typename = f"cudnn.{name}"
    x, output, _ = load_io("vgg_blocks")
    with torch.inference_mode():
        assert relative_error(convert.nn.from_t7(tree)(clone_value(x)), output) <= TOLERANCE


def test_unsupported_module_is_named_with_its_path():
    branches = [module("nn.Identity"), module("nn.SpatialFractionalMaxPooling")]
    tree = sequential(
        module("nn.Linear", weight=tensor(np.ones((2, 2))), bias=tensor([0, 0])),
        module("nn.ConcatTable", modules=branches),
    )
    with pytest.raises(
        convert.nn.ModuleConversionError,
        match=r"^nn.SpatialFractionalMaxPooling at module 2\.2: unsupported module class$",
    ):
        convert.nn.from_t7(tree)
    assert str(convert.nn.first_unsupported(tree)).startswith("nn.SpatialFractionalMaxPooling at module 2.2")
    assert convert.nn.first_unsupported(sequential(module("nn.Identity"))) is None


def test_nngraph_is_refused_as_not_supported_yet():
    with pytest.raises(convert.nn.ModuleConversionError, match=r"nn.gModule at the root module: .*not supported yet"):
        convert.nn.from_t7(module("nn.gModule", forwardnodes=[]))


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            module("nn.BatchNormalization", running_mean=np.zeros(0, np.float32), eps=1e-5, affine=False),
            "no running statistics",
        ),
        (module("nn.Dropout", p=0.5, v2=True, stochastic_inference=True), "stochastic_inference"),
        (module("nn.SelectTable", index={"a": 1}), "not a non-zero integer"),
        (module("nn.SpatialCrossMapLRN", size=4), "even size"),
    ],
)
def test_training_only_or_unsupported_states_are_refused(bad, message):
    with pytest.raises(convert.nn.ModuleConversionError, match=message) as error:
        convert.nn.from_t7(sequential(module("nn.Identity"), bad))
    assert "at module 2" in str(error.value) and "\n" not in str(error.value)


def test_old_field_names_and_versions():
    """Dropout before v2 scales at test time; BN V1 keeps running_std; convolutions before padW had `padding`."""
    x = torch.linspace(-2, 2, 24).view(2, 3, 2, 2)
    old_dropout = convert.nn.from_t7(module("nn.Dropout", p=0.25))
    assert torch.equal(old_dropout(x), x * 0.75)
    var = tensor([0.5, 2.0, 1.5])
    legacy = module(
        "nn.SpatialBatchNormalization",
        eps=1e-5,
        affine=False,
        running_mean=tensor([0.1, 0, -0.2]),
        running_std=(1 / np.sqrt(var + 1e-5)).astype(np.float32),
    )
    legacy.version = 1
    std = torch.sqrt(torch.from_numpy(var) + 1e-5).view(1, 3, 1, 1)
    expected = (x - torch.tensor([0.1, 0, -0.2]).view(1, 3, 1, 1)) / std
    assert relative_error(convert.nn.from_t7(legacy)(x), expected) < 1e-6
    conv = module(
        "nn.SpatialConvolutionMM",
        nInputPlane=3,
        nOutputPlane=2,
        kW=3,
        kH=3,
        dW=1,
        dH=1,
        padding=1,
        weight=tensor(np.ones((2, 27))),
        bias=tensor([0, 1]),
    )
    assert convert.nn.from_t7(conv)(x).shape == (2, 2, 2, 2)


def test_ceil_mode_empty_windows_match_torch7_not_pytorch():
    """Stride > kernel, no pad, ceil mode: Torch7 keeps a window past the input (max: lowest float, avg: NaN)."""
    x = torch.arange(1.0, 6.0).view(1, 1, 1, 5)
    fields = {"kW": 1, "kH": 1, "dW": 3, "dH": 1, "padW": 0, "padH": 0, "ceil_mode": True}
    pooled = convert.nn.from_t7(module("nn.SpatialMaxPooling", **fields))(x)
    assert pooled.tolist() == [[[[1.0, 4.0, float(np.finfo(np.float32).min)]]]]
    averaged = convert.nn.from_t7(module("nn.SpatialAveragePooling", **fields, count_include_pad=True, divide=True))(x)
    assert averaged[..., :2].tolist() == [[[[1.0, 4.0]]]] and torch.isnan(averaged[..., 2]).all()


def test_logsoftmax_dimension_rules():
    """1-D and 3-D inputs normalise over their first dim, 2-D and 4-D over their second (THNN)."""
    network = convert.nn.from_t7(module("nn.LogSoftMax"))
    for shape, dim in (((5,), 0), ((2, 5), 1), ((3, 2, 2), 0), ((2, 3, 2, 2), 1)):
        x = torch.randn(shape)
        assert torch.allclose(network(x), torch.log_softmax(x, dim))
    with pytest.raises(ValueError, match="1-D to 4-D"):
        network(torch.randn(1, 2, 3, 4, 5))


def test_in_place_flags_write_over_the_input_as_torch7_does():
    """ConcatTable{ReLU(true), Identity}: the Identity branch sees the rectified input, as in Torch7."""
    relu = module("nn.ReLU", inplace=True, threshold=0, val=0)
    tree = module("nn.ConcatTable", modules=[relu, module("nn.Identity")])
    x = torch.tensor([-1.0, 2.0])
    with torch.inference_mode():
        _, identity = convert.nn.from_t7(tree)(x)
    assert identity.tolist() == [0.0, 2.0] and x.tolist() == [0.0, 2.0]


@pytest.fixture(scope="module")
def extra_nets(tmp_path_factory, torch7_runtime):
    """Nets the zoo lacks, built and run by the real Torch7 (tests/torch7_scripts/extra_nets.lua)."""
    folder = tmp_path_factory.mktemp("extra_nets")
    run_lua(torch7_runtime, SCRIPTS / "extra_nets.lua", "-out", folder)
    return folder


@pytest.mark.parametrize("name", ["volumetric_extras", "dropout_v1_ceil_edge"])
def test_nets_made_by_torch7_here_match_module_by_module(extra_nets, name):
    network = convert.nn.from_t7(convert.read_t7(extra_nets / f"{name}.t7"))
    reference = convert.read_t7(extra_nets / f"{name}_io.t7")
    x, output = as_value(reference["input"]), as_value(reference["output"])
    with torch.inference_mode():
        assert relative_error(network(x.clone()), output) <= TOLERANCE
    errors = per_module_errors(network, x.clone(), as_value(reference["per_module"]))
    assert max(errors) <= TOLERANCE, errors


def test_torch7_keeps_the_empty_ceil_mode_window(extra_nets):
    """The last window of SpatialMaxPooling(1,1,1,3):ceil() on 5 rows starts at row 6: lowest float in Torch7."""
    network = convert.nn.from_t7(convert.read_t7(extra_nets / "dropout_v1_ceil_edge.t7"))
    reference = convert.read_t7(extra_nets / "dropout_v1_ceil_edge_io.t7")
    theirs = as_value(reference["output"])
    with torch.inference_mode():
        ours = network(as_value(reference["input"]))
    lowest = float(np.finfo(np.float32).min)
    assert theirs.shape == (2, 3, 3, 7) and bool((theirs[:, :, 2] == lowest).all())
    assert torch.equal(ours == lowest, theirs == lowest)
    assert relative_error(ours[:, :, :2], theirs[:, :, :2]) <= TOLERANCE


@pytest.mark.parametrize(
    "bad, message",
    [
        (module("nn.SpatialMaxPooling", kW="2", kH=2), "field kW is a str, expected a number"),
        (module("nn.Dropout", p=0.5, v2={"x": 1}), "field v2 is a dict"),
        (
            module(
                "nn.SpatialConvolution",
                nInputPlane=3,
                nOutputPlane=2,
                kW=3,
                kH=3,
                weight=tensor(np.ones((2, 26))),
                bias=tensor([0, 0]),
            ),
            "weight of 52 elements does not fit 2x3x3x3",
        ),
        (module("nn.Linear", bias=tensor([0, 0])), "no weight tensor"),
    ],
)
def test_malformed_fields_are_refused_at_conversion(bad, message):
    with pytest.raises(convert.nn.ModuleConversionError, match=message):
        convert.nn.from_t7(bad)
