"""How many arrays a Torch7 refs file stores, so parity tests can check that every one was compared."""

from __future__ import annotations

import numpy as np


def stored_array_count(reference: dict) -> int:
    """How many arrays the refs file holds (layer outputs, heads, final outputs, predictions, extras)."""

    def count(value):
        if isinstance(value, np.ndarray):
            return 1
        if isinstance(value, (list, dict)):
            items = value.values() if isinstance(value, dict) else value
            return sum(count(v) for v in items)
        return 0

    return count(reference["outputs"]) + count(reference.get("extra") or {})
