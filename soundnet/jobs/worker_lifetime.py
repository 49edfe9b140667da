"""Worker processes that die with the job that started them.

A SIGKILLed (or SIGTERMed) parent runs no clean-up, so its decode workers would live on, holding memory.
On Linux the kernel sends them SIGKILL when the parent dies (PR_SET_PDEATHSIG); elsewhere a thread
watching the parent's pid ends the worker within a second.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Run in each worker as it starts (a ProcessPoolExecutor initializer); `parent` is the job's pid."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            armed = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
