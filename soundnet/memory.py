"""Refusing work whose arrays cannot fit in memory, before allocating them."""

from __future__ import annotations

import os
import resource


def memory_limit() -> int | None:
    """Bytes this process may use at most: the machine's RAM, or a lower address-space/data rlimit."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft = resource.getrlimit(kind)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    return min(limits) if limits else None


def check_fits(needed: int, what: str) -> None:
    """ValueError when `needed` bytes exceed memory_limit(); `what` says what would need them."""
    limit = memory_limit()
    if limit and needed > limit:
        raise ValueError(
            f"{what} needs {needed / 2**30:.1f} GiB, more than the {limit / 2**30:.1f} GiB of memory "
            f"this process may use"
        )
