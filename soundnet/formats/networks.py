"""Any Torch7 nn network that is not a SoundNet: .t7 through convert.nn, and converted files.

A converted network is a safetensors (or HDF5) file: the tensors under their module paths
(``submodules.2.weight``) and, in the metadata, the JSON description of the module tree (classes and
options) that convert.nn.rebuild turns back into the module without any pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

import convert
import convert.nn

from ..errors import one_line

FORMAT = "torch7-nn"
TREE_KEY = "module_tree"


def network_from_t7(root: Any) -> convert.nn.TorchModule:
    """The converted network (eval mode) with an empty ``metadata`` dict; one-line errors otherwise."""
    network = convert.nn.from_t7(root)
    network.metadata = {}
    return network


def is_network(meta: dict[str, str]) -> bool:
    return meta.get("format") == FORMAT


def network_metadata(network: nn.Module) -> dict[str, str]:
    from .. import __version__

    meta = {
        "format": FORMAT,
        "description_format": convert.nn.DESCRIPTION_FORMAT,
        TREE_KEY: json.dumps(convert.nn.describe(network)),
        "soundnet_t7_version": __version__,
    }
    meta.update(
        {
            key: str(value)
            for key, value in getattr(network, "metadata", {}).items()
            if key in ("source_sha256", "source_file")
        }
    )
    return meta


def network_from_weights(state: dict, meta: dict[str, str], source: str | Path) -> convert.nn.TorchModule:
    """Rebuild a converted network from its tensors and its metadata's module tree."""
    try:
        tree = json.loads(meta[TREE_KEY])
    except (KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{source}: no readable module tree in the metadata ({one_line(error)})") from None
    try:
        network = convert.nn.rebuild(tree, state)
        network.load_state_dict(state, strict=True)
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"{source}: {one_line(error)[:300]}") from None
    network.metadata = {key: meta[key] for key in ("source_sha256", "source_file") if key in meta}
    return network


def export_network(network: nn.Module, path: str | Path, fmt: str = "binary") -> Path:
    """Write the network as a Torch7 .t7 (nn classes, FloatTensors, evaluate mode), atomically."""
    convert.write_t7(convert.nn.to_t7(network), path, format=fmt)
    return Path(path)


def summary(network: nn.Module) -> str:
    """'nn.Sequential of 12 modules, 1,234 parameters' (the root class, its children, tensor elements)."""
    children = len(getattr(network, "submodules", []))
    count = sum(t.numel() for t in network.state_dict().values())
    inner = f" of {children} modules" if children else ""
    return f"Torch7 network {network.torch_class}{inner}, {count:,} tensor elements"
