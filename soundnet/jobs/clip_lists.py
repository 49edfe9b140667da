"""Which clips a job reads: `path [label]` list files and the ESC-50 folder layout; tiling to a length.

The original evaluation and fine-tuning scripts took plain text lists (`path label`, labels 0-based
integers) and ESC-50's folder; both end up here as `Clip`s so the evaluation and the unit visualisation
read data the same way. Every malformed input is a one-line ValueError naming the file and line.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ..input_files import read_text_lines

ESC50_NAME = re.compile(r"^(?P<fold>\d+)-(?P<clip>[^-]+)-(?P<take>[^-]+)-(?P<target>\d+)\.wav$", re.IGNORECASE)


@dataclass(frozen=True)
class Clip:
    """One audio file, its class label (None when the list has none) and its ESC-50 fold (None elsewhere)."""

    path: Path
    label: str | None = None
    fold: str | None = None


def read_list(list_file: str | Path, root: str | Path | None = None, need_labels: bool = True) -> list[Clip]:
    """Clips of a `path [label]` list; relative paths are taken from `root` (default: the list's folder).

    Blank lines and lines starting with '#' are skipped; paths may not contain spaces, as in the original.
    """
    list_file = Path(list_file)
    base = Path(root) if root is not None else list_file.parent
    lines = read_text_lines(list_file)
    clips = []
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) > 2 or (need_labels and len(fields) != 2):
            expected = "'path label'" if need_labels else "'path' or 'path label'"
            raise ValueError(f"{list_file} line {number}: expected {expected}, got {line.strip()!r}")
        path = base / fields[0]
        if not path.is_file():
            raise ValueError(f"{list_file} line {number}: no such audio file {path}")
        clips.append(Clip(path, fields[1] if len(fields) == 2 else None))
    if not clips:
        raise ValueError(f"{list_file}: the list names no clips")
    return clips


def read_esc50(folder: str | Path) -> tuple[list[Clip], dict[str, str]]:
    """ESC-50's clips with fold and target, and target -> category name.

    The fold and target come from meta/esc50.csv when it exists, else from the file names
    `{FOLD}-{CLIP_ID}-{TAKE}-{TARGET}.wav`; audio is read from `audio/` (or the folder itself).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no such ESC-50 folder: {folder}")
    audio = folder / "audio" if (folder / "audio").is_dir() else folder
    meta = folder / "meta" / "esc50.csv"
    clips, names = _esc50_from_csv(meta, audio) if meta.is_file() else (_esc50_from_names(audio), {})
    if not clips:
        raise ValueError(f"{folder}: no ESC-50 clips found (expected audio/{{FOLD}}-{{ID}}-{{TAKE}}-{{TARGET}}.wav)")
    return clips, names


def _esc50_from_csv(meta: Path, audio: Path) -> tuple[list[Clip], dict[str, str]]:
    with open(meta, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"filename", "fold", "target"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{meta}: missing column(s) {', '.join(sorted(missing))}")
    clips, names = [], {}
    for number, row in enumerate(rows, 2):
        path = audio / row["filename"]
        if not path.is_file():
            raise ValueError(f"{meta} line {number}: no such audio file {path}")
        clips.append(Clip(path, row["target"].strip(), row["fold"].strip()))
        if row.get("category"):
            names[row["target"].strip()] = row["category"]
    return clips, names


def _esc50_from_names(audio: Path) -> list[Clip]:
    clips = []
    for path in sorted(audio.iterdir()):
        match = ESC50_NAME.match(path.name)
        if match and path.is_file():
            clips.append(Clip(path, match["target"], match["fold"]))
    return clips


def sorted_labels(labels: set[str]) -> list[str]:
    """Numeric labels in numeric order (0, 1, ..., 10), any others alphabetically."""
    return sorted(labels, key=lambda label: (0, int(label), "") if label.isdigit() else (1, 0, label))


def tile(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """The first `length` samples of the waveform repeated end to end (it is cut if longer).

    The original scripts repeated a clip ceil((10 s + 1 s) / its length) times, then cut it to 10 s;
    that gives exactly these samples.
    """
    repeats = math.ceil(length / waveform.shape[-1])
    return waveform.repeat(repeats)[:length]
