"""Options, choices and defaults several commands share: each read from the library, defined once there."""

from __future__ import annotations

import click

from ..audio import CHANNEL_MODES
from ..model.architecture import INPUT_SCALE

MODEL_HELP = (
    "Model file (.t7/.safetensors/.pth/.h5/sound8.npy), 'soundnet8' for the released weights "
    "(fetched once), or 'example' for the embedded random-weight example."
)
model_option = click.option("--model", "model_path", required=True, metavar="MODEL", help=MODEL_HELP)
audio_options = [
    click.option(
        "--channel",
        type=click.Choice(CHANNEL_MODES),
        default=CHANNEL_MODES[0],
        show_default=True,
        help="Which channel of multi-channel audio: the first (as the original) or their mean.",
    ),
    click.option(
        "--scale",
        default=INPUT_SCALE,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="Input scale: 256 (2^-23 per sox unit) as extract_feat.lua and extract_predictions.lua.",
    ),
]


runtime_options = [
    click.option("--device", default="cpu", show_default=True, help="Where the model runs: cpu, cuda or cuda:N."),
    click.option(
        "--dtype",
        default="float32",
        show_default=True,
        help="Precision the model computes in: float32, float64, float16 or bfloat16 (files stay float32).",
    ),
]


def with_runtime_options(command):
    for option in reversed(runtime_options):
        command = option(command)
    return command


def with_audio_options(command):
    for option in reversed(audio_options):
        command = option(command)
    return command


def load_model(path: str, device: str = "cpu", dtype: str = "float32"):
    """The model a --model option names, on --device in --dtype (both checked before the file is read).

    The library's loader is imported late to keep --help fast.
    """
    from ..devices import load_on

    return load_on(path, device, dtype)
