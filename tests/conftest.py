"""Fixtures for what the suite needs from outside the repository, and the suite-wide Hypothesis profile.

Hypothesis runs derandomized by default (the examples follow from the test alone), so a run gives the same
result on every machine and in CI; HYPOTHESIS_PROFILE=explore draws fresh random examples instead.
"""
from __future__ import annotations

import os
import shutil
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
