"""soundnet evaluate: the linear-SVM protocol on generated sound classes, its feature cache, inputs and errors.

The example checkpoint has random weights, so accuracy well above chance (25 % for four classes) shows the
pipeline (tiling, windows, SVM, score averaging, folds) works, not that the features are good.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from generated_sounds import KINDS, write_clip, write_esc50
from soundnet import load
from soundnet.cli import cli
from soundnet.evaluation.protocol import esc50_folds, evaluate, linear_svm, window_steps, windows
from soundnet.inference.tiling import eval_esc50
from soundnet.jobs import feature_cache
from soundnet.jobs.clip_lists import read_esc50
from soundnet.model.architecture import SOUNDNET8

CLIPS = len(KINDS) * 3 * 3  # four classes, three folds, three clips per class and fold


@pytest.fixture(scope="module")
def esc50(tmp_path_factory):
    folder = tmp_path_factory.mktemp("esc50")
    write_esc50(folder, per_fold=3, folds=3)
    return folder


@pytest.fixture(scope="module")
def first_run(esc50, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    result = CliRunner().invoke(cli, ["evaluate", str(esc50), "--model", "example", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "evaluation.json").read_text()), result.output


def test_svm_separates_the_generated_classes(first_run):
    out, results, output = first_run
    accuracies = [fold["accuracy"] for fold in results["folds"]]
    assert [fold["fold"] for fold in results["folds"]] == ["1", "2", "3"]
    assert results["mean_accuracy"] == pytest.approx(np.mean(accuracies))
    assert results["mean_accuracy"] >= 0.75 and min(accuracies) >= 0.5, accuracies  # chance is 0.25
    assert (results["layer"], results["scale"], results["svm"]["C"]) == ({"index": 18, "name": "pool5"}, 512.0, 0.01)
    assert np.asarray(results["confusion"]).sum() == CLIPS == len(results["predictions"])
    assert np.trace(results["confusion"]) / CLIPS == pytest.approx(results["mean_accuracy"])
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["features"]["computed"] == CLIPS and "mean accuracy" in output


def test_rerun_with_other_c_and_window_reuses_the_cache(first_run, esc50, monkeypatch):
    out, before, _ = first_run
    cache = out / "features.h5"
    folds, _ = esc50_folds(esc50)

    def no_model(*args):
        raise AssertionError("features were recomputed")

    with monkeypatch.context() as patch:
        patch.setattr(feature_cache, "extract_features", no_model)
        again = evaluate(load("example"), folds, window=5.0, c=1.0, cache_path=cache)
    assert again["features"] == {"cache": str(cache), "computed": 0, "reused": CLIPS}
    assert (again["window_steps"], before["window_steps"]) == (math.ceil(0.5 * again["feature_steps"]), 3)

    touched = folds[0].test[0].path
    write_clip(touched, KINDS[0], 2.0, seed=99)  # new content and mtime: only this clip is recomputed
    assert evaluate(load("example"), folds, cache_path=cache)["features"]["computed"] == 1
    assert evaluate(load("example"), folds, layer="relu7", cache_path=cache)["features"]["computed"] == CLIPS


def test_train_test_list_pairs(esc50, tmp_path):
    clips, _ = read_esc50(esc50)
    for fold in ("1", "2"):
        for split, in_test_fold in (("train", False), ("test", True)):
            lines = [f"{c.path.relative_to(esc50)} {c.label}" for c in clips if (c.fold == fold) == in_test_fold]
            (esc50 / f"{split}{fold}.txt").write_text("# path label\n" + "\n".join(lines) + "\n")
    args = [
        "evaluate",
        "--model",
        "example",
        "--out",
        str(tmp_path),
        "--cache",
        str(tmp_path / "c.h5"),
        "--train",
        str(esc50 / "train1.txt"),
        "--test",
        str(esc50 / "test1.txt"),
        "--train",
        str(esc50 / "train2.txt"),
        "--test",
        str(esc50 / "test2.txt"),
        "--window",
        "3",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "evaluation.json").read_text())
    assert [f["test_clips"] for f in results["folds"]] == [12, 12] and results["mean_accuracy"] >= 0.6


def test_esc50_meta_csv_gives_folds_and_names(tmp_path):
    for fold, target in ((1, 0), (1, 1), (2, 0), (2, 1)):
        write_clip(tmp_path / "audio" / f"x{fold}{target}.wav", KINDS[target], 1.0, seed=fold * 10 + target)
    rows = [f"x{f}{t}.wav,{f},{t},{KINDS[t]},False,src,A" for f, t in ((1, 0), (1, 1), (2, 0), (2, 1))]
    (tmp_path / "meta").mkdir()
    header = "filename,fold,target,category,esc10,src_file,take\n"
    (tmp_path / "meta" / "esc50.csv").write_text(header + "\n".join(rows))
    folds, names = esc50_folds(tmp_path)
    assert [(f.name, len(f.train), len(f.test)) for f in folds] == [("1", 2, 2), ("2", 2, 2)]
    assert names == {"0": "tone", "1": "noise"}


def test_windows_follow_the_original_script():
    # eval_esc50.lua: w = ceil(W / 10 * T), every start 1..T-w+1, feat[{{}, {i, i+w-1}}]:view(-1), only feat > 0.
    assert window_steps(SOUNDNET8, SOUNDNET8.layer(18), 1.0) == (27, 3)
    assert window_steps(SOUNDNET8, SOUNDNET8.layer("conv7"), 5.0) == (8, 4)
    features = np.random.default_rng(0).standard_normal((2, 5, 9)).astype(np.float32)
    expected = [[np.maximum(clip[:, i : i + 4].reshape(-1), 0) for i in range(6)] for clip in features]
    np.testing.assert_array_equal(windows(features, 4), np.asarray(expected))
    np.testing.assert_array_equal(windows(features, 9, positive_only=False)[:, 0], features.reshape(2, -1))


def test_svm_matches_liblinear_options():
    params = linear_svm(0.01).get_params()
    assert {
        k: params[k]
        for k in ("penalty", "loss", "dual", "C", "fit_intercept", "intercept_scaling", "tol", "multi_class")
    } == {
        "penalty": "l2",
        "loss": "squared_hinge",
        "dual": True,
        "C": 0.01,
        "fit_intercept": True,
        "intercept_scaling": 1.0,
        "tol": 0.1,
        "multi_class": "ovr",
    }


def test_tiling_reproduces_the_original_repeat_and_cut():
    clip = torch.arange(7.0)
    rate, seconds = 10, 10  # the original: repeat ceil((10 + 1) s * rate / n) times, keep 10 s
    original = clip.repeat(math.ceil((seconds + 1) * rate / len(clip)))[: seconds * rate]
    assert torch.equal(eval_esc50(clip, seconds * rate), original)
    assert torch.equal(eval_esc50(torch.arange(150.0), 100), torch.arange(100.0))


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "either an ESC-50 folder or train/test lists"),
        (["--train", "{list}"], "must pair up"),
        (["--train", "{list}", "--test", "{list}"], "line 2: no such audio file"),
        (["{esc50}", "--window", "11"], "window must be in"),
        (["{esc50}", "--layer", "conv9"], "has no layer 'conv9'"),
        (["{esc50}", "--cache", "{list}"], "is not an HDF5 file"),
        (["{esc50}", "-C", "0"], "C must be positive"),
        (["{tmp}"], "no ESC-50 clips found"),
    ],
)
def test_errors_are_one_line(esc50, tmp_path, args, message):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{next((esc50 / 'audio').iterdir())} 0\nmissing.wav 1\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [a.format(list=listing, esc50=esc50, tmp=empty) for a in args]
    result = CliRunner().invoke(cli, ["evaluate", "--model", "example", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and message in result.output, result.output
    assert not (tmp_path / "out" / "evaluation.json").exists()
