"""soundnet.predict: the original extract_predictions.lua recipe (softmax per step, 10 s tiling, middle step)."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import torch

import soundnet
from audio_fixtures import small_soundnet8, write_audio
from soundnet import SoundNet8Finetuned
from soundnet.audio import iter_audio_blocks, load_audio
from soundnet.inference.predict import category_names, predict_blocks
from soundnet.inference.report import CSV_HEADER, csv_rows, format_table, prediction_record, summary_line
from soundnet.inference.tiling import TILE_SAMPLES
from soundnet.inference.tiling import extract_predictions_repeats as tile_repeats
from tolerances import close

MODEL = small_soundnet8()


def reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The original recipe written out: tile under 10 s, forward, softmax over classes."""
    if len(x) < TILE_SAMPLES:
        x = x.repeat(math.ceil(TILE_SAMPLES / len(x)))
    with torch.no_grad():
        objects, scenes = MODEL.probabilities(x)
    return objects[0], scenes[0]


@pytest.mark.parametrize("seconds,repeats,steps", [(20.0, 1, 4), (10.0, 1, 1), (9.6, 2, 4), (3.0, 4, 1), (0.3, 34, 1)])
def test_probabilities_tiling_and_steps(seconds, repeats, steps):
    x = torch.randn(int(seconds * 22050)) * 40
    prediction = soundnet.predict(MODEL, x)
    objects, scenes = reference(x)
    assert (prediction.repeats, prediction.tiled, prediction.steps) == (repeats, repeats > 1, steps)
    assert prediction.samples == len(x)
    assert close(prediction.objects, objects) and close(prediction.scenes, scenes)
    # a float32 sum of <= 1000 probabilities: pairwise rounding <= log2(1000) * 6e-8 = 6e-7 << 1e-5
    assert torch.allclose(prediction.objects.sum(0), torch.ones(steps), atol=1e-5)


def test_middle_step_summary_as_the_original():
    prediction = soundnet.predict(MODEL, torch.randn(20 * 22050) * 40)
    assert prediction.middle_step == 1  # Lua ceil(4 / 2) = 2, 1-based
    obj, scene = prediction.summary()
    assert obj.index == int(prediction.objects[:, 1].argmax())
    assert scene.index == int(prediction.scenes[:, 1].argmax())
    assert soundnet.predict(MODEL, torch.randn(31 * 22050)).middle_step == math.ceil(8 / 2) - 1


def test_long_clip_in_chunks_equals_one_pass():
    x = torch.randn(50 * 22050) * 40
    chunked = soundnet.predict(MODEL, x, chunk_samples=400_000)
    objects, scenes = reference(x)
    assert chunked.steps == objects.shape[-1] == MODEL.architecture.output_length(len(x)) == 14
    assert close(chunked.objects, objects) and close(chunked.scenes, scenes)


def test_streamed_blocks_equal_in_memory(tmp_path):
    short = write_audio(tmp_path / "short.flac", 2.0, rate=48000, channels=2)
    long = write_audio(tmp_path / "long.wav", 25.0, rate=44100)
    for path in (short, long):
        streamed = predict_blocks(MODEL, iter_audio_blocks(path, 30_001))
        whole = soundnet.predict(MODEL, load_audio(path))
        assert (streamed.samples, streamed.repeats) == (whole.samples, whole.repeats)
        assert close(streamed.objects, whole.objects)


def test_names_from_metadata_folder_or_indices(tmp_path):
    assert category_names(MODEL)[0][:2] == ["#0", "#1"]
    model = small_soundnet8()
    model.metadata["categories"] = [
        [f"n0000000{i} thing{i}, other" for i in range(10)],
        [f"/a/place{i}" for i in range(6)],
    ]
    prediction = soundnet.predict(model, torch.randn(12 * 22050))
    obj, scene = prediction.summary()
    assert obj.name.startswith("n0000000") and obj.label == f"thing{obj.index}"
    assert scene.label == f"place{scene.index}"
    (tmp_path / "categories_imagenet.txt").write_text("".join(f"n1000000{i} cat{i}\n" for i in range(10)))
    (tmp_path / "categories_places2.txt").write_text("".join(f"/b/room{i}\n" for i in range(6)))
    from_folder = soundnet.predict(model, torch.randn(12 * 22050), categories=tmp_path)
    assert from_folder.summary()[0].label.startswith("cat")
    (tmp_path / "categories_places2.txt").write_text("/b/room\n")
    with pytest.raises(ValueError, match="1 names, the model has 6"):
        soundnet.predict(model, torch.randn(12 * 22050), categories=tmp_path)


def test_real_category_files(categories_dir):
    torch.manual_seed(0)
    model = soundnet.SoundNet8(widths=(4, 4, 8, 8, 8, 16, 16)).eval()
    obj, scene = soundnet.predict(model, torch.randn(10 * 22050), categories=categories_dir).summary()
    assert obj.name.startswith("n") and scene.name.startswith("/")


def test_bad_inputs():
    with pytest.raises(ValueError, match="holds no samples"):
        soundnet.predict(MODEL, torch.zeros(0))
    with pytest.raises(ValueError, match="has 2 channels"):
        soundnet.predict(MODEL, torch.zeros(1, 2, 1000))
    with pytest.raises(ValueError, match="a fine-tuned model takes a classes file"):
        soundnet.predict(SoundNet8Finetuned(5, widths=(2, 2, 4, 4, 4, 4, 4)).eval(), torch.zeros(10), categories=".")
    with pytest.raises(ValueError, match="list of clips is empty"):
        soundnet.predict(MODEL, [])
    assert tile_repeats(1) == TILE_SAMPLES and tile_repeats(TILE_SAMPLES) == 1


def test_batches_lists_and_paths(tmp_path):
    torch.manual_seed(3)
    x = torch.randn(2, 3 * 22050) * 40
    batch = soundnet.predict(MODEL, x)
    assert isinstance(batch, list) and len(batch) == 2
    for row, prediction in enumerate(batch):
        assert close(prediction.objects, soundnet.predict(MODEL, x[row]).objects)
    path = write_audio(tmp_path / "clip.wav", 12.0, rate=44100)
    from_path = soundnet.predict(MODEL, path)
    assert close(from_path.scenes, soundnet.predict(MODEL, load_audio(path)).scenes)
    mixed = soundnet.predict(MODEL, [x[0], str(path)])  # clips of any lengths, waveforms or paths
    assert [p.steps for p in mixed] == [1, from_path.steps] and mixed[1].samples == from_path.samples


def test_finetuned_model_predicts_named_classes_tiled_as_finetuning_did(tmp_path):
    torch.manual_seed(4)
    net = SoundNet8Finetuned(3, widths=(2, 2, 4, 4, 4, 4, 4)).eval()
    net.metadata["class_names"] = ["dog", "rain", "siren"]
    short = torch.randn(3 * 22050) * 40
    prediction = soundnet.predict(net, short)
    assert prediction.heads == ("class",) and prediction.recipe == "main_finetune.lua"
    assert prediction.repeats == 3  # main_finetune.lua's three copies (a 3 s clip)
    with torch.no_grad():
        expected = torch.softmax(net(short), dim=1)[0]  # the per-clip decision is what model(wave) gives
    assert close(prediction.clip_probabilities(), expected)
    best = prediction.decision(1)[0]
    assert best.name == ["dog", "rain", "siren"][int(expected.argmax())]
    table = format_table("clip.wav", prediction, 2)
    assert "class" in table.splitlines()[1] and "clip decision" in table.splitlines()[-1]
    assert "tiled x3" in table and "main_finetune.lua" in table
    record = prediction_record("clip.wav", prediction, 2)
    assert record["summary"]["decision"][0]["category"] == best.name and "classes" in record["steps"][0]
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    assert soundnet.predict(net, short, classes_file=tmp_path / "classes.txt").decision(1)[0].name in "abc"
    (tmp_path / "two.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="has 2 names, the model has 3 classes"):
        soundnet.predict(net, short, classes_file=tmp_path / "two.txt")
    long = soundnet.predict(net, torch.randn(12 * 22050) * 40)
    assert long.repeats == 1 and long.steps > 1


def test_reports():
    prediction = soundnet.predict(MODEL, torch.randn(3 * 22050))
    table = format_table("clip.wav", prediction, 3)
    assert "tiled x4 to 12.00 s" in table and table.splitlines()[-1] == summary_line("clip.wav", prediction)
    record = json.loads(json.dumps(prediction_record("clip.wav", prediction, 2)))
    assert record["tiled"] and record["tile_repeats"] == 4 and len(record["steps"]) == 1
    assert len(record["steps"][0]["objects"]) == 2 and record["summary"]["step"] == 1
    rows = list(csv.reader(io.StringIO(csv_rows("clip.wav", prediction, 2))))
    assert len(rows) == 4 and all(len(row) == len(CSV_HEADER) for row in rows)
    assert prediction.window_seconds(0) == (0.0, 12.0)
