"""Commands that evaluate and visualise a model: evaluate (linear SVM protocol), visualize filters|units."""
from __future__ import annotations

from pathlib import Path

import click

from .options import with_runtime_options


@click.command()
@click.argument("esc50_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", "model_path", required=True, help="Model file (.t7/.safetensors/.pth/.h5) or 'example'.")
@click.option("--train", "train_lists", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A `path label` list of training clips; repeat with --test for several folds.")
@click.option("--test", "test_lists", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The `path label` list of test clips paired with each --train.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder the list paths are relative to (default: each list's folder).")
@click.option("--layer", default="18", show_default=True, help="Torch index or name of the feature layer (18 = pool5).")
@click.option("--window", default=1.0, show_default=True, help="Time window in seconds (ESC-50: 1, DCASE: 5).")
@click.option("-C", "--svm-c", "svm_c", default=0.01, show_default=True, help="The linear SVM's C.")
@click.option("--scale", default=512.0, show_default=True,
              help="Input scale; 512 is the evaluation scripts' 2^-22, 256 the other scripts'.")
@click.option("--keep-negative", is_flag=True,
              help="Keep negative features (the original's liblinear input dropped them).")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path),
              help="HDF5 feature cache [default: OUT/features.h5].")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for evaluation.json and confusion.png.")
@with_runtime_options
def evaluate(esc50_dir, model_path, train_lists, test_lists, root, layer, window, svm_c, scale, keep_negative,
             cache_path, batch_size, out_dir, device, dtype) -> None:
    """Linear-SVM accuracy of one layer's features, as the paper measured ESC-50 and DCASE.

    Give an ESC-50 folder (leave-one-fold-out over its folds) or --train/--test list pairs (one fold each).

    \b
    Examples:
      soundnet evaluate ESC-50-master --model soundnet8.safetensors --out results/
      soundnet evaluate --model example --train train1.txt --test test1.txt --window 5 --out results/
    """
    from ..evaluation import protocol

    if bool(esc50_dir) == bool(train_lists):
        raise ValueError("give either an ESC-50 folder or --train/--test lists, not both or neither")
    if len(train_lists) != len(test_lists):
        raise ValueError(f"--train and --test must pair up: got {len(train_lists)} and {len(test_lists)}")
    names: dict[str, str] = {}
    if esc50_dir:
        folds, names = protocol.esc50_folds(esc50_dir)
    else:
        folds = protocol.list_folds(list(zip(train_lists, test_lists)), root)
    results = protocol.evaluate(model_path, folds, layer=layer, window=window, c=svm_c, scale=scale,
                                cache_path=cache_path or out_dir / "features.h5", batch_size=batch_size,
                                positive_only=not keep_negative, class_names=names, device=device, dtype=dtype)
    report, figure = protocol.write_report(results, out_dir)
    for fold in results["folds"]:
        click.echo(f"fold {fold['fold']}: accuracy {fold['accuracy']:.4f} ({fold['test_clips']} test clips)")
    click.echo(f"mean accuracy {results['mean_accuracy']:.4f} over {len(results['folds'])} fold(s); "
               f"features computed {results['features']['computed']}, reused {results['features']['reused']}")
    click.echo(f"wrote {report} and {figure}")


@click.group()
def visualize() -> None:
    """Pictures and sounds of what a model learned, as the paper showed them.

    \b
    Examples:
      soundnet visualize filters example --out conv1.png
      soundnet visualize units example --list clips.txt --layer conv7 --top 9 --out units/
    """


@visualize.command()
@click.argument("model_path", metavar="MODEL")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
def filters(model_path, out_path) -> None:
    """conv1's kernels in the time domain (a grid) and their frequency responses.

    \b
    Example:
      soundnet visualize filters soundnet8.safetensors --out conv1.png
      soundnet visualize filters example --out conv1.png
    """
    from ..formats.loading import load
    from ..outputs import save_figure
    from ..evaluation.visualize import filters_figure

    click.echo(f"wrote {save_figure(filters_figure(load(model_path)), out_path)}")


@visualize.command()
@click.argument("model_path", metavar="MODEL")
@click.option("--list", "list_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Clips, one path per line (a label column is ignored).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder the list paths are relative to (default: the list's folder).")
@click.option("--layer", default="conv7", show_default=True, help="Torch index or name of the layer.")
@click.option("--units", "unit_text", default="0-5", show_default=True, help="0-based units, e.g. '3,17,40-42'.")
@click.option("--top", default=9, show_default=True, type=click.IntRange(min=1), help="Clips kept per unit.")
@click.option("--scale", default=256.0, show_default=True, help="Input scale (the original scripts' 2^-23).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for index.html, ranking.json and segments/.")
def units(model_path, list_file, root, layer, unit_text, top, scale, out_dir) -> None:
    """The clips and time offsets that excite chosen units most: an HTML page to listen, and a JSON ranking.

    One pass over the clips with a running top-k per unit, so thousands of clips need little memory.

    \b
    Example:
      soundnet visualize units soundnet8.safetensors --list clips.txt --layer conv7 --top 9 --out units/
    """
    from ..jobs.clip_lists import read_list
    from ..formats.loading import load
    from ..evaluation.unit_page import write_unit_report
    from ..evaluation.visualize import layer_channels, parse_units, rank_units

    model = load(model_path)
    spec = model.architecture.layer(layer)
    chosen = parse_units(unit_text, layer_channels(model, spec))
    paths = [clip.path for clip in read_list(list_file, root, need_labels=False)]
    ranking = rank_units(model, paths, spec, chosen, top, scale)
    summary = {"model": str(model_path), "architecture": model.name, "layer": {"index": spec.index, "name": spec.name},
               "scale": scale, "top": top, "units": chosen, "clips": len(paths)}
    report, html_page = write_unit_report(ranking, paths, model.architecture.receptive_field(spec), scale,
                                          out_dir, summary, spec)
    click.echo(f"ranked {len(paths)} clips for {len(chosen)} units; wrote {html_page} and {report}")
