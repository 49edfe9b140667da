"""The `soundnet` command: a thin click layer over the library functions.

Every command turns the library's ValueError/OSError family into one `error:` line and exit status 1;
click itself reports bad arguments with exit status 2.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .errors import one_line


class OneLineErrors(click.Group):
    """Run a command; expected failures (bad files, bad arguments, wrong architecture) become one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own control flow (Exit is a RuntimeError in click >= 8.2)
        except FileNotFoundError as error:
            raise click.ClickException(f"no such file: {error.filename or error}") from None
        except (ValueError, OSError, RuntimeError) as error:
            raise click.ClickException(one_line(error)) from None


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="soundnet-t7")
def cli() -> None:
    """SoundNet (Aytar, Vondrick, Torralba 2016) from Torch7 to PyTorch.

    MODEL arguments take .t7, .safetensors, .pth or .h5 files, or `example` (the embedded checkpoint with
    random weights). Every command's --help has more.

    \b
    Examples:
      soundnet demo
      soundnet inspect soundnet8_final.t7
      soundnet convert soundnet8_final.t7 soundnet8.safetensors --categories-dir categories/
      soundnet verify soundnet8.safetensors --reference refs_soundnet8.t7
      soundnet export soundnet8.safetensors soundnet8_roundtrip.t7
      soundnet predict clip.mp3 --model soundnet8.safetensors --top 5
      soundnet extract clips/*.wav --model soundnet8.safetensors --layer 24 --out features/
      soundnet merge all.h5 part.shard-0-of-2.h5 part.shard-1-of-2.h5
      soundnet train --hdf5 teacher.h5 --init soundnet8.safetensors --steps 1000 --out run/
      soundnet finetune --list train.txt --classes 50 --init soundnet8.safetensors --out ft/
      soundnet evaluate ESC-50/ --model soundnet8.safetensors --out esc50/
      soundnet visualize filters soundnet8.safetensors --out conv1.png
      soundnet visualize units soundnet8.safetensors --list clips.txt --layer conv7 --out units/
    """


model_argument = click.argument("model", metavar="MODEL")


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
def inspect(path: str) -> None:
    """Show a model file: module tree with Torch indices, classes, tensor types, storages, architecture.

    \b
    Example:
      soundnet inspect soundnet8_final.t7
    """
    from .inspection import describe

    click.echo(describe(path))


@cli.command(name="convert")
@click.argument("source", metavar="IN")
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["safetensors", "pth", "h5", "t7"]),
              help="Output format (default: from OUT's suffix).")
@click.option("--categories-dir", type=click.Path(file_okay=False, exists=True),
              help="Folder with categories_imagenet.txt and categories_places2.txt to embed.")
@click.option("--categories", "category_files", nargs=2, type=click.Path(dir_okay=False, exists=True),
              help="The object and scene category files, as two paths.")
def convert_command(source: str, target: str, fmt: str | None, categories_dir: str | None,
                    category_files: tuple[str, str] | None) -> None:
    """Convert a model between .t7, .safetensors, .pth and .h5.

    \b
    Example:
      soundnet convert soundnet8_final.t7 soundnet8.safetensors --categories-dir categories/
    """
    from .loading import convert_file

    if categories_dir and category_files:
        raise click.UsageError("give --categories-dir or --categories, not both")
    model = convert_file(source, target, fmt, categories_dir or category_files or None)
    named = " with category names" if model.metadata.get("categories") else ""
    click.echo(f"{source} -> {target}: {model.name}, widths {list(model.widths)}, classes {list(model.classes)}{named}")


@cli.command()
@model_argument
@click.option("--reference", "-r", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Reference activations written by reference_outputs/make_reference.lua.")
@click.option("--tolerance", default=1e-4, show_default=True, help="Max |ours - torch7| / max(1, max |torch7|).")
def verify(model: str, reference: str, tolerance: float) -> None:
    """Compare every layer of MODEL with Torch7's activations; exit 1 when any layer fails.

    \b
    Example:
      soundnet verify soundnet8.safetensors --reference refs_soundnet8.t7
    """
    import convert

    from .loading import load
    from .verify import format_checks, verify_reference

    net = load(model)
    try:
        refs = convert.read_t7(reference)
    except convert.T7FormatError as error:
        raise ValueError(f"{reference}: not a readable Torch7 file: {error}") from None
    checks = verify_reference(net, refs, tolerance)
    click.echo(format_checks(checks))
    if not all(check.ok for check in checks):
        sys.exit(1)


@cli.command()
@model_argument
@click.argument("target", metavar="OUT.t7", type=click.Path(dir_okay=False))
@click.option("--layout", type=click.Choice(["torch", "released"]), default="torch", show_default=True,
              help="torch: nn.* classes and FloatTensor; released: cudnn.* classes and CudaTensor as the GPU-trained files.")
@click.option("--ascii", "ascii_format", is_flag=True, help="Write Torch7's ascii format instead of binary.")
def export(model: str, target: str, layout: str, ascii_format: bool) -> None:
    """Write MODEL back to a Torch7 .t7 with the original module structure.

    \b
    Example:
      soundnet export soundnet8.safetensors soundnet8_roundtrip.t7
    """
    from .loading import load
    from .t7_export import export_t7

    net = load(model)
    export_t7(net, target, layout=layout, fmt="ascii" if ascii_format else "binary")
    click.echo(f"{model} -> {target}: {net.name}, {len(net.architecture.layers) + len(net.architecture.tail)} top-level modules")


@cli.command()
@click.option("--out", "out_dir", default="soundnet-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the converted model, the generated sound and its outputs.")
def demo(out_dir: str) -> None:
    """Convert, verify and predict with the embedded example checkpoint (random weights, no download).

    \b
    Example:
      soundnet demo --out /tmp/soundnet-demo
    """
    from .demo import run_demo

    if not run_demo(out_dir, click.echo):
        sys.exit(1)


@cli.command()
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
def evaluate(esc50_dir, model_path, train_lists, test_lists, root, layer, window, svm_c, scale, keep_negative,
             cache_path, batch_size, out_dir) -> None:
    """Linear-SVM accuracy of one layer's features, as the paper measured ESC-50 and DCASE.

    Give an ESC-50 folder (leave-one-fold-out over its folds) or --train/--test list pairs (one fold each).

    \b
    Examples:
      soundnet evaluate ESC-50-master --model soundnet8.safetensors --out results/
      soundnet evaluate --model example --train train1.txt --test test1.txt --window 5 --out results/
    """
    from . import evaluate as protocol

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
                                positive_only=not keep_negative, class_names=names)
    report, figure = protocol.write_report(results, out_dir)
    for fold in results["folds"]:
        click.echo(f"fold {fold['fold']}: accuracy {fold['accuracy']:.4f} ({fold['test_clips']} test clips)")
    click.echo(f"mean accuracy {results['mean_accuracy']:.4f} over {len(results['folds'])} fold(s); "
               f"features computed {results['features']['computed']}, reused {results['features']['reused']}")
    click.echo(f"wrote {report} and {figure}")


@cli.group()
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
    from .loading import load
    from .outputs import save_figure
    from .visualize import filters_figure

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
    from .clip_lists import read_list
    from .loading import load
    from .unit_page import write_unit_report
    from .visualize import layer_channels, parse_units, rank_units

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


def loop_options(steps: bool):
    """The options `train` and `finetune` share (batch, seed, optimizer, checkpoints, devices, output)."""
    options = [
        click.option("--out", "out_dir", default="runs/soundnet", show_default=True, type=click.Path(file_okay=False),
                     help="Folder for checkpoint.pt, log.jsonl, loss.png and model.safetensors."),
        click.option("--batch-size", default=64, show_default=True, help="Clips per step (over all processes)."),
        click.option("--seed", default=0, show_default=True, help="Seeds initialisation, sampling and crops."),
        click.option("--lr", default=1e-3, show_default=True),
        click.option("--beta1", default=0.9, show_default=True),
        click.option("--optimizer", type=click.Choice(["adam", "adam-pytorch"]), default="adam", show_default=True,
                     help="adam: Torch7's optim.adam formula; adam-pytorch: torch.optim.Adam."),
        click.option("--checkpoint-every", default=0, show_default=True,
                     help="Write checkpoint.pt every K steps (and always at the end)."),
        click.option("--resume", type=click.Path(dir_okay=False), help="Continue from this checkpoint.pt."),
        click.option("--workers", default=2, show_default=True, help="DataLoader processes decoding audio."),
        click.option("--device", default="cpu", show_default=True, help="cpu or cuda (one GPU per torchrun rank)."),
        click.option("--bf16", is_flag=True, help="bf16 autocast (GPU only)."),
        click.option("--export", type=click.Path(dir_okay=False),
                     help="Also write the trained model here (.safetensors, .pth, .h5 or .t7)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    if steps:
        options.append(click.option("--steps", default=100, show_default=True, help="Optimizer steps in total."))

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def _settings(options: dict):
    from .loop import LoopSettings

    resume, export = options.pop("resume"), options.pop("export")
    return LoopSettings(out_dir=Path(options.pop("out_dir")), show_progress=not options.pop("quiet"),
                        resume=Path(resume) if resume else None, export=Path(export) if export else None, **options)


def _report(result) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for all
        return
    loss = "n/a" if result.loss is None else f"{result.loss:.5f}"
    click.echo(f"step {result.step}: loss {loss}; model, checkpoint, log.jsonl and loss.png in {result.out_dir}")


@cli.command()
@click.option("--list", "frame_list", type=click.Path(dir_okay=False),
              help="Original layout: text list of frames (needs --objects and --scenes).")
@click.option("--objects", type=click.Path(dir_okay=False), help="Raw float32 rows of 1000 object probabilities.")
@click.option("--scenes", type=click.Path(dir_okay=False), help="Raw float32 rows of 401 scene probabilities.")
@click.option("--video-key", default="dirname", show_default=True,
              help="Video of a frame path: dirname, or a slice START:END (the original: 62:-13).")
@click.option("--audio-ext", default=".mp3", show_default=True, help="Audio file of a video: ROOT/VIDEO + this.")
@click.option("--hdf5", "teacher_h5", type=click.Path(dir_okay=False),
              help="HDF5 layout: a group per clip with objects T x 1000 and scenes T x 401.")
@click.option("--audio-root", type=click.Path(file_okay=False), help="Audio folder (default: the list's folder).")
@click.option("--init", type=click.Path(dir_okay=False), help="Model to continue (.t7, .safetensors, .pth, .h5).")
@click.option("--scratch", type=click.Choice(["soundnet8", "soundnet5"]),
              help="Start from scratch with main_train.lua's initialisation instead.")
@click.option("--widths", help="Conv widths for --scratch, comma-separated (default: full width).")
@click.option("--head-softmax", type=click.Choice(["classes", "torch7-cpu"]), default="classes", show_default=True,
              help="Student log-softmax: over classes (the paper), or over the batch as Torch7's CPU nn did.")
@loop_options(steps=True)
def train(frame_list, objects, scenes, video_key, audio_ext, teacher_h5, audio_root, init, scratch, widths,
          head_softmax, **options) -> None:
    """Student-teacher training (main_train.lua): KL to the teacher's object and scene distributions.

    \b
    Examples:
      soundnet train --hdf5 teacher.h5 --init soundnet8_final.t7 --batch-size 8 --steps 1000
      soundnet train --list frames.txt --objects objects.bin --scenes scenes.bin --audio-root mp3/ --scratch soundnet8
      torchrun --nproc-per-node 2 -m soundnet.cli train --hdf5 teacher.h5 --init soundnet8_final.t7
    """
    from .teacher_data import read_frame_list, read_teacher_hdf5
    from .train import train as run_training

    if bool(teacher_h5) == bool(frame_list):
        raise click.UsageError("give either --hdf5 or --list (with --objects and --scenes)")
    if frame_list and not (objects and scenes):
        raise click.UsageError("--list needs --objects and --scenes")
    if bool(init) == bool(scratch):
        raise click.UsageError("give either --init MODEL or --scratch soundnet8|soundnet5")
    try:
        width_list = [int(w) for w in widths.split(",")] if widths else None
    except ValueError:
        raise click.UsageError(f"--widths must be comma-separated integers, got {widths!r}") from None
    clips = (read_teacher_hdf5(teacher_h5, audio_root) if teacher_h5 else
             read_frame_list(frame_list, objects, scenes, audio_root, video_key, audio_ext))
    _report(run_training(clips, _settings(options), init, scratch or "soundnet8", width_list, head_softmax))


@cli.command()
@click.option("--list", "label_list", required=True, type=click.Path(dir_okay=False),
              help="Lines 'audio-path label' with 0-based labels.")
@click.option("--classes", required=True, type=int, help="Number of classes N (labels 0..N-1).")
@click.option("--init", required=True, type=click.Path(dir_okay=False),
              help="SoundNet8 to fine-tune (.t7, .safetensors, .pth, .h5), e.g. soundnet8_final.t7.")
@click.option("--root", type=click.Path(file_okay=False), help="Folder of relative audio paths (default: the list's).")
@click.option("--epochs", default=10, show_default=True)
@click.option("--freeze", default=0, show_default=True,
              help="Keep Torch modules 1..UPTO fixed (e.g. 18: up to pool5); their BN layers stay in eval mode.")
@click.option("--held-out", default=0.1, show_default=True, help="Fraction of clips held out; accuracy per epoch.")
@loop_options(steps=False)
def finetune(label_list, classes, init, root, epochs, freeze, held_out, **options) -> None:
    """Fine-tune SoundNet8 on labeled clips (main_finetune.lua): new conv 1024 -> N, random 5 s crops.

    \b
    Example:
      soundnet finetune --list train.txt --classes 50 --init soundnet8_final.t7 --batch-size 32 --epochs 20 --freeze 18
    """
    from .finetune import finetune as run_finetune
    from .finetune_data import read_label_list

    clips = read_label_list(label_list, classes, root)
    _report(run_finetune(clips, classes, _settings(options), init, epochs, freeze, held_out))



MODEL_HELP = "Model file (.t7/.safetensors/.pth/.h5), or 'example' for the embedded random-weight example."
audio_options = [
    click.option("--channel", type=click.Choice(["first", "mean"]), default="first", show_default=True,
                 help="Which channel of multi-channel audio: the first (as the original) or their mean."),
    click.option("--scale", default=256.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                 help="Input scale: 256 as the original scripts, 512 as the ESC-50 evaluation script."),
]


def with_audio_options(command):
    for option in reversed(audio_options):
        command = option(command)
    return command


@cli.command()
@click.argument("audio", nargs=-1, required=True)
@click.option("--model", "model_path", required=True, help=MODEL_HELP)
@click.option("--categories-dir", type=click.Path(file_okay=False, exists=True),
              help="Folder with categories_imagenet.txt and categories_places2.txt (default: names in the model file).")
@click.option("--top", "top_k", default=5, show_default=True, type=click.IntRange(min=1), help="Classes per step and head.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--write-h5", is_flag=True, help="Also write <audio>.soundnet_categories.h5 (object, scene: 1 x C x T x 1).")
@with_audio_options
def predict(audio, model_path, categories_dir, top_k, fmt, write_h5, channel, scale) -> None:
    """Top objects and scenes of each conv8 step (one per ~3 s), and the middle-step summary the original printed.

    Clips shorter than 10 s are tiled to 10 s as the original did (the output says so). A file that
    cannot be read gets one error line; the others are still predicted, and the exit status is 1.

    \b
    Examples:
      soundnet predict clip.wav --model example
      soundnet predict a.mp3 b.flac --model soundnet8.safetensors --top 3 --format json --write-h5
    """
    from .audio_commands import run_predict

    if not run_predict(audio, model_path, categories_dir, top_k, fmt, write_h5, channel, scale):
        sys.exit(1)


@cli.command(name="extract")
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
def extract_command(audio, list_file, model_path, layer, pool, out_dir, h5_path, force, batch_size, workers, shard,
                    strict, channel, scale) -> None:
    """Features of one layer per audio file, as extract_feat.lua: <audio>.soundnet.h5 with dataset layer<N> (C x T).

    Finished outputs are skipped (so a killed job resumes) unless --force; broken files are reported
    and skipped, and the exit status is 1 when any failed. With --h5 and --shard, shard K writes
    NAME.shard-K-of-N.h5; join them with soundnet merge.

    \b
    Examples:
      soundnet extract clip.wav --model example --layer 24
      soundnet extract --list files.txt --model soundnet8.t7 --pool mean --h5 features.h5 --shard 0/4
    """
    from .audio_commands import run_extract

    if not run_extract(audio, list_file, model_path, layer, pool, out_dir, h5_path, force, batch_size, workers,
                       shard, strict, channel, scale):
        sys.exit(1)


@cli.command()
@click.argument("target", metavar="OUT.h5", type=click.Path(dir_okay=False))
@click.argument("parts", metavar="PART.h5...", nargs=-1, required=True)
def merge(target: str, parts: tuple[str, ...]) -> None:
    """Merge consolidated feature files (e.g. the shards of soundnet extract --h5 --shard) into one.

    \b
    Example:
      soundnet merge features.h5 features.shard-0-of-2.h5 features.shard-1-of-2.h5
    """
    from .feature_files import merge_consolidated

    clips = merge_consolidated(target, parts)
    click.echo(f"{target}: {clips} clips from {len(parts)} file(s)")


def main() -> None:
    """The console entry point: like click's standalone mode, but usage errors also take one line."""
    from .allocator import tune

    tune()
    try:
        code = cli.main(prog_name="soundnet", standalone_mode=False)
    except click.UsageError as error:
        where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        click.echo(f"Error: {one_line(error.format_message())}{where}", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
