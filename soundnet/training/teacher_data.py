"""Student-teacher training data: audio clips and the teacher's object/scene distributions per 5 s frame.

Two layouts are read. (a) The original's: a text list with one line per video frame (first token: the
frame path; consecutive lines of one video, at most 4), plus raw float32 files with one row per frame
(1000 object, 401 scene probabilities). (b) HDF5: one group per clip holding `objects` (T x 1000) and
`scenes` (T x 401), T = 1..4, and optionally an `audio` attribute (default: the group path) naming the
audio file relative to the audio root. Videos shorter than 4 frames are tiled as donkey_audio.lua did.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio import AudioError, NonFiniteAudioError, load_audio
from ..inference.tiling import TRAIN_FRAMES as FRAMES
from ..inference.tiling import main_train
from ..input_files import read_text_lines, regular_file
from ..model.architecture import OBJECT_CLASSES, SCENE_CLASSES
from ..model.heads import HEAD_FIELDS

OBJECTS, SCENES = HEAD_FIELDS  # the HDF5 layout's dataset names are the heads' output names

DISTRIBUTION_TOLERANCE = 1e-3


@dataclass(frozen=True)
class TeacherClip:
    """One video: its audio file and the teacher's rows for its L <= 4 frames (L x 1000, L x 401)."""

    name: str
    audio: Path
    objects: np.ndarray
    scenes: np.ndarray


def check_distributions(rows: np.ndarray, where: Callable[[int], str]) -> None:
    """Reject rows that are not probability distributions (finite, >= 0, summing to 1 +- 1e-3)."""
    sums = rows.sum(axis=1, dtype=np.float64)
    bad = ~np.isfinite(rows).all(axis=1) | (rows < 0).any(axis=1) | (np.abs(sums - 1) > DISTRIBUTION_TOLERANCE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        reason = "has a negative value" if (rows[row] < 0).any() else f"sums to {sums[row]:.6g}"
        raise ValueError(f"{where(row)} is not a probability distribution: it {reason}")


def video_key(spec: str) -> Callable[[str], str]:
    """How a frame path names its video: 'dirname', or a Python slice 'START:END' of the path.

    donkey_audio.lua used frame:sub(63, -14), i.e. '62:-13'.
    """
    if spec == "dirname":
        return os.path.dirname
    try:
        start, end = (int(part) if part else None for part in spec.split(":"))
    except ValueError:
        raise ValueError(f"video key must be 'dirname' or 'START:END' (e.g. 62:-13), got {spec!r}") from None
    return lambda frame: frame[start:end]


def _read_rows(path: Path, count: int, dim: int) -> np.ndarray:
    size = regular_file(path, "teacher probability file").stat().st_size  # checked before reading
    if size != count * dim * 4:
        raise ValueError(f"{path} holds {size / 4:g} float32 values; the frame list needs {count} rows of {dim}")
    return np.fromfile(path, dtype=np.float32).reshape(count, dim)


def read_frame_list(
    list_path: str | os.PathLike,
    objects_path: str | os.PathLike,
    scenes_path: str | os.PathLike,
    audio_root: str | os.PathLike | None = None,
    key: str = "dirname",
    audio_ext: str = ".mp3",
) -> list[TeacherClip]:
    """The original layout: the frame list and the two raw float32 files; audio at <root>/<video><ext>."""
    list_path = Path(list_path)
    root = Path(audio_root) if audio_root is not None else list_path.parent
    name_of = video_key(key)
    frames: list[tuple[int, str, str]] = []  # (line number, frame, video)
    for number, line in enumerate(read_text_lines(list_path), 1):
        tokens = line.split()
        if not tokens:
            continue
        video = name_of(tokens[0])
        if not video:
            raise ValueError(
                f"{list_path}:{number}: cannot take a video name from frame {tokens[0]!r} with video key {key!r}"
            )
        frames.append((number, tokens[0], video))
    if not frames:
        raise ValueError(f"{list_path} lists no frames")
    objects = _read_rows(Path(objects_path), len(frames), OBJECT_CLASSES)
    scenes = _read_rows(Path(scenes_path), len(frames), SCENE_CLASSES)
    for path, rows in ((objects_path, objects), (scenes_path, scenes)):
        check_distributions(rows, lambda r, p=path: f"{p} row {r + 1} (frame {frames[r][1]}, line {frames[r][0]})")
    clips, start = [], 0
    for row in range(1, len(frames) + 1):
        if row < len(frames) and frames[row][2] == frames[start][2]:
            if row - start >= FRAMES:
                raise ValueError(
                    f"{list_path}:{frames[row][0]}: video {frames[row][2]!r} has more than {FRAMES} frames"
                )
            continue
        video = frames[start][2]
        clips.append(TeacherClip(video, root / f"{video}{audio_ext}", objects[start:row], scenes[start:row]))
        start = row
    return clips


def read_teacher_hdf5(path: str | os.PathLike, audio_root: str | os.PathLike | None = None) -> list[TeacherClip]:
    """The HDF5 layout: every group holding `objects` and `scenes` is one clip."""
    path = regular_file(path, "teacher HDF5 file")
    root = Path(audio_root) if audio_root is not None else path.parent
    clips: list[TeacherClip] = []

    def visit(name: str, group) -> None:
        if not isinstance(group, h5py.Group) or OBJECTS not in group:
            return
        if SCENES not in group:
            raise ValueError(f"{path}:/{name} has {OBJECTS} but no {SCENES} dataset")
        shapes = [getattr(group[field], "shape", None) for field in HEAD_FIELDS]  # read nothing yet
        frames = shapes[0][0] if shapes[0] else 0
        if shapes != [(frames, OBJECT_CLASSES), (frames, SCENE_CLASSES)] or not 1 <= frames <= FRAMES:
            raise ValueError(
                f"{path}:/{name}: objects {shapes[0]} and scenes {shapes[1]} must be "
                f"T x {OBJECT_CLASSES} and T x {SCENE_CLASSES} with 1 <= T <= {FRAMES}"
            )
        objects, scenes = np.asarray(group[OBJECTS], np.float32), np.asarray(group[SCENES], np.float32)
        for field, rows in zip(HEAD_FIELDS, (objects, scenes)):
            check_distributions(rows, lambda r, f=field: f"{path}:/{name}/{f} row {r + 1}")
        audio = group.attrs.get("audio", name)
        audio = audio.decode() if isinstance(audio, bytes) else str(audio)
        clips.append(TeacherClip(name, root / audio, objects, scenes))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except (OSError, KeyError) as error:
        raise ValueError(f"{path}: not a readable HDF5 teacher file ({error})") from None
    if not clips:
        raise ValueError(f"{path} holds no group with objects and scenes datasets")
    return clips


def write_teacher_hdf5(path: str | os.PathLike, clips: Mapping[str, tuple[np.ndarray, np.ndarray, str]]) -> None:
    """Write the HDF5 layout: {group name: (objects T x 1000, scenes T x 401, audio path)}."""
    with h5py.File(path, "w") as handle:
        for name, (objects, scenes, audio) in clips.items():
            group = handle.create_group(name)
            group.create_dataset(OBJECTS, data=np.asarray(objects, np.float32))
            group.create_dataset(SCENES, data=np.asarray(scenes, np.float32))
            group.attrs["audio"] = str(audio)


def load_or_silence(path: Path) -> tuple[torch.Tensor | None, str]:
    """(waveform, ""); (None, "") when it is missing or undecodable (the caller counts it as silence);
    (None, why) when its samples are NaN or infinite, which must stop the run (the loop raises `why`)."""
    try:
        return load_audio(path), ""
    except NonFiniteAudioError as error:
        return None, str(error)
    except (AudioError, OSError):
        return None, ""


class TeacherDataset(Dataset):
    """Items keyed (clip index, step, slot) as the loop's sampler yields them; decoding runs in workers."""

    def __init__(self, clips: list[TeacherClip]):
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int, int]) -> dict:
        clip = self.clips[key[0]]
        waveform, problem = load_or_silence(clip.audio)
        x, objects, scenes = main_train(waveform, clip.objects, clip.scenes)
        return {"waveform": x, "objects": objects, "scenes": scenes, "missing": waveform is None, "problem": problem}
