"""Commands that evaluate and visualise a model: evaluate (linear SVM protocol), visualize filters|units."""

from __future__ import annotations

from pathlib import Path

import click

from ..evaluation.protocol import DEFAULT_C, DEFAULT_LAYER, DEFAULT_SCALE
from ..evaluation.visualize import DEFAULT_TOP, DEFAULT_UNITS, DEFAULT_UNITS_LAYER
from ..model.architecture import INPUT_SCALE
from .options import load_model, model_option, with_runtime_options


@click.command()
@click.argument("esc50_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@model_option
@click.option(
    "--train",
    "train_lists",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A `path label` list of training clips; repeat with --test for several folds.",
)
@click.option(
    "--test",
    "test_lists",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The `path label` list of test clips paired with each --train.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the list paths are relative to (default: each list's folder).",
)
@click.option(
    "--layer",
    default=str(DEFAULT_LAYER),
    show_default=True,
    help="Torch index or name of the feature layer; 18 = pool5, the paper's best layer on ESC-50 "
    "(extract's 24 is extract_feat.lua's default).",
)
@click.option("--window", default=1.0, show_default=True, help="Time window in seconds (ESC-50: 1, DCASE: 5).")
@click.option("-C", "--svm-c", "svm_c", default=DEFAULT_C, show_default=True, help="The linear SVM's C.")
@click.option(
    "--scale",
    default=DEFAULT_SCALE,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Input scale; 512 because the evaluation scripts read audio at 2^-22 (the other scripts: 256).",
)
@click.option(
    "--keep-negative", is_flag=True, help="Keep negative features (the original's liblinear input dropped them)."
)
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HDF5 feature cache [default: OUT/features.h5].",
)
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for evaluation.json and confusion.png.",
)
@with_runtime_options
def evaluate(
    esc50_dir,
    model_path,
    train_lists,
    test_lists,
    root,
    layer,
    window,
    svm_c,
    scale,
    keep_negative,
    cache_path,
    batch_size,
    out_dir,
    device,
    dtype,
) -> None:
    """Linear-SVM accuracy of one layer's features, as the paper measured ESC-50 and DCASE.

    Give an ESC-50 folder (leave-one-fold-out over its folds) or --train/--test list pairs (one fold each).

    \b
    Examples:
      soundnet evaluate ESC-50-master --model soundnet8.safetensors --out results/
      soundnet evaluate --model example --train train1.txt --test test1.txt --window 5 --out results/
    """
    from ..evaluation import protocol

    folds, names = protocol.folds_of(esc50_dir, train_lists, test_lists, root)
    results = protocol.evaluate(
        load_model(model_path, device, dtype),
        folds,
        layer=layer,
        window=window,
        c=svm_c,
        scale=scale,
        cache_path=cache_path or out_dir / "features.h5",
        batch_size=batch_size,
        positive_only=not keep_negative,
        class_names=names,
    )
    report, figure = protocol.write_report(results, out_dir)
    for line in protocol.summary_lines(results):
        click.echo(line)
    click.echo(f"wrote {report} and {figure}")


@click.group()
def visualize() -> None:
    """Pictures and sounds of what a model learned, as the paper showed them.

    \b
    Examples:
      soundnet visualize filters --model example --out conv1.png
      soundnet visualize units --model example --list clips.txt --layer relu7 --out units/
    """


@visualize.command()
@model_option
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option(
    "--dpi",
    default=100,
    show_default=True,
    type=click.IntRange(min=20, max=600),
    help="Pixels per inch of the 12 in wide figure.",
)
def filters(model_path, out_path, dpi) -> None:
    """conv1's kernels sorted by peak frequency: a heatmap of the bank, each kernel beside its magnitude response.

    \b
    Examples:
      soundnet visualize filters --model soundnet8.safetensors --out conv1.png
      soundnet visualize filters --model example --out conv1.png
    """
    from ..evaluation.visualize import filters_figure
    from ..outputs import save_figure

    click.echo(f"wrote {save_figure(filters_figure(load_model(model_path)), out_path, dpi)}")


@visualize.command()
@model_option
@click.option(
    "--list",
    "list_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Clips, one path per line, optionally followed by a label (shown, and scored as purity).",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the list paths are relative to (default: the list's folder).",
)
@click.option(
    "--layer",
    default=DEFAULT_UNITS_LAYER,
    show_default=True,
    help="Torch index or name of the layer; conv7 (22) is the layer whose units the paper's figure shows.",
)
@click.option(
    "--units", "unit_text", default=DEFAULT_UNITS, show_default=True, help="0-based units, e.g. '3,17,40-42', or 'all'."
)
@click.option(
    "--top", default=DEFAULT_TOP, show_default=True, type=click.IntRange(min=1), help="Segments kept per unit."
)
@click.option(
    "--scale",
    default=INPUT_SCALE,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Input scale (256: the original scripts' 2^-23).",
)
@click.option(
    "--categories-dir",
    type=click.Path(file_okay=False, exists=True),
    help="Folder with categories_imagenet.txt and categories_places2.txt (default: names in the model file).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for index.html, ranking.json and segments/.",
)
def units(model_path, list_file, root, layer, unit_text, top, scale, categories_dir, out_dir) -> None:
    """A page of the sounds that excite each unit most: spectrograms, players, concepts, a sortable index.

    One chunked pass over the clips keeps a running top-k per unit, so thousands of clips need little
    memory; then the clips that made a top list are decoded again to cut their segments.

    \b
    Example:
      soundnet visualize units --model soundnet8.safetensors --list clips.txt --layer relu7 --out units/
    """
    from ..evaluation.unit_page import visualize_units

    line, _, _ = visualize_units(
        load_model(model_path),
        list_file,
        out_dir,
        root=root,
        layer=layer,
        units=unit_text,
        top=top,
        scale=scale,
        categories=categories_dir,
    )
    click.echo(line)
