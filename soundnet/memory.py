"""Refusing work whose arrays cannot fit in this machine's memory, before allocating them."""
from __future__ import annotations

import os


def physical_memory() -> int | None:
    """Bytes of RAM, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(needed: int, what: str) -> None:
    """ValueError when `needed` bytes exceed the machine's memory; `what` says what would need them."""
    memory = physical_memory()
    if memory and needed > memory:
        raise ValueError(f"{what} needs {needed / 2**30:.0f} GiB, more than this machine's "
                         f"{memory / 2**30:.0f} GiB of memory")
