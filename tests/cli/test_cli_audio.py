"""`soundnet predict`, `soundnet extract` and `soundnet merge` on the embedded example checkpoint."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import soundnet
from audio_fixtures import write_audio
from soundnet.cli import cli
from soundnet.jobs.feature_files import read_index
from soundnet.model.examples import EXAMPLE_MODEL
from tolerances import close

EXAMPLE = soundnet.load(EXAMPLE_MODEL)


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)


def one_error_line(result) -> str:
    """The failure contract: non-zero exit, exactly one line on stderr, no traceback."""
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture
def audio(tmp_path):
    return {
        "long": write_audio(tmp_path / "long.wav", 12.0),
        "stereo": write_audio(tmp_path / "st.flac", 2.0, 48000, 2),
        "short": write_audio(tmp_path / "short.mp3", 0.8, 44100),
        "ogg": write_audio(tmp_path / "v.ogg", 3.0),
    }


def test_predict_table_says_when_it_tiles(audio):
    result = run("predict", audio["long"], audio["short"], "--model", "example", "--top", "2")
    assert result.exit_code == 0, result.output
    assert "long.wav: 12.00 s, 1 step(s)\n" in result.stdout
    assert "short.mp3: 0.80 s, 1 step(s); tiled x13 to 10.40 s as extract_predictions.lua did" in result.stdout
    assert result.stdout.count("middle step 1/1: object ") == 2
    assert "object #" not in result.stdout, "a teacher model shows the shipped category names by default"


def test_predict_json_csv_and_h5(audio, tmp_path):
    result = run("predict", audio["stereo"], audio["ogg"], "--model", "example", "--format", "json", "--write-h5")
    records = json.loads(result.stdout)
    assert [r["tile_repeats"] for r in records] == [5, 4] and len(records[0]["steps"][0]["objects"]) == 5
    expected = soundnet.predict(EXAMPLE, soundnet.load_audio(audio["stereo"]))
    with h5py.File(str(audio["stereo"]) + ".soundnet_categories.h5", "r") as handle:
        assert handle["object"].shape == (1, 1000, 1, 1) and handle["scene"].shape == (1, 401, 1, 1)
        assert handle["object"].dtype == np.float32
        assert close(handle["object"][0, :, :, 0], expected.objects)
    rows = list(
        csv.reader(
            io.StringIO(run("predict", audio["ogg"], "--model", "example", "--format", "csv", "--top", "3").stdout)
        )
    )
    assert rows[0][:3] == ["path", "step", "start_s"] and len(rows) == 1 + 2 * 3


def test_predict_categories_dir(audio, categories_dir):
    result = run("predict", audio["ogg"], "--model", "example", "--categories-dir", categories_dir, "--top", "1")
    assert result.exit_code == 0 and "#" not in result.stdout.splitlines()[-1]


def test_extract_per_file_out_dir_and_resume(audio, tmp_path):
    paths = [audio["long"], audio["stereo"]]
    result = run("extract", *paths, "--model", "example", "--layer", "pool5")
    assert result.exit_code == 0 and "2 written, 0 skipped, 0 failed" in result.stdout
    with h5py.File(str(paths[0]) + ".soundnet.h5", "r") as handle:
        assert list(handle) == ["layer18", "times"] and handle["layer18"].dtype == np.float32
        expected = soundnet.extract_features(EXAMPLE, soundnet.load_audio(paths[0]), 18)[0].numpy()
        assert close(handle["layer18"][()], expected)
    assert "0 written, 2 skipped" in run("extract", *paths, "--model", "example", "--layer", "18").stdout
    assert "2 written, 0 skipped" in run("extract", *paths, "--model", "example").stdout  # other layer: recomputed
    assert "2 written" in run("extract", *paths, "--model", "example", "--force").stdout
    (tmp_path / "list.txt").write_text("\n".join(map(str, paths)) + "\n")
    out = tmp_path / "features"
    result = run(
        "extract",
        "--list",
        tmp_path / "list.txt",
        "--model",
        "example",
        "--out",
        out,
        "--pool",
        "mean",
        "--workers",
        "0",
    )
    assert result.exit_code == 0
    with h5py.File(out / (str(paths[1]).lstrip("/") + ".soundnet.h5"), "r") as handle:
        assert handle["layer24"].shape == (32,)


def test_extract_shards_from_torchrun_env_then_merge(audio, tmp_path):
    paths = list(audio.values())
    target = tmp_path / "all.h5"
    for rank in range(2):
        result = run(
            "extract",
            *paths,
            "--model",
            "example",
            "--h5",
            target,
            "--pool",
            "max",
            env={"RANK": str(rank), "WORLD_SIZE": "2"},
        )
        assert result.exit_code == 0 and f"(shard {rank}/2)" in result.stdout
    result = run("merge", target, tmp_path / "all.shard-0-of-2.h5", tmp_path / "all.shard-1-of-2.h5")
    assert result.exit_code == 0 and "4 clips from 2 file(s)" in result.stdout
    assert sorted(read_index(target)) == sorted(map(str, paths))


def test_extract_reports_each_broken_file_on_one_line(audio, tmp_path):
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    result = run("extract", audio["long"], tmp_path / "noise.mp3", "--model", "example")
    assert "1 written, 0 skipped, 1 failed" in result.stdout
    assert one_error_line(result).startswith("Error: cannot read audio file")
    assert not (tmp_path / "noise.mp3.soundnet.h5").exists() and not list(tmp_path.glob(".*.tmp"))
    strict = run("extract", tmp_path / "noise.mp3", audio["ogg"], "--model", "example", "--strict", "--workers", "0")
    assert "noise.mp3" in one_error_line(strict) and not (tmp_path / "v.ogg.soundnet.h5").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["predict", "{missing}", "--model", "example"], "no such file"),
        (["predict", "{text}", "--model", "example"], "Format not recognised"),
        (["predict", "{wav}", "--model", "{text}"], "cannot tell the format"),
        (["predict", "{wav}", "--model", "{missing}"], "no such"),
        (["predict", "{wav}", "--model", "example", "--categories-dir", "{dir}"], "category file"),
        (["extract", "--model", "example"], "give audio files or a list file"),
        (["extract", "{wav}", "--list", "{text}", "--model", "example"], "not both"),
        (["extract", "--list", "{missing}", "--model", "example"], "no such list file"),
        (["extract", "{wav}", "--model", "example", "--layer", "99"], "no layer 99"),
        (["extract", "{wav}", "--model", "example", "--layer", "25"], "predict gives their probabilities"),
        (["predict", "{wav}", "--model", "example", "--classes", "{text}"], "a classes file names a fine-tuned"),
        (["extract", "{wav}", "--model", "example", "--shard", "3/2"], "K/N"),
        (["extract", "{wav}", "--model", "example", "--out", "{dir}", "--h5", "{dir}/x.h5"], "not both"),
        (["extract", "{wav}", "--model", "example", "--h5", "{text}"], "not a consolidated"),
        (["merge", "{dir}/out.h5", "{missing}"], "no such file"),
        (["merge", "{dir}/out.h5", "{text}"], "not a consolidated"),
    ],
)
def test_every_error_is_one_line(tmp_path, args, message):
    names = {
        "missing": tmp_path / "absent.wav",
        "text": tmp_path / "text.wav",
        "dir": tmp_path / "dir",
        "wav": write_audio(tmp_path / "ok.wav", 1.0),
    }
    names["text"].write_text("hello")
    names["dir"].mkdir()
    before = sorted(tmp_path.rglob("*"))
    result = run(*[arg.format(**names) for arg in args])
    assert message in one_error_line(result)
    assert sorted(tmp_path.rglob("*")) == before  # no output, partial or temporary, was left


def test_predict_with_a_finetuned_model_names_its_classes_and_decides_per_clip(audio, tmp_path):
    net = soundnet.SoundNet8Finetuned(3, widths=(4, 8, 16, 32, 32, 32, 32)).eval()
    net.metadata["class_names"] = ["dog", "rain", "siren"]
    model = soundnet.save(net, tmp_path / "ft.safetensors")
    result = run("predict", audio["stereo"], "--model", model, "--top", "2")
    assert result.exit_code == 0, result.output
    assert "tiled x3 to 6.00 s as main_finetune.lua did" in result.stdout
    decision = result.stdout.splitlines()[-1]
    assert "clip decision over" in decision and any(name in decision for name in ("dog", "rain", "siren"))
    (tmp_path / "names.txt").write_text("cat\ncow\nowl\n")
    named = run("predict", audio["stereo"], "--model", model, "--classes", tmp_path / "names.txt", "--format", "json")
    record = json.loads(named.stdout)[0]
    assert record["recipe"] == "main_finetune.lua" and record["summary"]["decision"][0]["category"] in "cat cow owl"
    assert run("predict", audio["long"], "--model", model, "--write-h5").exit_code == 0
    with h5py.File(str(audio["long"]) + ".soundnet_categories.h5", "r") as handle:
        assert list(handle) == ["class", "times"] and handle.attrs["recipe"] == "main_finetune.lua"


def test_inspect_recognises_feature_and_prediction_files(audio, tmp_path):
    path = audio["ogg"]
    run("extract", path, "--model", "example")
    run("extract", path, "--model", "example", "--format", "npz", "--layer", "18")
    run("extract", path, audio["long"], "--model", "example", "--h5", tmp_path / "features.h5")
    run("predict", path, "--model", "example", "--write-h5")
    sha = EXAMPLE.metadata["file_sha256"]
    for name, kind in (
        (".soundnet.h5", "SoundNet feature file (extract_feat.lua layout)"),
        (".soundnet.npz", "SoundNet feature file (npz)"),
        (".soundnet_categories.h5", "SoundNet prediction file"),
    ):
        result = run("inspect", str(path) + name)
        assert result.exit_code == 0 and kind in result.stdout and sha in result.stdout, result.output
        assert "step times" in result.stdout and "hop_seconds" in result.stdout
    result = run("inspect", tmp_path / "features.h5")
    assert result.exit_code == 0 and "consolidated SoundNet feature file, 2 clip(s)" in result.stdout
    converted = soundnet.save(EXAMPLE, tmp_path / "model.h5")  # an h5 model file is still a model
    assert "trainable parameters" in run("inspect", converted).stdout


def test_usage_examples_in_help():
    for command in ("predict", "extract", "merge"):
        assert "Example" in run(command, "--help").stdout


def test_installed_command_runs_as_documented(audio):
    done = subprocess.run(
        [sys.executable, "-m", "soundnet", "predict", str(audio["short"]), "--model", "example", "--top", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "tiled x13" in done.stdout and done.stderr == ""


@pytest.mark.slow
def test_killed_extraction_resumes_without_corrupt_outputs(tmp_path):
    paths = [write_audio(tmp_path / f"c{i:02d}.wav", 6.0, seed=i) for i in range(40)]
    (tmp_path / "list.txt").write_text("\n".join(map(str, paths)) + "\n")
    command = [
        sys.executable,
        "-m",
        "soundnet",
        "extract",
        "--list",
        str(tmp_path / "list.txt"),
        "--model",
        "example",
        "--batch-size",
        "1",
        "--workers",
        "0",
    ]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while job.poll() is None and not list(tmp_path.glob("*.soundnet.h5")):
        time.sleep(0.01)
    job.kill()
    job.wait()
    finished = list(tmp_path.glob("*.soundnet.h5"))
    for output in finished:
        with h5py.File(output, "r") as handle:  # every file under its final name is complete
            assert handle["layer24"].shape[0] == 32
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0 and f"{len(finished)} skipped" in again.stdout
    assert len(list(tmp_path.glob("*.soundnet.h5"))) == 40
