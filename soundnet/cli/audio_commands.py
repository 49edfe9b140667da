"""Commands that run a model on audio: predict, extract, merge."""

from __future__ import annotations

import sys

import click

from ..inference.features import DEFAULT_LAYER, POOLS
from ..jobs.feature_files import FEATURE_FORMATS
from ..jobs.prediction import OUTPUT_FORMATS
from .options import load_model, model_option, with_audio_options, with_runtime_options


@click.command()
@click.argument("audio", nargs=-1, required=True)
@model_option
@click.option(
    "--categories-dir",
    type=click.Path(file_okay=False, exists=True),
    help="Folder with categories_imagenet.txt and categories_places2.txt (default: names in the model file).",
)
@click.option(
    "--classes",
    "classes_file",
    type=click.Path(dir_okay=False, exists=True),
    help="A fine-tuned model's class names, one per line (default: names in the model file, as "
    "finetune saves them, also in OUT/classes.txt).",
)
@click.option(
    "--top", "top_k", default=5, show_default=True, type=click.IntRange(min=1), help="Classes per step and head."
)
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=OUTPUT_FORMATS[0], show_default=True)
@click.option(
    "--write-h5",
    is_flag=True,
    help="Also write <audio>.soundnet_categories.h5 (each head 1 x C x T x 1, step times, settings).",
)
@with_audio_options
@with_runtime_options
def predict(
    audio, model_path, categories_dir, classes_file, top_k, fmt, write_h5, channel, scale, device, dtype
) -> None:
    """Top classes of each output step and a summary line per file.

    A teacher model (objects and scenes, one step per ~3 s) follows extract_predictions.lua: clips shorter
    than 10 s are tiled to 10 s, and the summary is the middle step's top object and scene. A fine-tuned
    model follows main_finetune.lua: clips shorter than its 5 s crops are tiled as fine-tuning tiled them,
    and the summary is the clip's decision. A file that cannot be read gets one error line; the others
    are still predicted, and the exit status is 1.

    \b
    Examples:
      soundnet predict clip.wav --model example
      soundnet predict a.mp3 b.flac --model soundnet8.safetensors --top 3 --format json --write-h5
      soundnet predict clip.wav --model ft/model.safetensors --classes ft/classes.txt
    """
    from ..jobs.prediction import run_predictions

    if not run_predictions(
        load_model(model_path, device, dtype),
        audio,
        categories=categories_dir,
        classes_file=classes_file,
        top_k=top_k,
        fmt=fmt,
        write_h5=write_h5,
        channel=channel,
        scale=scale,
        echo=click.echo,
        warn=lambda line: click.echo(line, err=True),
    ):
        sys.exit(1)


@click.command(name="extract")
@click.argument("audio", nargs=-1)
@click.option(
    "--list",
    "list_file",
    type=click.Path(dir_okay=False),
    help="Text file with one audio path per line (relative to the list's folder; a label column is ignored).",
)
@model_option
@click.option(
    "--layer",
    default=str(DEFAULT_LAYER),
    show_default=True,
    help="Torch index (1-25) or name; 24 = conv7 after ReLU, extract_feat.lua's default.",
)
@click.option(
    "--pool",
    type=click.Choice(POOLS),
    default=POOLS[0],
    show_default=True,
    help="Pool the features over time (C x T -> C).",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Write <audio>.soundnet.h5 files under this folder."
)
@click.option("--h5", "h5_path", type=click.Path(dir_okay=False), help="Write one consolidated HDF5 file instead.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FEATURE_FORMATS)),
    default="h5",
    show_default=True,
    help="Per-file outputs as HDF5 (<audio>.soundnet.h5) or NumPy (<audio>.soundnet.npz).",
)
@click.option("--force", is_flag=True, help="Recompute outputs that already exist with the same settings.")
@click.option(
    "--batch-size", default=16, show_default=True, type=click.IntRange(min=1), help="Equal-length clips per forward."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=0), help="Decoding processes (0: decode inline)."
)
@click.option("--shard", help="K/N: this job's part of the list (K from 0); default RANK/WORLD_SIZE from torchrun.")
@click.option("--strict", is_flag=True, help="Abort at the first unreadable file instead of skipping it.")
@with_audio_options
@with_runtime_options
def extract_command(
    audio,
    list_file,
    model_path,
    layer,
    pool,
    out_dir,
    h5_path,
    fmt,
    force,
    batch_size,
    workers,
    shard,
    strict,
    channel,
    scale,
    device,
    dtype,
) -> None:
    """Features of one layer per audio file, as extract_feat.lua: <audio>.soundnet.h5 with dataset layer<N> (C x T).

    Each file also records the model (name, sha256), layer, scale, hop and each step's time. Finished
    outputs made with the same settings are skipped (so a killed job resumes); outputs made with another
    model, layer, scale, channel or pool are recomputed; --force recomputes all. Broken files are
    reported and skipped, and the exit status is 1 when any failed. With --h5 and --shard, shard K
    writes NAME.shard-K-of-N.h5; join them with soundnet merge.

    \b
    Examples:
      soundnet extract clip.wav --model example --layer 24
      soundnet extract --list files.txt --model soundnet8.t7 --pool mean --h5 features.h5 --shard 0/4
    """
    from ..jobs.extraction import Decoding, run_extraction

    if not run_extraction(
        load_model(model_path, device, dtype),
        list(audio),
        list_file,
        shard=shard,
        echo=click.echo,
        warn=lambda line: click.echo(line, err=True),
        layer=layer,
        pool=pool,
        out_dir=out_dir,
        h5=h5_path,
        fmt=fmt,
        force=force,
        batch_size=batch_size,
        workers=workers,
        strict=strict,
        decoding=Decoding(channel, scale),
    ):
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
