"""Training data: the two teacher layouts, tiling as donkey_audio.lua did, validation, fine-tuning lists and crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from soundnet.inference.tiling import main_train as tile_example
from soundnet.jobs.clip_lists import read_list
from soundnet.training.finetune_data import LabeledDataset, labeled_clips, random_crop, split_held_out
from soundnet.training.losses import head_log_softmax, teacher_loss
from soundnet.training.optim import TorchAdam
from soundnet.training.teacher_data import TeacherDataset, read_frame_list, read_teacher_hdf5, write_teacher_hdf5
from training_fixtures import RATE, distributions, make_label_list, make_teacher_h5

CLIP = 20 * RATE


def test_hdf5_layout_round_trip_and_tiling(tmp_path):
    clips = read_teacher_hdf5(make_teacher_h5(tmp_path))
    assert [c.name for c in clips] == [f"videos/clip{i}" for i in range(4)]
    assert clips[1].audio == tmp_path / "clip1.wav" and clips[1].objects.shape == (2, 1000)
    item = TeacherDataset(clips)[(1, 1, 0)]
    assert item["waveform"].shape == (CLIP,) and item["objects"].shape == (1000, 4) and not item["missing"]
    # 2 frames: the first 10 s repeated twice, rows cycled 0, 1, 0, 1
    assert torch.equal(item["waveform"][: 10 * RATE], item["waveform"][10 * RATE :])
    assert np.array_equal(item["objects"].numpy(), clips[1].objects[[0, 1, 0, 1]].T)


def test_tiling_pads_short_audio_as_the_original():
    objects, scenes = distributions(1, 1000, 0), distributions(1, 401, 1)
    audio = torch.arange(1, 3 * RATE + 1, dtype=torch.float32)
    x, o, s = tile_example(audio, objects, scenes)
    assert x.shape == (CLIP,) and o.shape == (1000, 4) and s.shape == (401, 4)
    # 1 frame = 5 s: 3 s of audio, the original's fill also zeroed the last real sample, then 4 repeats
    assert torch.equal(x[: 3 * RATE - 1], audio[:-1]) and x[3 * RATE - 1 : 5 * RATE].abs().sum() == 0
    assert torch.equal(x[: 5 * RATE], x[15 * RATE :])
    long = torch.randn(25 * RATE)
    assert torch.equal(tile_example(long, distributions(4, 1000, 0), distributions(4, 401, 0))[0], long[:CLIP])
    assert tile_example(None, objects, scenes)[0].abs().sum() == 0


def test_frame_list_layout(tmp_path):
    frames = ["v/a/f1.jpg", "v/a/f2.jpg", "v/b/f1.jpg", "", "v/c/f1.jpg", "v/c/f2.jpg", "v/c/f3.jpg"]
    (tmp_path / "frames.txt").write_text("\n".join(frames) + "\n")
    distributions(6, 1000, 0).tofile(tmp_path / "objects.bin")
    distributions(6, 401, 1).tofile(tmp_path / "scenes.bin")
    clips = read_frame_list(tmp_path / "frames.txt", tmp_path / "objects.bin", tmp_path / "scenes.bin", "/audio")
    assert [(c.name, len(c.objects)) for c in clips] == [("v/a", 2), ("v/b", 1), ("v/c", 3)]
    assert clips[2].audio == Path("/audio/v/c.mp3")
    assert np.array_equal(clips[2].scenes, np.fromfile(tmp_path / "scenes.bin", np.float32).reshape(6, 401)[3:])
    sliced = read_frame_list(
        tmp_path / "frames.txt", tmp_path / "objects.bin", tmp_path / "scenes.bin", key="2:-7", audio_ext=".wav"
    )
    assert [c.name for c in sliced] == ["a", "b", "c"]


def test_frame_list_errors_name_the_line_or_row(tmp_path):
    (tmp_path / "frames.txt").write_text("".join(f"v/a/f{i}.jpg\n" for i in range(5)))
    distributions(5, 1000, 0).tofile(tmp_path / "objects.bin")
    distributions(5, 401, 0).tofile(tmp_path / "scenes.bin")
    with pytest.raises(ValueError, match=r"frames.txt:5: video 'v/a' has more than 4 frames"):
        read_frame_list(tmp_path / "frames.txt", tmp_path / "objects.bin", tmp_path / "scenes.bin")
    rows = distributions(5, 1000, 0)
    rows[3, 7] = -0.1
    rows.tofile(tmp_path / "objects.bin")
    with pytest.raises(ValueError, match=r"objects.bin row 4 \(frame v/a/f3.jpg, line 4\) .*negative"):
        read_frame_list(tmp_path / "frames.txt", tmp_path / "objects.bin", tmp_path / "scenes.bin")
    distributions(4, 1000, 0).tofile(tmp_path / "objects.bin")
    with pytest.raises(ValueError, match="holds 4000 float32 values; the frame list needs 5 rows of 1000"):
        read_frame_list(tmp_path / "frames.txt", tmp_path / "objects.bin", tmp_path / "scenes.bin")


def test_hdf5_rows_that_are_not_distributions_are_rejected(tmp_path):
    scenes = distributions(2, 401, 0)
    scenes[1] *= 0.9
    write_teacher_hdf5(tmp_path / "t.h5", {"a": (distributions(2, 1000, 0), scenes, "a.wav")})
    with pytest.raises(ValueError, match=r"t.h5:/a/scenes row 2 is not a probability distribution: it sums to 0.9"):
        read_teacher_hdf5(tmp_path / "t.h5")
    write_teacher_hdf5(tmp_path / "t.h5", {"a": (distributions(5, 1000, 0), distributions(5, 401, 0), "a.wav")})
    with pytest.raises(ValueError, match="1 <= T <= 4"):
        read_teacher_hdf5(tmp_path / "t.h5")


def test_missing_clips_become_silence_and_are_flagged(tmp_path):
    clips = read_teacher_hdf5(make_teacher_h5(tmp_path, frames=(4,), seconds=(20,), missing=1))
    (tmp_path / "clip0.wav").write_bytes(b"not audio at all")
    for index in range(2):
        item = TeacherDataset(clips)[(index, 1, 0)]
        assert item["missing"] and item["waveform"].abs().sum() == 0


def test_label_list_parsing_and_errors(tmp_path):
    def read_label_list(path, classes=None):
        return labeled_clips(read_list(path, labels="required", check_files=False), classes)

    (tmp_path / "list.txt").write_text("a b.wav 0\n\nc.wav 4\n")
    clips, names = read_label_list(tmp_path / "list.txt", classes=5)
    assert [(c.path.name, c.label) for c in clips] == [("a b.wav", 0), ("c.wav", 4)]
    assert names == ["0", "1", "2", "3", "4"] and len(read_label_list(tmp_path / "list.txt")[1]) == 5
    with pytest.raises(ValueError, match=r"list.txt line 3: label 4 is outside 0..3 \(labels are 0-based\)"):
        read_label_list(tmp_path / "list.txt", classes=4)
    (tmp_path / "list.txt").write_text("a.wav 0\nb.wav cat\n")
    with pytest.raises(ValueError, match=r"list.txt line 2: label 'cat': the list mixes class numbers and names"):
        read_label_list(tmp_path / "list.txt", classes=4)
    (tmp_path / "list.txt").write_text("a.wav dog\n# comment\nb.wav cat\nc.wav dog\n")
    clips, names = read_label_list(tmp_path / "list.txt")  # class names: numbered in sorted order
    assert names == ["cat", "dog"] and [c.label for c in clips] == [1, 0, 1]
    with pytest.raises(ValueError, match="names 2 classes"):
        read_label_list(tmp_path / "list.txt", classes=3)
    (tmp_path / "list.txt").write_text("a.wav\n")
    with pytest.raises(ValueError, match=r"list.txt line 1: expected 'path label', got 'a.wav'"):
        read_label_list(tmp_path / "list.txt")
    train, held = split_held_out([object()] * 10, 0.2, seed=0)
    assert len(train) == 8 and len(held) == 2


@pytest.mark.slow
def test_random_crop_follows_the_original_recipe():
    clip = torch.arange(RATE * 2, dtype=torch.float32)  # 2 s, tiled 3 times = 6 s, crop 5 s
    starts = set()
    for seed in range(300):
        crop = random_crop(clip, 5 * RATE, np.random.default_rng(seed))
        assert crop.shape == (5 * RATE,)
        start = int(crop[0])
        assert torch.equal(crop, clip.repeat(3)[start : start + 5 * RATE])
        starts.add(start)
    assert min(starts) >= 0 and max(starts) <= RATE - 1  # ceil(uniform(0.01, iT - oT)) - 1 never reaches iT - oT
    short = random_crop(torch.ones(RATE), 5 * RATE, np.random.default_rng(0))
    assert short.shape == (5 * RATE,)


def test_labeled_dataset_crops_depend_only_on_seed_step_slot(tmp_path):
    clips, _ = labeled_clips(read_list(make_label_list(tmp_path), labels="required"), classes=3)
    dataset = LabeledDataset(clips, seed=5)
    first, again = dataset[(2, 7, 1)], dataset[(2, 7, 1)]
    assert torch.equal(first["waveform"], again["waveform"]) and first["label"] == 2
    assert not torch.equal(first["waveform"], dataset[(2, 8, 1)]["waveform"])


def test_torch7_cpu_softmax_is_over_the_batch():
    logits = torch.randn(1, 1000, 4)
    assert head_log_softmax(logits, "torch7-cpu").abs().max() == 0  # batch 1: all zeros, as refs' `final`
    targets = torch.softmax(torch.randn(2, 1000, 4), 1)
    logits = torch.randn(2, 1000, 4)
    manual = (
        sum((targets[..., t] * (targets[..., t].log() - torch.log_softmax(logits[..., t], 1))).mean() for t in range(4))
        / 4
        * 250
    )
    assert teacher_loss((logits,), (targets,)).item() == pytest.approx(manual.item(), rel=1e-5)


def test_torch_adam_formula():
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    grads = [torch.tensor([1e-6, -0.3, 0.0]), torch.tensor([2e-6, 0.1, 1e-3])]
    optimizer = TorchAdam([param], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    expected, m, v = param.detach().clone(), torch.zeros(3), torch.zeros(3)
    for t, g in enumerate(grads, 1):
        param.grad = g
        optimizer.step()
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        expected -= 0.01 * (1 - 0.999**t) ** 0.5 / (1 - 0.9**t) * m / (v.sqrt() + 1e-8)
    assert torch.allclose(param.detach(), expected, rtol=1e-6, atol=1e-9)
