"""Which clips a job reads: `path [label]` list files (the one list reader) and the ESC-50 folder layout.

The original scripts took plain text lists (extract_feat.lua: one path per line; the evaluation and
fine-tuning scripts: `path label`, labels 0-based integers) and ESC-50's folder; all end up here as
`Clip`s, so extraction, evaluation, fine-tuning and the unit visualisation read lists the same way.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..input_files import read_text_lines

ESC50_NAME = re.compile(r"^(?P<fold>\d+)-(?P<clip>[^-]+)-(?P<take>[^-]+)-(?P<target>\d+)\.wav$", re.IGNORECASE)


@dataclass(frozen=True)
class Clip:
    """One audio file, its label (None when the list has none), its ESC-50 fold and where it was listed."""

    path: Path
    label: str | None = None
    fold: str | None = None
    where: str = ""  # "LIST line N" for a list entry, for messages


def read_list(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    labels: str = "optional",
    check_files: bool = True,
) -> list[Clip]:
    """The clips of a list file: one `path` or `path label` per line; every job reads lists here.

    - Blank lines and lines starting with '#' are skipped.
    - A relative path is taken from `root` (default: the list's folder).
    - The label is the last whitespace-separated field, unless the whole line names an existing file
      (so paths may contain spaces). labels="required" wants one on every line, "optional" keeps them,
      "ignored" drops them.
    - check_files: a missing audio file is an error naming the line (False: the job reports it later).
    Every malformed input is a one-line ValueError naming the file and the line.
    """
    if labels not in ("required", "optional", "ignored"):
        raise ValueError(f"labels must be 'required', 'optional' or 'ignored', got {labels!r}")
    list_file = Path(list_file)
    base = Path(root) if root is not None else list_file.parent
    lines = read_text_lines(list_file)
    clips = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{list_file} line {number}"
        fields = text.rsplit(maxsplit=1)
        if len(fields) == 1 or (base / text).is_file():
            path, label = base / text, None
        else:
            path, label = base / fields[0], fields[1]
        if labels == "required" and label is None:
            raise ValueError(f"{where}: expected 'path label', got {text!r}")
        if check_files and not path.is_file():
            raise ValueError(f"{where}: no such audio file {path}")
        clips.append(Clip(path, None if labels == "ignored" else label, where=where))
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
