"""Adam as Torch7's optim.adam computed it, and the choice between it and PyTorch's Adam.

optim.adam adds epsilon to sqrt(v) BEFORE the bias correction:
    x -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
so its effective epsilon is eps / sqrt(1 - b2^t) (3.2e-7 at t = 1). PyTorch's Adam divides by
sqrt(v / (1 - b2^t)) + eps instead; with SoundNet's tiny head gradients the two differ by a large part of a
step, so step-for-step parity with Torch7 needs this formula.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

OPTIMIZERS = ("adam", "adam-pytorch")


class TorchAdam(torch.optim.Optimizer):
    """optim.adam (learningRate, beta1, beta2, epsilon), float arithmetic in the parameters' dtype."""

    def __init__(
        self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        if lr <= 0 or eps < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid Adam settings lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                t = state["step"]
                m, v, grad = state["exp_avg"], state["exp_avg_sq"], param.grad
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denominator = v.sqrt().add_(group["eps"])
                step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                param.addcdiv_(m, denominator, value=-step_size)
        return loss


def make_optimizer(name: str, params: Iterable, lr: float = 1e-3, beta1: float = 0.9) -> torch.optim.Optimizer:
    """'adam': Torch7's formula (the default, for parity); 'adam-pytorch': torch.optim.Adam."""
    if name == "adam":
        return TorchAdam(params, lr=lr, betas=(beta1, 0.999))
    if name == "adam-pytorch":
        return torch.optim.Adam(params, lr=lr, betas=(beta1, 0.999), eps=1e-8)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
