"""Options and arguments several commands share, defined once."""
from __future__ import annotations

import click

model_argument = click.argument("model", metavar="MODEL")
MODEL_HELP = ("Model file (.t7/.safetensors/.pth/.h5/sound8.npy), 'soundnet8' for the released weights "
              "(fetched once), or 'example' for the embedded random-weight example.")
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
