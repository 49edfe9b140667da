"""How parameters after Torch-Adam steps are compared with Torch7's (the training and fine-tuning parity tests).

Per tensor, the relative norm |ours - torch7| / |torch7| <= TOLERANCE (1e-4), and no element further off than
2 * lr * t: each Adam step moves an element by at most about lr, so two runs cannot disagree by more.

Why a norm and not the element-wise criterion: Torch Adam's effective epsilon at t = 1 is 3.2e-7, so an
element whose gradient is ~1e-8 moves by lr * g / (|g| + 3.2e-7), and a gradient difference of 4e-8 (float
noise next to a tensor whose largest gradient is 0.08, whatever the CPU's vector width) becomes 1e-4 of the
parameter. Conv biases feeding a training-mode BN are the extreme case: their exact gradient is zero (BN
subtracts the batch mean), so Torch7 and we both step on rounding noise of ~1e-7, in directions no port
reproduces without THNN's summation order; they get only the 2 * lr * t bound.
"""

from __future__ import annotations

import numpy as np

from soundnet.parity.verify import TOLERANCE

LR = 1e-3  # the learning rate of the reference runs (main_train.lua / main_finetune.lua defaults)
TORCH_NAMES = {"weight": "gradWeight", "bias": "gradBias"}
PRE_BN_CONVS = {"1", "5", "9", "12", "15", "19", "22"}  # Torch indices of the convs each followed by a BN


def check_params(ours: dict, theirs: dict, steps: int, label: str, bn_training: bool = True) -> None:
    """Relative norm <= TOLERANCE per tensor (not for biases feeding a training BN), no element off by 2 lr t."""
    for path, tensors in theirs.items():
        for name, expected in tensors.items():
            mine = ours[path][name].detach().double().numpy().reshape(np.shape(expected))
            expected = np.asarray(expected, np.float64)
            relative = np.linalg.norm(mine - expected) / np.linalg.norm(expected)
            noise_only = bn_training and path in PRE_BN_CONVS and name == "bias"
            assert noise_only or relative <= TOLERANCE, (label, path, name, relative)
            assert np.abs(mine - expected).max() <= 2 * LR * steps, (label, path, name)
