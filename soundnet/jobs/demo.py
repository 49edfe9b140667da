"""`soundnet demo`: the main job end to end on the embedded example, with no download.

1. convert the example Torch7 checkpoint to safetensors;
2. verify the converted model layer by layer against an independent NumPy forward pass of the .t7
   module tree (no Torch7 needed; with Torch7 at hand, reference_outputs/make_reference.lua gives the
   real thing);
3. predict objects and scenes on a short generated sound (tiled to 10 s as the original did).
The example has random weights: the predicted names mean nothing, the pipeline is what is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

import convert

from ..audio import load_audio
from ..formats.loading import convert_file, load
from ..inference.predict import predict
from ..inference.report import format_table
from ..model.architecture import SAMPLE_RATE
from ..model.examples import EXAMPLE_MODEL, synthetic_sound
from ..parity.numpy_reference import numpy_reference
from ..parity.verify import verify_reference

VERIFY_SECONDS = 10.0
PREDICT_SECONDS = 3.0


def run_demo(out_dir: str | Path, echo: Callable[[str], None] = print) -> bool:
    """Run the three steps, writing into `out_dir`; True when verification passed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    converted = out_dir / "example_soundnet8.safetensors"

    echo(f"1. convert  {EXAMPLE_MODEL.name} -> {converted}")
    model = convert_file(EXAMPLE_MODEL, converted)
    echo(f"   {model.name}, conv widths {list(model.widths)}, heads {list(model.classes)}")

    echo(
        f"2. verify   every layer on a {VERIFY_SECONDS:.0f} s generated clip against an independent NumPy "
        "forward of the .t7"
    )
    modules = convert.read_t7(EXAMPLE_MODEL)["modules"]
    wave = synthetic_sound(VERIFY_SECONDS, seed=1).numpy()
    reference = numpy_reference(modules, {"clip": wave}, {"clip": set(range(1, model.architecture.head.index + 1))})
    converted_model = load(converted)
    checks = verify_reference(converted_model, reference)
    worst = max(checks, key=lambda check: check.max_rel)
    passed = all(check.ok for check in checks)
    echo(
        f"   {sum(c.ok for c in checks)} of {len(checks)} layer outputs within 1e-4 "
        f"(worst: layer {worst.layer}, max rel error {worst.max_rel:.2g})"
    )

    sound_path = out_dir / "generated_3s.wav"
    soundfile.write(
        sound_path, np.asarray(synthetic_sound(PREDICT_SECONDS, seed=2)) / 256.0, SAMPLE_RATE, subtype="PCM_16"
    )
    echo(f"3. predict  {sound_path} (random weights: the names below mean nothing)")
    echo(format_table(str(sound_path), predict(converted_model, load_audio(sound_path)), 3))
    return passed
