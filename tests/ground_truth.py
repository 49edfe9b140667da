"""Where the suite finds what the repository does not ship, and what happens when it is absent.

The real Torch7 files (and the category lists beside them) live in ../shared/torch7 next to the checkout, or
wherever $SOUNDNET_TORCH7_REFS points. chromium and luajit come from `make test-tools`. Without them a test
skips on a developer's machine; `make test` (and so CI) sets SOUNDNET_REQUIRE_TORCH7=1 and
SOUNDNET_REQUIRE_TEST_TOOLS=1, which turn those skips into failures: the parity the README claims is proven
there or the run fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIRE_TORCH7 = "SOUNDNET_REQUIRE_TORCH7"
REQUIRE_TEST_TOOLS = "SOUNDNET_REQUIRE_TEST_TOOLS"


def torch7_refs_dir() -> Path:
    """The folder of real Torch7 files: $SOUNDNET_TORCH7_REFS, else ../shared/torch7 beside the checkout."""
    env = os.environ.get("SOUNDNET_TORCH7_REFS")
    return Path(env) if env else REPO.parent / "shared" / "torch7"


def shared_dir() -> Path:
    """The shared folder (category files live here beside torch7/)."""
    return torch7_refs_dir().parent


def required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0")


def unavailable(reason: str, variable: str = REQUIRE_TORCH7) -> NoReturn:
    """Skip the calling test, or fail it when `variable` says this run must not skip for that reason."""
    if required(variable):
        pytest.fail(f"{reason} ({variable} is set: this run must not skip it)", pytrace=False)
    pytest.skip(reason)
