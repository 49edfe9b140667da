"""Commands that run a model on audio: predict, extract, merge."""
from __future__ import annotations

import sys

import click

from .options import MODEL_HELP, with_audio_options, with_runtime_options


@click.command()
@click.argument("audio", nargs=-1, required=True)
@click.option("--model", "model_path", required=True, help=MODEL_HELP)
@click.option("--categories-dir", type=click.Path(file_okay=False, exists=True),
              help="Folder with categories_imagenet.txt and categories_places2.txt (default: names in the model file).")
@click.option("--top", "top_k", default=5, show_default=True, type=click.IntRange(min=1), help="Classes per step and head.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--write-h5", is_flag=True, help="Also write <audio>.soundnet_categories.h5 (object, scene: 1 x C x T x 1).")
@with_audio_options
@with_runtime_options
def predict(audio, model_path, categories_dir, top_k, fmt, write_h5, channel, scale, device, dtype) -> None:
    """Top objects and scenes of each conv8 step (one per ~3 s), and the middle-step summary the original printed.

    Clips shorter than 10 s are tiled to 10 s as the original did (the output says so). A file that
    cannot be read gets one error line; the others are still predicted, and the exit status is 1.

    \b
    Examples:
      soundnet predict clip.wav --model example
      soundnet predict a.mp3 b.flac --model soundnet8.safetensors --top 3 --format json --write-h5
    """
    from .audio_runs import run_predict

    if not run_predict(audio, model_path, categories_dir, top_k, fmt, write_h5, channel, scale, device, dtype):
        sys.exit(1)


@click.command(name="extract")
@click.argument("audio", nargs=-1)
@click.option("--list", "list_file", type=click.Path(dir_okay=False), help="Text file with one audio path per line.")
@click.option("--model", "model_path", required=True, help=MODEL_HELP)
@click.option("--layer", default="24", show_default=True, help="Torch index (1-24) or name; 24 = conv7 after ReLU.")
@click.option("--pool", type=click.Choice(["none", "mean", "max"]), default="none", show_default=True,
              help="Pool the features over time (C x T -> C).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write <audio>.soundnet.h5 files under this folder.")
@click.option("--h5", "h5_path", type=click.Path(dir_okay=False), help="Write one consolidated HDF5 file instead.")
@click.option("--force", is_flag=True, help="Recompute outputs that already exist.")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1), help="Equal-length clips per forward.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=0), help="Decoding processes (0: decode inline).")
@click.option("--shard", help="K/N: this job's part of the list (K from 0); default RANK/WORLD_SIZE from torchrun.")
@click.option("--strict", is_flag=True, help="Abort at the first unreadable file instead of skipping it.")
@with_audio_options
@with_runtime_options
def extract_command(audio, list_file, model_path, layer, pool, out_dir, h5_path, force, batch_size, workers, shard,
                    strict, channel, scale, device, dtype) -> None:
    """Features of one layer per audio file, as extract_feat.lua: <audio>.soundnet.h5 with dataset layer<N> (C x T).

    Finished outputs are skipped (so a killed job resumes) unless --force; broken files are reported
    and skipped, and the exit status is 1 when any failed. With --h5 and --shard, shard K writes
    NAME.shard-K-of-N.h5; join them with soundnet merge.

    \b
    Examples:
      soundnet extract clip.wav --model example --layer 24
      soundnet extract --list files.txt --model soundnet8.t7 --pool mean --h5 features.h5 --shard 0/4
    """
    from .audio_runs import run_extract

    if not run_extract(audio, list_file, model_path, layer, pool, out_dir, h5_path, force, batch_size, workers,
                       shard, strict, channel, scale, device, dtype):
        sys.exit(1)


@click.command()
@click.argument("target", metavar="OUT.h5", type=click.Path(dir_okay=False))
@click.argument("parts", metavar="PART.h5...", nargs=-1, required=True)
def merge(target: str, parts: tuple[str, ...]) -> None:
    """Merge consolidated feature files (e.g. the shards of soundnet extract --h5 --shard) into one.

    \b
    Example:
      soundnet merge features.h5 features.shard-0-of-2.h5 features.shard-1-of-2.h5
    """
    from ..jobs.feature_files import merge_consolidated

    clips = merge_consolidated(target, parts)
    click.echo(f"{target}: {clips} clips from {len(parts)} file(s)")
