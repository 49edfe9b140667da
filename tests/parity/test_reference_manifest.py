"""reference_outputs/manifest.json: its figures describe the Torch7 arrays, and our outputs match them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import convert
import soundnet
from soundnet.model.heads import softmax_heads, torch7_cpu_outputs

MANIFEST = json.loads(
    (Path(__file__).resolve().parent.parent.parent / "reference_outputs" / "manifest.json").read_text()
)
MODELS = sorted(MANIFEST["models"])


def manifest_figures(array: np.ndarray) -> dict:
    from reference_outputs.make_manifest import figures

    return figures(array)


@pytest.mark.parametrize("model_name", MODELS)
def test_manifest_describes_the_torch7_arrays(torch7_refs, model_name):
    entry = MANIFEST["models"][model_name]
    from reference_outputs.make_manifest import entries

    reference = convert.read_t7(torch7_refs / entry["refs_file"])
    assert entries(reference) == entry["outputs"]
    for name, x in reference["inputs"].items():
        assert manifest_figures(x)["sha256_float32"] == entry["inputs"][name]["sha256_float32"]


def ours_for(model: soundnet.SoundNet, x: torch.Tensor, key: str) -> list[torch.Tensor]:
    head = model.architecture.head.index
    if key == "softmax heads":
        return list(softmax_heads(model.forward_features(x, head)))
    if key == "final":
        return torch7_cpu_outputs(model.forward_features(x, head))
    out = model.forward_features(x, int(key))
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.slow
@pytest.mark.parametrize("model_name", MODELS)
def test_our_outputs_match_the_manifest_figures(torch7_refs, model_name):
    """Parity on the figures alone: summary statistics and sampled values within the parity tolerance."""
    entry = MANIFEST["models"][model_name]
    model = soundnet.load(torch7_refs / model_name)
    inputs = convert.read_t7(torch7_refs / entry["refs_file"])["inputs"]
    with torch.inference_mode():
        for input_name, layers in entry["outputs"].items():
            x = torch.from_numpy(np.asarray(inputs[input_name]))
            assert manifest_figures(x.numpy())["sha256_float32"] == entry["inputs"][input_name]["sha256_float32"]
            for key, expected_list in layers.items():
                for ours, expected in zip(ours_for(model, x, key), expected_list, strict=True):
                    got = manifest_figures(ours.numpy().reshape(expected["shape"]))
                    tolerance = 1e-4 * max(1.0, expected["max_abs"])
                    for figure in ("mean", "std", "max_abs"):
                        assert abs(got[figure] - expected[figure]) <= tolerance, (input_name, key, figure)
                    assert np.allclose(got["values"], expected["values"], rtol=0, atol=tolerance)
                    assert abs(got["l2"] - expected["l2"]) <= tolerance * np.sqrt(np.prod(expected["shape"]))
