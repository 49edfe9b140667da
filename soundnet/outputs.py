"""Writing result files (JSON, matplotlib figures) atomically, so a failed job leaves no half file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def write_json(path: str | Path, data: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def save_figure(figure: Figure, path: str | Path, dpi: int = 100) -> Path:
    """PNG through a bare Figure (no pyplot state, no GUI backend needed)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return Path(path)
