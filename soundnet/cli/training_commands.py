"""Commands that train: train (student-teacher) and finetune."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..model.architecture import SOUNDNET5, SOUNDNET8
from ..training.losses import HEAD_SOFTMAX_MODES
from ..training.optim import OPTIMIZERS
from .options import MODEL_HELP, load_model, model_option

TEACHER_ARCHITECTURES = (SOUNDNET8.name, SOUNDNET5.name)


def loop_options(steps: bool):
    """The options `train` and `finetune` share (batch, seed, optimizer, checkpoints, devices, output)."""
    options = [
        click.option(
            "--out",
            "out_dir",
            default="runs/soundnet",
            show_default=True,
            type=click.Path(file_okay=False),
            help="Folder for checkpoint.pt, log.jsonl, loss.png and model.safetensors.",
        ),
        click.option("--batch-size", default=64, show_default=True, help="Clips per step (over all processes)."),
        click.option("--seed", default=0, show_default=True, help="Seeds initialisation, sampling and crops."),
        click.option("--lr", default=1e-3, show_default=True),
        click.option("--beta1", default=0.9, show_default=True),
        click.option(
            "--optimizer",
            type=click.Choice(OPTIMIZERS),
            default=OPTIMIZERS[0],
            show_default=True,
            help="adam: Torch7's optim.adam formula; adam-pytorch: torch.optim.Adam.",
        ),
        click.option(
            "--checkpoint-every",
            default=0,
            show_default=True,
            help="Write checkpoint.pt every K steps (and always at the end).",
        ),
        click.option("--resume", type=click.Path(dir_okay=False), help="Continue from this checkpoint.pt."),
        click.option("--workers", default=2, show_default=True, help="DataLoader processes decoding audio."),
        click.option("--device", default="cpu", show_default=True, help="cpu or cuda (one GPU per torchrun rank)."),
        click.option("--bf16", is_flag=True, help="bf16 autocast (GPU only)."),
        click.option(
            "--export",
            type=click.Path(dir_okay=False),
            help="Also write the trained model here (.safetensors, .pth, .h5 or .t7).",
        ),
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
    from ..training.loop import LoopSettings

    resume, export = options.pop("resume"), options.pop("export")
    return LoopSettings(
        out_dir=Path(options.pop("out_dir")),
        show_progress=not options.pop("quiet"),
        resume=Path(resume) if resume else None,
        export=Path(export) if export else None,
        **options,
    )


def _fresh_run(run, *args):
    """Run training; an output folder holding another run is refused in the CLI's own terms."""
    from ..training.guards import ExistingRunError

    try:
        return run(*args)
    except ExistingRunError as error:
        raise click.ClickException(
            f"{error.out_dir} already holds a training run ({error.found.name}); "
            f"continue it with --resume {error.out_dir / 'checkpoint.pt'} or choose "
            f"a new --out"
        ) from None


def _report(result) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for all
        return
    loss = "n/a" if result.loss is None else f"{result.loss:.5f}"
    click.echo(f"step {result.step}: loss {loss}; model, checkpoint, log.jsonl and loss.png in {result.out_dir}")


@click.command()
@click.option(
    "--list",
    "frame_list",
    type=click.Path(dir_okay=False),
    help="Original layout: text list of frames (needs --objects and --scenes).",
)
@click.option("--objects", type=click.Path(dir_okay=False), help="Raw float32 rows of 1000 object probabilities.")
@click.option("--scenes", type=click.Path(dir_okay=False), help="Raw float32 rows of 401 scene probabilities.")
@click.option(
    "--video-key",
    default="dirname",
    show_default=True,
    help="Video of a frame path: dirname, or a slice START:END (the original: 62:-13).",
)
@click.option("--audio-ext", default=".mp3", show_default=True, help="Audio file of a video: ROOT/VIDEO + this.")
@click.option(
    "--hdf5",
    "teacher_h5",
    type=click.Path(dir_okay=False),
    help="HDF5 layout: a group per clip with objects T x 1000 and scenes T x 401.",
)
@click.option("--audio-root", type=click.Path(file_okay=False), help="Audio folder (default: the list's folder).")
@click.option("--model", "model_path", metavar="MODEL", help=f"Model to continue. {MODEL_HELP}")
@click.option(
    "--scratch",
    type=click.Choice(TEACHER_ARCHITECTURES),
    help="Start from scratch with main_train.lua's initialisation instead of --model.",
)
@click.option("--widths", help="Conv widths for --scratch, comma-separated (default: full width).")
@click.option(
    "--head-softmax",
    type=click.Choice(HEAD_SOFTMAX_MODES),
    default=HEAD_SOFTMAX_MODES[0],
    show_default=True,
    help="Student log-softmax: over classes (the paper), or over the batch as Torch7's CPU nn did.",
)
@loop_options(steps=True)
def train(
    frame_list,
    objects,
    scenes,
    video_key,
    audio_ext,
    teacher_h5,
    audio_root,
    model_path,
    scratch,
    widths,
    head_softmax,
    **options,
) -> None:
    """Student-teacher training (main_train.lua): KL to the teacher's object and scene distributions.

    \b
    Examples:
      soundnet train --hdf5 teacher.h5 --model soundnet8_final.t7 --batch-size 8 --steps 1000
      soundnet train --list frames.txt --objects objects.bin --scenes scenes.bin --audio-root mp3/ --scratch soundnet8
      torchrun --nproc-per-node 2 -m soundnet.cli train --hdf5 teacher.h5 --model soundnet8_final.t7
    """
    from ..training.teacher_data import read_frame_list, read_teacher_hdf5
    from ..training.train import build_student
    from ..training.train import train as run_training

    if bool(teacher_h5) == bool(frame_list):
        raise click.UsageError("give either --hdf5 or --list (with --objects and --scenes)")
    if frame_list and not (objects and scenes):
        raise click.UsageError("--list needs --objects and --scenes")
    if bool(model_path) == bool(scratch):
        raise click.UsageError("give either --model MODEL or --scratch soundnet8|soundnet5")
    try:
        width_list = [int(w) for w in widths.split(",")] if widths else None
    except ValueError:
        raise click.UsageError(f"--widths must be comma-separated integers, got {widths!r}") from None
    clips = (
        read_teacher_hdf5(teacher_h5, audio_root)
        if teacher_h5
        else read_frame_list(frame_list, objects, scenes, audio_root, video_key, audio_ext)
    )
    options["source"] = f"{model_path or 'from scratch'} on {teacher_h5 or frame_list}"
    settings = _settings(options)
    model = build_student(
        load_model(model_path) if model_path else None, scratch or "soundnet8", width_list, settings.seed
    )
    _report(_fresh_run(run_training, model, clips, settings, head_softmax))


@click.command()
@click.option(
    "--list",
    "label_list",
    required=True,
    type=click.Path(dir_okay=False),
    help="Lines 'audio-path label': 0-based class numbers, or class names (numbered in sorted order).",
)
@click.option(
    "--classes",
    type=click.IntRange(min=1),
    help="Number of classes N when labels are numbers 0..N-1 (default: the largest label + 1).",
)
@model_option
@click.option("--root", type=click.Path(file_okay=False), help="Folder of relative audio paths (default: the list's).")
@click.option("--epochs", default=10, show_default=True)
@click.option(
    "--freeze",
    default=0,
    show_default=True,
    help="Keep Torch modules 1..UPTO fixed (e.g. 18: up to pool5); their BN layers stay in eval mode.",
)
@click.option("--held-out", default=0.1, show_default=True, help="Fraction of clips held out; accuracy per epoch.")
@loop_options(steps=False)
def finetune(label_list, classes, model_path, root, epochs, freeze, held_out, **options) -> None:
    """Fine-tune SoundNet8 on labeled clips (main_finetune.lua): new conv 1024 -> N, random 5 s crops.

    The class names are saved in the model file and in OUT/classes.txt, so predict names them.

    \b
    Example:
      soundnet finetune --list train.txt --model soundnet8_final.t7 --batch-size 32 --epochs 20 --freeze 18
    """
    from ..jobs.clip_lists import read_list
    from ..training.finetune import finetune as run_finetune
    from ..training.finetune_data import labeled_clips

    options["source"] = f"{model_path} on {label_list}"
    clips, names = labeled_clips(read_list(label_list, root, labels="required", check_files=False), classes)
    _report(
        _fresh_run(run_finetune, load_model(model_path), clips, names, _settings(options), epochs, freeze, held_out)
    )
