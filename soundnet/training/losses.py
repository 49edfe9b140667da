"""The student-teacher and fine-tuning losses, with Torch7's normalisations.

main_train.lua summed eight DistKLDivCriterion terms (one per head and 5 s step), each the mean over the
elements of a B x C slice, then divided by 8 and multiplied by lambda = 250. The student's log-softmax is
where ports differ: the paper meant one distribution per clip over the classes ("classes"); Torch7's CPU
nn applied LogSoftMax to B x C x 1 slices, which it reads as C x H x W, so it normalised over the BATCH
for every class ("torch7-cpu"). See ../shared/SOUNDNET.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

HEAD_SOFTMAX_MODES = ("classes", "torch7-cpu")
LAMBDA = 250.0


def head_log_softmax(logits: torch.Tensor, mode: str = "classes") -> torch.Tensor:
    """Log-probabilities of head logits B x C x T: over classes (dim 1) or, as CPU nn did, over the batch."""
    if mode == "classes":
        return F.log_softmax(logits, dim=1)
    if mode == "torch7-cpu":
        return F.log_softmax(logits, dim=0)
    raise ValueError(f"head softmax must be one of {', '.join(HEAD_SOFTMAX_MODES)}, got {mode!r}")


def dist_kl_div(log_probs: torch.Tensor, target: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """nn.DistKLDivCriterion per slice: sum of t * (log t - x) over `dims`, divided by their element count.

    Zero targets contribute nothing (xlogy(0, 0) = 0), as in nn's `target > 0` test.
    """
    count = 1
    for dim in dims:
        count *= target.shape[dim]
    terms = torch.special.xlogy(target, target) - target * log_probs
    return terms.sum(dim=tuple(dims)) / count


def teacher_loss(
    heads: Sequence[torch.Tensor], targets: Sequence[torch.Tensor], mode: str = "classes", lam: float = LAMBDA
) -> torch.Tensor:
    """lambda x the mean over every (head, time step) slice of KL(teacher || student).

    heads: logits B x C x T per head (objects, scenes); targets: teacher probabilities of the same shapes.
    For T = 4 this is main_train.lua's `crit:forward(out, labels) / 8 * 250`.
    """
    if len(heads) != len(targets):
        raise ValueError(f"{len(heads)} heads but {len(targets)} teacher targets")
    slices = []
    for logits, target in zip(heads, targets):
        if logits.shape != target.shape:
            raise ValueError(
                f"head output {tuple(logits.shape)} and teacher target {tuple(target.shape)} differ; "
                "clips must be 20 s for 4 teacher frames"
            )
        slices.append(dist_kl_div(head_log_softmax(logits.float(), mode), target, dims=(0, 1)))
    return torch.cat(slices).mean() * lam


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """nn.CrossEntropyCriterion: log-softmax over classes, mean negative log-likelihood (0-based labels)."""
    return F.cross_entropy(logits.float(), labels)
