"""Regenerate soundnet/data/example_soundnet8.t7, the embedded example checkpoint.

A reduced-width SoundNet8 with the original initialisation recipe's shapes, random weights (seeded),
BN statistics from a few training-mode passes over generated sound, saved in genuine Torch7 format by
the project's own writer, in the layout Torch7 leaves after getParameters() (flat weight and gradient
storages). Its predictions mean nothing: it exists so every command runs without a download.

    python3 scripts/make_example_model.py
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

import soundnet
from soundnet.model.examples import EXAMPLE_MODEL, EXAMPLE_WIDTHS, synthetic_sound

SEED = 20161029  # the paper's arXiv date


def build_example() -> soundnet.SoundNet:
    torch.manual_seed(SEED)
    model = soundnet.SoundNet8(widths=EXAMPLE_WIDTHS)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv1d):
                fan_in = module.in_channels * module.kernel_size[0]
                module.weight.normal_(0, math.sqrt(2 / fan_in))
                module.bias.normal_(0, 0.01)
            elif isinstance(module, torch.nn.BatchNorm1d):
                module.weight.normal_(1, 0.1)
                module.bias.normal_(0, 0.1)
                module.momentum = None  # cumulative average over the passes below
        model.train()
        for seed in range(4):
            batch = torch.stack([synthetic_sound(10.0, seed=2 * seed + k) for k in range(2)])
            model(batch)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.momentum = 0.1
    return model.eval()


def main() -> None:
    path = soundnet.export_t7(build_example(), EXAMPLE_MODEL)
    print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
