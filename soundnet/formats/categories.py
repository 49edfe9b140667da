"""Category names of the two teacher heads, in output-index order, as the original text files give them.

ImageNet lines look like `n01440764 tench, Tinca tinca`, Places lines like `/a/arena/hockey`. Names are
kept verbatim (they travel inside converted files) and shortened only for display.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..input_files import read_text_lines
from ..model.heads import HEAD_LABELS

OBJECT_FILE = "categories_imagenet.txt"
SCENE_FILE = "categories_places2.txt"
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "data"  # the original lists, shipped in the package
TEACHER_CLASSES = (1000, 401)


def read_category_file(path: str | Path) -> list[str]:
    """One name per non-empty line, decoded as UTF-8; a clear error for unreadable files."""
    names = [line.strip() for line in read_text_lines(path, "category file") if line.strip()]
    if not names:
        raise ValueError(f"category file {path} holds no names")
    return names


def load_categories(
    source: str | Path | tuple[str | Path, str | Path], classes: tuple[int, ...] | None = None
) -> tuple[list[str], list[str]]:
    """(object names, scene names) from a folder holding the two original files, or from two paths.

    `classes` (the model's head sizes) is checked against the line counts, so a mismatched file is caught
    at conversion time rather than printing wrong names later.
    """
    if isinstance(source, tuple):
        object_path, scene_path = source
    else:
        object_path, scene_path = Path(source) / OBJECT_FILE, Path(source) / SCENE_FILE
    names = (read_category_file(object_path), read_category_file(scene_path))
    if classes is not None:
        for kind, path, found, wanted in zip(HEAD_LABELS, (object_path, scene_path), names, classes):
            if len(found) != wanted:
                raise ValueError(f"{kind} category file {path} has {len(found)} names, the model has {wanted} classes")
    return names


@lru_cache(maxsize=1)
def packaged_categories() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ImageNet (1000) and Places (401) names every SoundNet8/5 teacher predicts, as shipped here."""
    objects, scenes = load_categories(PACKAGED_DIR, TEACHER_CLASSES)
    return tuple(objects), tuple(scenes)


def default_categories(classes: tuple[int, ...]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The shipped names when the heads have the teacher sizes (any SoundNet8/5), else None."""
    return packaged_categories() if tuple(classes) == TEACHER_CLASSES else None


def display_name(name: str) -> str:
    """A short label: 'n01440764 tench, Tinca tinca' -> 'tench'; '/a/arena/hockey' -> 'arena/hockey'."""
    if name.startswith("/"):
        return name.split("/", 2)[-1] if name.count("/") >= 2 else name.lstrip("/")
    head, _, rest = name.partition(" ")
    if rest and head[:1] == "n" and head[1:].isdigit():
        return rest.split(",")[0].strip()
    return name
