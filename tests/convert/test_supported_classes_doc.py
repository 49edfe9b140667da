"""The README's supported-class list is the one generated from convert.nn's registry (it cannot drift)."""

from __future__ import annotations

import subprocess
import sys

from ground_truth import REPO


def test_readme_lists_exactly_the_registered_classes():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "supported_classes.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
