"""The `soundnet` command: a thin click layer over the library functions.

Every command turns the library's ValueError/OSError family into one `Error:` line and exit status 1;
click itself reports bad arguments with exit status 2. Anything else (a bug) is also one line, with a
hint to rerun with --debug, which shows the traceback.
"""

from __future__ import annotations

import sys

import click

from ..errors import describe_os_error, one_line

DEBUG_HINT = "rerun with --debug to see the traceback"


class OneLineErrors(click.Group):
    """Run a command; expected failures (bad files, bad arguments, wrong architecture) become one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own control flow (Exit is a RuntimeError in click >= 8.2)
        except OSError as error:
            raise click.ClickException(describe_os_error(error)) from None
        except (ValueError, RuntimeError) as error:
            raise click.ClickException(one_line(error)) from None
        except MemoryError as error:
            raise click.ClickException(f"out of memory: {one_line(error)}") from None
        except Exception as error:  # the last resort: a bug still reports one line, unless debugging
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(f"unexpected {type(error).__name__}: {one_line(error)} ({DEBUG_HINT})") from None


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="soundnet-t7")
@click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected error.")
def cli(debug: bool) -> None:
    """SoundNet (Aytar, Vondrick, Torralba 2016) from Torch7 to PyTorch.

    Every command that runs a model takes it as --model MODEL: a .t7, .safetensors, .pth, .h5 or TF/Keras
    sound8.npy file, `soundnet8` (the released weights, fetched once into $SOUNDNET_HOME) or `example` (the
    embedded checkpoint with random weights); train may start from --scratch instead. The file commands
    (inspect, convert, export) take file arguments. Every command's --help has more.

    \b
    Examples:
      soundnet demo
      soundnet predict clip.wav --model soundnet8
      soundnet fetch soundnet8
      soundnet inspect soundnet8_final.t7
      soundnet convert soundnet8_final.t7 soundnet8.safetensors --categories-dir categories/
      soundnet verify --model soundnet8.safetensors --reference refs_soundnet8.t7
      soundnet export soundnet8.safetensors soundnet8_roundtrip.t7
      soundnet predict clip.mp3 --model soundnet8.safetensors --top 5
      soundnet extract clips/*.wav --model soundnet8.safetensors --layer 24 --out features/
      soundnet merge all.h5 part.shard-0-of-2.h5 part.shard-1-of-2.h5
      soundnet train --hdf5 teacher.h5 --model soundnet8.safetensors --steps 1000 --out run/
      soundnet finetune --list train.txt --classes 50 --model soundnet8.safetensors --out ft/
      soundnet evaluate ESC-50/ --model soundnet8.safetensors --out esc50/
      soundnet visualize filters --model soundnet8.safetensors --out conv1.png
      soundnet visualize units --model soundnet8.safetensors --list clips.txt --layer conv7 --out units/
    """


from .audio_commands import extract_command, merge, predict  # noqa: E402
from .evaluation_commands import evaluate, visualize  # noqa: E402
from .model_commands import convert_command, demo, export, fetch, inspect, verify  # noqa: E402
from .training_commands import finetune, train  # noqa: E402

for command in (
    fetch,
    inspect,
    convert_command,
    verify,
    export,
    demo,
    predict,
    extract_command,
    merge,
    train,
    finetune,
    evaluate,
    visualize,
):
    cli.add_command(command)


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
