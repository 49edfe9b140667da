"""Shared fixtures: where the real Torch7 ground truth lives, and skipping cleanly when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def torch7_refs_dir() -> Path:
    """The folder of real Torch7 files: $SOUNDNET_TORCH7_REFS, else ../shared/torch7 beside the checkout."""
    env = os.environ.get("SOUNDNET_TORCH7_REFS")
    return Path(env) if env else REPO.parent / "shared" / "torch7"


def shared_dir() -> Path:
    """The shared folder (category files live here beside torch7/)."""
    return torch7_refs_dir().parent


@pytest.fixture(scope="session")
def torch7_refs() -> Path:
    path = torch7_refs_dir()
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(f"Torch7 reference files not found at {path} (set SOUNDNET_TORCH7_REFS to their folder)")
    return path


@pytest.fixture(scope="session")
def categories_dir() -> Path:
    path = shared_dir() / "categories"
    if not (path / "categories_imagenet.txt").is_file():
        pytest.skip(f"category files not found at {path} (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    return path
