"""The paper's evaluation protocol: a linear SVM on the features of one layer, accuracy per fold.

As the original eval_esc50.lua: every clip is tiled (or cut) to 10 s and passed through the net; its
C x T feature map at the layer is cut into every window of w consecutive steps (stride 1), each window
flattened channel by channel into one training vector carrying the clip's label; liblinear
`-s 1 -c 0.01 -B 1` is trained on the windows; at test time the SVM scores of a clip's windows are
averaged and the best class wins. liblinear saw sparse vectors of the POSITIVE values only (its
converter kept `feat > 0`), so negative features count as 0 unless `positive_only=False`; after a ReLU
or pool5 that changes nothing. Note that the script read module outputs after a full forward pass, so a
BN index gave the in-place ReLU's output there; here a layer is cut after that module (index 23 is pre-ReLU).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..devices import dtype_name
from ..formats.loading import model_label, model_sha256
from ..inference.tiling import TILE_SECONDS
from ..jobs.clip_lists import Clip, read_esc50, read_list, sorted_labels
from ..jobs.feature_cache import FeatureCache, clip_features
from ..memory import check_fits
from ..model.architecture import SAMPLE_RATE, Architecture, Layer
from ..model.network import SoundNet
from ..optional import require
from ..outputs import save_figure, write_json

if TYPE_CHECKING:  # optional packages (the `eval` extra): imported where used, so the defaults import anywhere
    from matplotlib.figure import Figure
    from sklearn.svm import LinearSVC

DEFAULT_LAYER = 18  # pool5, the paper's best layer for ESC-50
DEFAULT_C = 0.01
DEFAULT_SCALE = 512.0  # the evaluation scripts' 2^-22 (the other scripts used 2^-23, i.e. 256)


@dataclass(frozen=True)
class Fold:
    name: str
    train: list[Clip]
    test: list[Clip]


def esc50_folds(folder: str | Path) -> tuple[list[Fold], dict[str, str]]:
    """Leave-one-fold-out splits of an ESC-50 folder (5 folds in the real data) and the class names."""
    clips, names = read_esc50(folder)
    folds = sorted_labels({clip.fold for clip in clips})
    if len(folds) < 2:
        raise ValueError(f"{folder}: cross-validation needs at least 2 folds, found {len(folds)}")
    return [
        Fold(fold, [c for c in clips if c.fold != fold], [c for c in clips if c.fold == fold]) for fold in folds
    ], names


def list_folds(pairs: Sequence[tuple[str | Path, str | Path]], root: str | Path | None = None) -> list[Fold]:
    """One fold per (train list, test list) pair of `path label` files, as the original splits/trainK.txt."""
    if not pairs:
        raise ValueError("give at least one train/test list pair")
    return [
        Fold(str(k), read_list(train, root, labels="required"), read_list(test, root, labels="required"))
        for k, (train, test) in enumerate(pairs, 1)
    ]


def folds_of(
    esc50_dir: str | Path | None,
    train_lists: Sequence[str | Path],
    test_lists: Sequence[str | Path],
    root: str | Path | None = None,
) -> tuple[list[Fold], dict[str, str]]:
    """The folds to evaluate: an ESC-50 folder's (leave one fold out), or one per (train, test) list pair."""
    if bool(esc50_dir) == bool(train_lists):
        raise ValueError("give either an ESC-50 folder or train/test lists, not both or neither")
    if len(train_lists) != len(test_lists):
        raise ValueError(f"train and test lists must pair up: got {len(train_lists)} and {len(test_lists)}")
    if esc50_dir:
        return esc50_folds(esc50_dir)
    return list_folds(list(zip(train_lists, test_lists)), root), {}


def window_steps(architecture: Architecture, layer: Layer, seconds: float) -> tuple[int, int]:
    """(T, w): feature steps of a 10 s clip at `layer`, and steps in a window of `seconds`.

    T is the architecture's output_length of 220,500 samples; w = ceil(seconds / 10 * T), the original's
    mapping, so a window covers at least the requested share of the clip (pool5 of SoundNet8: T = 27,
    1 s gives w = 3).
    """
    if not 0 < seconds <= TILE_SECONDS:
        raise ValueError(f"the window must be in (0, {TILE_SECONDS}] seconds, got {seconds}")
    total = architecture.output_length(TILE_SECONDS * SAMPLE_RATE, layer)
    return total, max(1, math.ceil(seconds / TILE_SECONDS * total))


def windows(features: np.ndarray, steps: int, positive_only: bool = True) -> np.ndarray:
    """N x C x T maps -> N x (T - steps + 1) x (C * steps) window vectors, each channel's steps in a row."""
    n, channels, _ = features.shape
    view = sliding_window_view(features, steps, axis=2)  # N x C x windows x steps
    vectors = view.transpose(0, 2, 1, 3).reshape(n, -1, channels * steps)
    return np.maximum(vectors, 0) if positive_only else vectors


def linear_svm(c: float) -> LinearSVC:
    """liblinear `-s 1 -c C -B 1` through scikit-learn's bundled liblinear.

    -s 1 is the dual solver of the L2-regularised squared-hinge loss, one-vs-rest for several classes;
    -B 1 appends a constant feature 1 whose weight (the bias) is regularised like the others, which is
    LinearSVC's fit_intercept with intercept_scaling 1; tol 0.1 is liblinear's default stopping epsilon
    for -s 1. Only the coordinate order differs (scikit-learn's seeded shuffle, fixed here).
    """
    if not c > 0:
        raise ValueError(f"C must be positive, got {c}")
    svm = require("sklearn.svm", "evaluation")
    return svm.LinearSVC(
        penalty="l2",
        loss="squared_hinge",
        dual=True,
        C=c,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=0.1,
        max_iter=1000,
        multi_class="ovr",
        random_state=0,
    )


def fit_and_score(
    train: np.ndarray, labels: Sequence[str], test: np.ndarray, c: float
) -> tuple[np.ndarray, list[str], bool]:
    """Train on N x W x D windows (a clip's label on each); the per-clip mean window scores of `test`.

    Returns (scores M x K, the K classes in score order, whether liblinear converged).
    """
    if len(set(labels)) < 2:
        raise ValueError(f"a fold's training clips must hold at least 2 classes, found {sorted(set(labels))}")
    svm = linear_svm(c)
    per_window = np.repeat(np.asarray(labels, dtype=object), train.shape[1])
    convergence_warning = require("sklearn.exceptions", "evaluation").ConvergenceWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", convergence_warning)
        svm.fit(train.reshape(-1, train.shape[2]), per_window.astype(str))
    converged = not any(issubclass(w.category, convergence_warning) for w in caught)
    scores = svm.decision_function(test.reshape(-1, test.shape[2]))
    if scores.ndim == 1:  # two classes: one score, positive for classes_[1]
        scores = np.stack([-scores, scores], axis=1)
    return scores.reshape(test.shape[0], test.shape[1], -1).mean(axis=1), list(svm.classes_), converged


def evaluate(
    model: SoundNet,
    folds: Sequence[Fold],
    *,
    layer: int | str = DEFAULT_LAYER,
    window: float = 1.0,
    c: float = DEFAULT_C,
    scale: float = DEFAULT_SCALE,
    cache_path: str | Path,
    batch_size: int = 16,
    positive_only: bool = True,
    class_names: dict[str, str] | None = None,
) -> dict:
    """Run the protocol over `folds`; a JSON-ready dict of per-fold and mean accuracy, confusion, predictions."""
    for package in ("sklearn", "matplotlib"):
        require(package, "evaluation")  # a missing one is one line before any feature is extracted
    spec = model.architecture.layer(layer)
    total, steps = window_steps(model.architecture, spec, window)
    clips = len({clip.path for fold in folds for clip in fold.train + fold.test})
    channels = sum(model.classes) if spec.index == model.architecture.head.index else model.widths[spec.block - 1]
    check_fits(
        clips * channels * (total + (total - steps + 1) * steps) * 4,
        f"layer {spec.index} ({spec.name}) with a {window:g} s window over {clips} clips "
        f"({total - steps + 1} windows of {channels * steps} values per clip)",
    )
    for fold in folds:
        unlabelled = [clip.path for clip in fold.train + fold.test if clip.label is None]
        if unlabelled:
            raise ValueError(f"fold {fold.name}: clip {unlabelled[0]} has no label")
    paths = sorted({clip.path for fold in folds for clip in fold.train + fold.test})
    model_sha = model_sha256(model)
    features, stats = clip_features(model, model_sha, paths, spec, scale, FeatureCache(cache_path), batch_size)
    vectors = windows(features, steps, positive_only)
    row = {p: i for i, p in enumerate(paths)}
    classes = sorted_labels({clip.label for fold in folds for clip in fold.train + fold.test})
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    fold_results, predictions = [], []
    for fold in folds:
        scores, fitted, converged = fit_and_score(
            vectors[[row[c.path] for c in fold.train]],
            [c.label for c in fold.train],
            vectors[[row[c.path] for c in fold.test]],
            c,
        )
        guesses = [fitted[i] for i in scores.argmax(axis=1)]
        for clip, guess in zip(fold.test, guesses):
            confusion[classes.index(clip.label), classes.index(guess)] += 1
            predictions.append({"fold": fold.name, "path": str(clip.path), "label": clip.label, "predicted": guess})
        accuracy = float(np.mean([clip.label == guess for clip, guess in zip(fold.test, guesses)]))
        fold_results.append(
            {
                "fold": fold.name,
                "train_clips": len(fold.train),
                "test_clips": len(fold.test),
                "accuracy": accuracy,
                "svm_converged": converged,
            }
        )
    accuracies = [f["accuracy"] for f in fold_results]
    return {
        "model": model_label(model),
        "model_sha256": model_sha,
        "architecture": model.name,
        "dtype": dtype_name(model),
        "layer": {"index": spec.index, "name": spec.name},
        "scale": scale,
        "clip_seconds": TILE_SECONDS,
        "feature_steps": total,
        "window_seconds": window,
        "window_steps": steps,
        "windows_per_clip": total - steps + 1,
        "feature_dimension": int(vectors.shape[2]),
        "positive_only": positive_only,
        "svm": {"solver": "liblinear -s 1 (L2-regularised L2-loss, dual)", "C": c, "bias": 1, "tol": 0.1},
        "features": {"cache": str(cache_path), "computed": stats.computed, "reused": stats.reused},
        "classes": classes,
        "class_names": [(class_names or {}).get(label, label) for label in classes],
        "folds": fold_results,
        "mean_accuracy": float(np.mean(accuracies)),
        "std_accuracy": float(np.std(accuracies)),
        "confusion": confusion.tolist(),
        "predictions": predictions,
    }


def confusion_figure(results: dict) -> Figure:
    """The summed test confusion over folds, rows true classes, columns predictions."""
    matrix = np.asarray(results["confusion"])
    names = results["class_names"]
    size = min(4 + 0.25 * len(names), 20)
    figure = require("matplotlib.figure", "evaluation").Figure(figsize=(size + 1, size))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, label="test clips")
    font = max(4, 10 - len(names) // 8)
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=font)
    axes.set_yticks(range(len(names)), names, fontsize=font)
    if len(names) <= 20:
        for (true, guess), count in np.ndenumerate(matrix):
            axes.text(
                guess,
                true,
                str(count),
                ha="center",
                va="center",
                fontsize=font,
                color="white" if count > matrix.max() / 2 else "black",
            )
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(
        f"{results['architecture']} layer {results['layer']['index']} ({results['layer']['name']}), "
        f"{results['window_seconds']} s windows, C={results['svm']['C']}: "
        f"mean accuracy {results['mean_accuracy']:.1%}",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def write_report(results: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """`evaluation.json` and `confusion.png` in out_dir."""
    out_dir = Path(out_dir)
    return (
        write_json(out_dir / "evaluation.json", results),
        save_figure(confusion_figure(results), out_dir / "confusion.png"),
    )


def summary_lines(results: dict) -> list[str]:
    """Per-fold and mean accuracy, and how many features were computed or reused."""
    lines = [
        f"fold {fold['fold']}: accuracy {fold['accuracy']:.4f} ({fold['test_clips']} test clips)"
        for fold in results["folds"]
    ]
    lines.append(
        f"mean accuracy {results['mean_accuracy']:.4f} over {len(results['folds'])} fold(s); "
        f"features computed {results['features']['computed']}, reused {results['features']['reused']}"
    )
    return lines
