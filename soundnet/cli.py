"""The `soundnet` command: a thin click layer over the library functions.

Every command turns the library's ValueError/OSError family into one `error:` line and exit status 1;
click itself reports bad arguments with exit status 2.
"""
from __future__ import annotations

import sys

import click


class OneLineErrors(click.Group):
    """Run a command; expected failures (bad files, bad arguments, wrong architecture) become one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ValueError, OSError, RuntimeError) as error:
            message = " ".join(str(error).split()) or type(error).__name__
            raise click.ClickException(message) from None


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="soundnet-t7")
def cli() -> None:
    """SoundNet (Aytar, Vondrick, Torralba 2016) from Torch7 to PyTorch.

    \b
    Examples:
      soundnet demo
      soundnet inspect soundnet8_final.t7
      soundnet convert soundnet8_final.t7 soundnet8.safetensors --categories-dir categories/
    """


def main() -> None:
    cli(prog_name="soundnet")


if __name__ == "__main__":
    sys.exit(main())
