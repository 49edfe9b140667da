"""The bodies of `soundnet predict` and `soundnet extract`: options in, files and lines out.

Kept out of cli.py so the click layer stays declarations; each returns False when some file failed.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..audio import iter_audio_blocks
from ..inference.chunked import default_chunk_samples
from ..errors import one_line
from ..jobs.extraction import Decoding, JobReport, extract_files, parse_shard, read_path_list, shard_target
from ..jobs.feature_files import CATEGORY_SUFFIX, output_path, write_categories_file
from ..formats.loading import file_sha256, load
from ..inference.predict import predict_blocks
from ..inference.report import CSV_HEADER, csv_rows, format_table, prediction_record


def run_predict(audio: tuple[str, ...], model_path: str, categories_dir: str | None, top_k: int, fmt: str,
                write_h5: bool, channel: str, scale: float) -> bool:
    """Predict every file in turn; print table/CSV as it goes and JSON at the end."""
    model = load(model_path)
    block = default_chunk_samples(model, model.architecture.head)
    records, ok = [], True
    if fmt == "csv":
        click.echo(",".join(CSV_HEADER))
    for path in audio:
        try:
            blocks = iter_audio_blocks(path, block, channel=channel, scale=scale)
            prediction = predict_blocks(model, blocks, categories=categories_dir)
        except (ValueError, OSError, RuntimeError) as error:
            click.echo(f"Error: {one_line(error)}", err=True)
            ok = False
            continue
        if write_h5:
            write_categories_file(output_path(path, CATEGORY_SUFFIX), prediction.objects.numpy(),
                                  prediction.scenes.numpy())
        if fmt == "json":
            records.append(prediction_record(path, prediction, top_k))
        elif fmt == "csv":
            click.echo(csv_rows(path, prediction, top_k), nl=False)
        else:
            click.echo(format_table(path, prediction, top_k))
    if fmt == "json":
        click.echo(json.dumps(records, indent=2, allow_nan=False))  # NaN is not JSON: never emitted
    return ok


def run_extract(audio: tuple[str, ...], list_file: str | None, model_path: str, layer: str, pool: str,
                out_dir: str | None, h5_path: str | None, force: bool, batch_size: int, workers: int,
                shard: str | None, strict: bool, channel: str, scale: float) -> bool:
    """Run the extraction job over the files or the list, then print a summary and each failure."""
    if bool(audio) == bool(list_file):
        raise ValueError("give audio files or --list FILE (not both)")
    paths = list(audio) if audio else read_path_list(list_file)
    k, n = parse_shard(shard)
    model = load(model_path)
    report = extract_files(model, paths, layer=layer, pool=pool, out_dir=out_dir, h5=h5_path, force=force,
                           batch_size=batch_size, workers=workers, shard=(k, n), strict=strict,
                           decoding=Decoding(channel, scale), model_id=file_sha256(model, model_path))
    where = shard_target(h5_path, k, n) if h5_path else (Path(out_dir) if out_dir else "beside the audio")
    click.echo(_summary(report, n, k, where))
    for _, message in report.failures:
        click.echo(f"Error: {message}", err=True)
    return not report.failures


def _summary(report: JobReport, n: int, k: int, where) -> str:
    part = f" (shard {k}/{n})" if n > 1 else ""
    line = (f"{report.written} written, {report.skipped} skipped, {len(report.failures)} failed of "
            f"{report.total} file(s){part} -> {where}")
    if report.written:
        rate = report.audio_seconds / max(report.wall_seconds, 1e-9)
        line += f"; {report.audio_seconds:.1f} s of audio in {report.wall_seconds:.1f} s ({rate:.0f}x real time)"
    return line
