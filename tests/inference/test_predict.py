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
from soundnet.inference.predict import TILE_SAMPLES, category_names, predict_blocks, tile_repeats
from soundnet.inference.report import CSV_HEADER, csv_rows, format_table, prediction_record, summary_line
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
    assert torch.allclose(prediction.objects.sum(0), torch.ones(steps), atol=1e-5)  # a float32 sum of <= 1000 probabilities: pairwise rounding <= log2(1000) * 6e-8 = 6e-7 << 1e-5


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
    model.metadata["categories"] = [[f"n0000000{i} thing{i}, other" for i in range(10)],
                                    [f"/a/place{i}" for i in range(6)]]
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
    with pytest.raises(ValueError, match="non-empty"):
        soundnet.predict(MODEL, torch.zeros(0))
    with pytest.raises(ValueError, match="one clip"):
        soundnet.predict(MODEL, torch.zeros(2, 1000))
    with pytest.raises(ValueError, match="fine-tuned"):
        soundnet.predict(SoundNet8Finetuned(5).eval(), torch.zeros(10))
    assert tile_repeats(1) == TILE_SAMPLES and tile_repeats(TILE_SAMPLES) == 1


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
