"""Regenerate reference_outputs/manifest.json from the Torch7 reference activations.

For every refs file (refs_<model>.t7 beside the model files), every stored input and layer, it records
the shape, the sha256 of the float32 bytes and summary figures (mean, std, L2 norm, max |x|, values at a
few fixed positions). tests/test_reference_manifest.py checks our outputs against these figures, so the
parity claim can be checked on a machine that has the model files but not the bulky activations, and it
checks the figures against the arrays wherever they are present.

    python3 reference_outputs/make_manifest.py [--refs ../shared/torch7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np

import convert
from soundnet.atomic import atomic_path
from soundnet.parity.verify import sequence

HERE = Path(__file__).resolve().parent
REFS_FILES = {"refs_soundnet8_quarter.t7": "soundnet8_quarter.t7", "refs_soundnet5_quarter.t7": "soundnet5_quarter.t7"}
POSITIONS = 5  # fixed positions sampled per array: evenly spaced flat indices


def figures(array: np.ndarray) -> dict:
    values = np.ascontiguousarray(array, dtype=np.float32)
    flat = values.ravel().astype(np.float64)
    positions = np.linspace(0, flat.size - 1, POSITIONS).round().astype(int).tolist() if flat.size else []
    return {
        "shape": list(values.shape),
        "sha256_float32": hashlib.sha256(values.tobytes()).hexdigest(),
        "mean": float(flat.mean()) if flat.size else 0.0,
        "std": float(flat.std()) if flat.size else 0.0,
        "l2": float(np.sqrt((flat**2).sum())),
        "max_abs": float(np.abs(flat).max()) if flat.size else 0.0,
        "positions": positions,
        "values": [float(flat[i]) for i in positions],
    }


def entries(reference: dict) -> dict:
    """{input: {layer key: [figures per array]}} for layer outputs, heads, final outputs and predictions."""
    out = {}
    for input_name, stored in reference["outputs"].items():
        if input_name == "pred10":
            out[input_name] = {"softmax heads": [figures(a) for a in sequence(stored)]}
            continue
        out[input_name] = {
            str(key): [figures(a) for a in sequence(value)]
            for key, value in stored.items()
            if not isinstance(value, (int, float))
        }  # skip Lua's `_n` sequence lengths
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("SOUNDNET_TORCH7_REFS", str(HERE.parent.parent / "shared" / "torch7"))
    parser.add_argument("--refs", type=Path, default=Path(default))
    args = parser.parse_args()
    manifest = {"criterion": "max|ours - torch7| <= 1e-4 * max(1, max|torch7|)", "models": {}}
    for refs_name, model_name in REFS_FILES.items():
        reference = convert.read_t7(args.refs / refs_name)
        manifest["models"][model_name] = {
            "refs_file": refs_name,
            "inputs": {name: figures(x) for name, x in reference["inputs"].items()},
            "outputs": entries(reference),
        }
    with atomic_path(HERE / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {HERE / 'manifest.json'}")


if __name__ == "__main__":
    main()
