"""`soundnet predict` over many files: each streamed through the net, printed as it goes, optionally saved.

A file that cannot be read gets one error line and the others are still predicted; the run reports
whether every file succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..audio import iter_audio_blocks
from ..errors import one_line
from ..formats.loading import model_label, model_sha256
from ..inference.chunked import default_chunk_samples
from ..inference.predict import Prediction, predict_blocks
from ..inference.report import CSV_HEADER, csv_rows, format_table, prediction_record
from ..model.architecture import INPUT_SCALE
from ..model.network import SoundNet
from .feature_files import CATEGORY_SUFFIX, output_path, step_geometry, write_categories_file

OUTPUT_FORMATS = ("table", "json", "csv")


def write_prediction_file(path: str, model: SoundNet, prediction: Prediction, scale: float, channel: str) -> Path:
    """`<audio>.soundnet_categories.h5` with the probabilities, the step times and how they were made."""
    attrs = {
        "model": model_label(model),
        "model_sha256": model_sha256(model),
        "architecture": model.name,
        "layer": model.architecture.head.index,
        "scale": float(scale),
        "channel": channel,
        "recipe": prediction.recipe,
        **step_geometry(model, model.architecture.head),
    }
    probabilities = {head: values.numpy() for head, values in zip(prediction.heads, prediction.probabilities)}
    return write_categories_file(
        output_path(path, CATEGORY_SUFFIX), probabilities, attrs, prediction.samples, prediction.repeats
    )


def run_predictions(
    model: SoundNet,
    paths: Sequence[str],
    *,
    categories: str | Path | None = None,
    classes_file: str | Path | None = None,
    top_k: int = 5,
    fmt: str = "table",
    write_h5: bool = False,
    channel: str = "first",
    scale: float = INPUT_SCALE,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> bool:
    """Predict every file in turn; `echo` the table/CSV as it goes and JSON at the end; False when one failed."""
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
    block = default_chunk_samples(model, model.architecture.head)
    records, ok = [], True
    if fmt == "csv":
        echo(",".join(CSV_HEADER))
    for path in paths:
        try:
            blocks = iter_audio_blocks(path, block, channel=channel, scale=scale)
            prediction = predict_blocks(model, blocks, categories=categories, classes_file=classes_file)
        except (ValueError, OSError, RuntimeError) as error:
            warn(f"Error: {one_line(error)}")
            ok = False
            continue
        if write_h5:
            write_prediction_file(path, model, prediction, scale, channel)
        if fmt == "json":
            records.append(prediction_record(path, prediction, top_k))
        elif fmt == "csv":
            echo(csv_rows(path, prediction, top_k).rstrip("\n"))
        else:
            echo(format_table(path, prediction, top_k))
    if fmt == "json":
        echo(json.dumps(records, indent=2, allow_nan=False))  # NaN is not JSON: never emitted
    return ok
