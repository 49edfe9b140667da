"""Options, choices and defaults several commands share: each read from the library, defined once there."""
from __future__ import annotations

import click

from ..audio import CHANNEL_MODES
from ..model.architecture import INPUT_SCALE

MODEL_HELP = ("Model file (.t7/.safetensors/.pth/.h5/sound8.npy), 'soundnet8' for the released weights "
              "(fetched once), or 'example' for the embedded random-weight example.")
model_option = click.option("--model", "model_path", required=True, metavar="MODEL", help=MODEL_HELP)
audio_options = [
    click.option("--channel", type=click.Choice(CHANNEL_MODES), default=CHANNEL_MODES[0], show_default=True,
                 help="Which channel of multi-channel audio: the first (as the original) or their mean."),
    click.option("--scale", default=INPUT_SCALE, show_default=True, type=click.FloatRange(min=0, min_open=True),
                 help="Input scale: 256 (2^-23 per sox unit) as extract_feat.lua and extract_predictions.lua."),
]


def with_audio_options(command):
    for option in reversed(audio_options):
        command = option(command)
    return command


def load_model(path: str):
    """The model a --model option names (the library's loader; imported late to keep --help fast)."""
    from ..formats.loading import load

    return load(path)
