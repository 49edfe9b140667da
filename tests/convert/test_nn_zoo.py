"""Every net of the Torch7 zoo converts with convert.nn and matches Torch7's outputs, module by module;
written back with to_t7 it runs in the real Torch7 with the same outputs."""

from __future__ import annotations

import io

import pytest
import torch

import convert
import convert.nn
from ground_truth import unavailable
from torch7_runtime import make_reference
from zoo_nets import (
    TOLERANCE,
    as_value,
    clone_value,
    io_file,
    load_io,
    per_module_errors,
    relative_error,
    require_zoo,
    zoo_names,
)

ZOO = zoo_names()


def convert_zoo(name: str) -> torch.nn.Module:
    return convert.nn.from_t7(convert.read_t7(require_zoo(name)))


@pytest.mark.parametrize("name", ZOO)
def test_zoo_net_matches_torch7_output_and_every_module(name):
    network = convert_zoo(name)
    x, output, per_module = load_io(name)
    assert not network.training
    with torch.inference_mode():
        assert relative_error(network(clone_value(x)), output) <= TOLERANCE
    assert len(network.submodules) == len(per_module)
    errors = per_module_errors(network, clone_value(x), per_module)
    assert max(errors) <= TOLERANCE, errors


@pytest.mark.parametrize("name", ZOO)
def test_zoo_net_survives_write_read_and_description_round_trips(name):
    network = convert_zoo(name)
    x = load_io(name)[0]
    buffer = io.BytesIO()
    convert.write_t7(convert.nn.to_t7(network), buffer)
    reread = convert.nn.from_t7(convert.read_t7(io.BytesIO(buffer.getvalue())))
    rebuilt = convert.nn.rebuild(convert.nn.describe(network), network.state_dict())
    with torch.inference_mode():
        expected = network(clone_value(x))
        for other in (reread, rebuilt):
            assert relative_error(other(clone_value(x)), expected) == 0.0


@pytest.mark.parametrize("name", ZOO)
def test_exported_zoo_net_runs_in_torch7_with_the_same_outputs(name, tmp_path, torch7_runtime):
    """to_t7 -> Torch7's torch.load -> forward (make_reference.lua's generic mode) equals the zoo's data."""
    network = convert_zoo(name)
    convert.write_t7(convert.nn.to_t7(network), tmp_path / "exported.t7")
    exported = tmp_path / "exported.t7"
    reference = convert.read_t7(make_reference(torch7_runtime, exported, io_file(name), tmp_path / "refs.t7"))
    _, output, per_module = load_io(name)
    outputs = reference["outputs"]["input"]
    assert relative_error(as_value(outputs["final"]), output) <= TOLERANCE
    for index, theirs in enumerate(per_module, 1):
        assert relative_error(as_value(outputs[index]), theirs) <= TOLERANCE, index


def test_worst_error_per_zoo_net_is_reported(capsys):
    """Prints the figure the issue asks for (run with -s to see it): worst relative error per net."""
    if not ZOO:
        unavailable("no zoo (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    lines = []
    for name in ZOO:
        x, output, per_module = load_io(name)
        network = convert_zoo(name)
        with torch.inference_mode():
            final = relative_error(network(clone_value(x)), output)
        worst = max([final, *per_module_errors(network, clone_value(x), per_module)])
        lines.append(f"{name:28s} {worst:.2e}")
        assert worst <= TOLERANCE
    print("\n".join(lines))
