"""Predictions as text: an aligned table, JSON records or CSV rows, each with the original's summary."""
from __future__ import annotations

import csv
import io
from typing import Any

from .predict import Prediction, Ranked

CSV_HEADER = ("path", "step", "start_s", "end_s", "head", "rank", "index", "name", "probability")


def _clip_line(path: str, prediction: Prediction) -> str:
    seconds = prediction.seconds
    line = f"{path}: {seconds:.2f} s, {prediction.steps} step(s)"
    if prediction.tiled:
        line += (f"; shorter than 10 s, so tiled x{prediction.repeats} to "
                 f"{seconds * prediction.repeats:.2f} s as the original did")
    return line


def summary_line(path: str, prediction: Prediction) -> str:
    """What extract_predictions.lua printed: the top object and scene at the middle step."""
    obj, scene = prediction.summary()
    return (f"{path}: middle step {prediction.middle_step + 1}/{prediction.steps}: "
            f"object {obj.label} ({obj.probability:.3f}), scene {scene.label} ({scene.probability:.3f})")


def format_table(path: str, prediction: Prediction, k: int) -> str:
    """One row per step and rank: the window, then the object and scene of that rank."""
    rows = [("step", "time (s)", "rank", "p", "object", "p", "scene")]
    for step in range(prediction.steps):
        start, end = prediction.window_seconds(step)
        for rank, (obj, scene) in enumerate(zip(*prediction.top(step, k)), 1):
            first = rank == 1
            rows.append((str(step + 1) if first else "", f"{start:.2f}-{end:.2f}" if first else "", str(rank),
                         f"{obj.probability:.3f}", obj.label, f"{scene.probability:.3f}", scene.label))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([_clip_line(path, prediction), *lines, summary_line(path, prediction)])


def _ranked_record(item: Ranked) -> dict[str, Any]:
    return {"index": item.index, "name": item.label, "category": item.name, "probability": item.probability}


def prediction_record(path: str, prediction: Prediction, k: int) -> dict[str, Any]:
    """A JSON-ready record: the clip, every step's top-k of both heads, and the middle-step summary."""
    steps = []
    for step in range(prediction.steps):
        start, end = prediction.window_seconds(step)
        objects, scenes = prediction.top(step, k)
        steps.append({"step": step + 1, "start_s": start, "end_s": end,
                      "objects": [_ranked_record(item) for item in objects],
                      "scenes": [_ranked_record(item) for item in scenes]})
    obj, scene = prediction.summary()
    return {"path": path, "seconds": prediction.seconds, "tiled": prediction.tiled,
            "tile_repeats": prediction.repeats, "steps": steps,
            "summary": {"step": prediction.middle_step + 1, "object": _ranked_record(obj),
                        "scene": _ranked_record(scene)}}


def csv_rows(path: str, prediction: Prediction, k: int) -> str:
    """CSV_HEADER rows (without the header) for every step, head and rank; steps count from 1."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for step in range(prediction.steps):
        start, end = prediction.window_seconds(step)
        for head, ranked in zip(("object", "scene"), prediction.top(step, k)):
            for rank, item in enumerate(ranked, 1):
                writer.writerow((path, step + 1, f"{start:.3f}", f"{end:.3f}", head, rank, item.index, item.label,
                                 f"{item.probability:.6g}"))
    return buffer.getvalue()
