"""How the suite compares floats that rounding may change, each tolerance with why it is that size.

None of them depends on the CPU's vector width. Convolution and matrix kernels pick their blocking, and so the
order in which they sum, from the shapes, the thread count and the vector width (AVX-512, AVX2, none): the
same float32 computation then differs by rounding, which grows with the magnitude of what is summed, not of
the result. So errors are measured against the largest value of the expected tensor (at least 1), not element
by element. Checked with AVX-512 kernels, with AVX2 ones (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
MKL_ENABLE_INSTRUCTIONS=AVX2, which reproduces an AMD EPYC's figures) and with no vectorisation
(ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41).
"""

from __future__ import annotations

import numpy as np
import torch

# One network evaluated two ways (another batch size, chunking or streaming, another layer path): a float32
# sum of K products carries a relative error of about sqrt(K) * 6e-8 per layer, ~1e-6 after the eight layers
# here; 1e-5 of the tensor's largest value leaves a margin of 10x. What such tests exist to catch (a sample
# offset, a lost chunk overlap, another layer) changes the values by their own size.
SAME_MATH = 1e-5


def relative_error(ours: torch.Tensor | np.ndarray, theirs: torch.Tensor | np.ndarray) -> float:
    """max |ours - theirs| / max(1, max |theirs|), in float64; inf when the shapes differ."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return float("inf")
    if ours.size == 0:
        return 0.0
    return float(np.abs(ours - theirs).max() / max(1.0, np.abs(theirs).max()))


def close(ours: torch.Tensor | np.ndarray, theirs: torch.Tensor | np.ndarray, tolerance: float = SAME_MATH) -> bool:
    """Same shape, and within `tolerance` of the expected tensor's largest value (at least 1)."""
    return relative_error(ours, theirs) <= tolerance
