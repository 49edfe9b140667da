"""The unit visualisation's outputs: a WAV per top segment, a JSON ranking and an HTML page to listen.

Segments are the receptive field of the peak time step (widened to MIN_SEGMENT_SECONDS when shorter,
so early layers stay audible), cut from the waveform the net heard, divided by the input scale and
written as 16-bit PCM. The page is static (no scripts) and links the WAVs relatively, so the folder can
be moved or served as it is.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from ..model.architecture import SAMPLE_RATE, Layer, ReceptiveField
from ..atomic import atomic_path
from ..outputs import write_json
from ..formats.loading import model_label
from ..jobs.clip_lists import read_list
from ..model.architecture import INPUT_SCALE
from ..model.network import SoundNet
from .visualize import (DEFAULT_TOP, DEFAULT_UNITS, DEFAULT_UNITS_LAYER, MIN_SEGMENT_SECONDS, Hit, heard_span,
                        layer_channels, parse_units, rank_units)


def segment_span(field: ReceptiveField, step: int, length: int, minimum: int = 0) -> tuple[int, int]:
    """The step's input window, widened about its centre to `minimum` samples, clipped to [0, length)."""
    begin, end = field.window(step)
    if end - begin < minimum:
        centre = (begin + end) // 2
        begin, end = centre - minimum // 2, centre + (minimum + 1) // 2
    return max(0, begin), min(length, end)


def write_segments(ranking: dict[int, list[Hit]], paths: Sequence[Path], field: ReceptiveField, scale: float,
                   out_dir: Path) -> list[dict]:
    """Write every ranked segment under out_dir/segments (each clip decoded once); one record per hit."""
    records = [{"unit": unit, "rank": rank, "hit": hit}
               for unit, hits in ranking.items() for rank, hit in enumerate(hits, 1)]
    for record in records:
        clip = record["hit"].clip
        begin, end = segment_span(field, record["hit"].step, 2**62, int(MIN_SEGMENT_SECONDS * SAMPLE_RATE))
        segment = heard_span(paths[clip], scale, begin, end).numpy()  # only the span is decoded and kept
        end = begin + len(segment)
        name = f"segments/unit{record['unit']}_rank{record['rank']}.wav"
        with atomic_path(out_dir / name) as tmp:
            sf.write(tmp, np.clip(segment / scale, -1, 1), SAMPLE_RATE, subtype="PCM_16", format="WAV")
        record.update(clip_index=clip, clip=str(paths[clip]), audio=name,
                      start_s=begin / SAMPLE_RATE, end_s=end / SAMPLE_RATE)
    return [{"rank": r["rank"], "unit": r["unit"], "clip": r["clip"], "clip_index": r["clip_index"],
             "step": r["hit"].step, "activation": r["hit"].activation, "start_s": round(r["start_s"], 4),
             "end_s": round(r["end_s"], 4), "audio": r["audio"]} for r in records]


def page(title: str, entries: list[dict]) -> str:
    """A static HTML page: per unit, a table of its top segments, each with an audio player."""
    sections = []
    for unit in dict.fromkeys(entry["unit"] for entry in entries):
        rows = "\n".join(
            f"<tr><td>{e['rank']}</td><td>{html.escape(Path(e['clip']).name)}</td>"
            f"<td>{e['start_s']:.2f}&ndash;{e['end_s']:.2f} s</td><td>{e['activation']:.4g}</td>"
            f"<td><audio controls preload=\"metadata\" src=\"{html.escape(e['audio'])}\"></audio></td></tr>"
            for e in entries if e["unit"] == unit)
        sections.append(f"<h2>unit {unit}</h2>\n<table>\n<tr><th>rank</th><th>clip</th><th>segment</th>"
                        f"<th>peak activation</th><th>listen</th></tr>\n{rows}\n</table>")
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<link rel=\"icon\" href=\"data:,\">\n"
            f"<title>{html.escape(title)}</title>\n<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;"
            f"text-align:left}}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n")


def write_unit_report(ranking: dict[int, list[Hit]], paths: Sequence[Path], field: ReceptiveField, scale: float,
                      out_dir: str | Path, summary: dict, layer: Layer) -> tuple[Path, Path]:
    """Segments, `ranking.json` (summary + every hit) and `index.html` in out_dir."""
    out_dir = Path(out_dir)
    entries = write_segments(ranking, paths, field, scale, out_dir)
    write_json(out_dir / "ranking.json", {**summary, "receptive_field": vars(field), "hits": entries})
    title = f"{summary['architecture']} {layer.name} (layer {layer.index}): the clips that excite each unit most"
    with atomic_path(out_dir / "index.html") as tmp:
        tmp.write_text(page(title, entries), encoding="utf-8")
    return out_dir / "ranking.json", out_dir / "index.html"


def visualize_units(model: SoundNet, list_file: str | Path, out_dir: str | Path, *, root: str | Path | None = None,
                    layer: int | str = DEFAULT_UNITS_LAYER, units: str = DEFAULT_UNITS, top: int = DEFAULT_TOP,
                    scale: float = INPUT_SCALE) -> tuple[str, Path, Path]:
    """Rank the listed clips for the chosen units of `layer` and write the page; (summary line, json, html)."""
    spec = model.architecture.layer(layer)
    chosen = parse_units(units, layer_channels(model, spec))
    paths = [clip.path for clip in read_list(list_file, root, labels="ignored")]
    ranking = rank_units(model, paths, spec, chosen, top, scale)
    summary = {"model": model_label(model), "architecture": model.name,
               "layer": {"index": spec.index, "name": spec.name}, "scale": scale, "top": top, "units": chosen,
               "clips": len(paths)}
    report, html_page = write_unit_report(ranking, paths, model.architecture.receptive_field(spec), scale, out_dir,
                                          summary, spec)
    return f"ranked {len(paths)} clips for {len(chosen)} units; wrote {html_page} and {report}", report, html_page
