"""read_t7 on the real Torch7-written files."""
from __future__ import annotations

import numpy as np

from convert import Storage, Tensor, TorchObject, read_t7


def test_quarter_model_structure(torch7_refs):
    net = read_t7(torch7_refs / "soundnet8_quarter.t7")
    assert isinstance(net, TorchObject) and net.typename == "nn.Sequential" and net.version == 1
    conv, bn = net["modules"][0], net["modules"][1]
    assert conv.typename == "nn.SpatialConvolution" and bn.version == 2
    w = conv["weight"]
    assert isinstance(w, Tensor) and w.typename == "torch.FloatTensor" and w.shape == (4, 1, 64, 1)
    assert isinstance(w.storage, Storage) and w.storage.typename == "torch.FloatStorage"
    assert w.storage is bn["weight"].storage and np.shares_memory(w, w.storage)
    assert conv["finput"].storage is None and conv["finput"].size == 0
