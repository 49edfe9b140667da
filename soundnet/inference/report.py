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
        line += f"; tiled x{prediction.repeats} to {seconds * prediction.repeats:.2f} s as {prediction.recipe} did"
    return line


def summary_line(path: str, prediction: Prediction) -> str:
    """Teacher: what extract_predictions.lua printed (the middle step's top object and scene); fine-tuned:
    the clip's decision."""
    if prediction.is_classifier:
        best = prediction.decision(1)[0]
        return f"{path}: clip decision over {prediction.steps} step(s): {best.label} ({best.probability:.3f})"
    parts = ", ".join(
        f"{head} {item.label} ({item.probability:.3f})" for head, item in zip(prediction.heads, prediction.summary())
    )
    return f"{path}: middle step {prediction.middle_step + 1}/{prediction.steps}: {parts}"


def format_table(path: str, prediction: Prediction, k: int) -> str:
    """One row per step and rank: the window, then each head's class of that rank."""
    header = ["step", "time (s)", "rank"]
    for head in prediction.heads:
        header += ["p", head]
    rows = [tuple(header)]
    for step in range(prediction.steps):
        start, end = prediction.window_seconds(step)
        for rank, items in enumerate(zip(*prediction.top(step, k)), 1):
            first = rank == 1
            row = [str(step + 1) if first else "", f"{start:.2f}-{end:.2f}" if first else "", str(rank)]
            for item in items:
                row += [f"{item.probability:.3f}", item.label]
            rows.append(tuple(row))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([_clip_line(path, prediction), *lines, summary_line(path, prediction)])


def _ranked_record(item: Ranked) -> dict[str, Any]:
    return {"index": item.index, "name": item.label, "category": item.name, "probability": item.probability}


def _plural(head: str) -> str:
    return f"{head}es" if head.endswith("s") else f"{head}s"


def prediction_record(path: str, prediction: Prediction, k: int) -> dict[str, Any]:
    """A JSON-ready record: the clip, every step's top-k of each head, and the summary."""
    steps = []
    for step in range(prediction.steps):
        start, end = prediction.window_seconds(step)
        record = {"step": step + 1, "start_s": start, "end_s": end}
        for head, ranked in zip(prediction.heads, prediction.top(step, k)):
            record[_plural(head)] = [_ranked_record(item) for item in ranked]
        steps.append(record)
    if prediction.is_classifier:
        summary = {"steps": prediction.steps, "decision": [_ranked_record(item) for item in prediction.decision(k)]}
    else:
        summary = {
            "step": prediction.middle_step + 1,
            **{head: _ranked_record(item) for head, item in zip(prediction.heads, prediction.summary())},
        }
    return {
        "path": path,
        "seconds": prediction.seconds,
        "tiled": prediction.tiled,
        "tile_repeats": prediction.repeats,
        "recipe": prediction.recipe,
        "steps": steps,
        "summary": summary,
    }


def csv_rows(path: str, prediction: Prediction, k: int) -> str:
    """CSV_HEADER rows (without the header) for every step, head and rank; steps count from 1."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for step in range(prediction.steps):
        start, end = prediction.window_seconds(step)
        for head, ranked in zip(prediction.heads, prediction.top(step, k)):
            for rank, item in enumerate(ranked, 1):
                writer.writerow(
                    (
                        path,
                        step + 1,
                        f"{start:.3f}",
                        f"{end:.3f}",
                        head,
                        rank,
                        item.index,
                        item.label,
                        f"{item.probability:.6g}",
                    )
                )
    return buffer.getvalue()
