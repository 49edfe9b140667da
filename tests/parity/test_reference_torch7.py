"""make_reference.lua run by the real Torch7 writes references `soundnet verify` reads and passes.

Every input kind the script takes (audio file, raw float32, generated), both architectures, with and
without `final` (written only for inputs giving exactly 4 time steps). Before the fix, every reference
without `final` failed: Torch7 writes outputs.clip as a table keyed 1..n only, which reads as a list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

import convert
from audio_fixtures import tone
from ground_truth import torch7_refs_dir, unavailable
from soundnet.cli import cli
from soundnet.parity.verify import lua_table
from torch7_runtime import MAKE_REFERENCE, run_lua

MODELS = {"soundnet8": "soundnet8_quarter.t7", "soundnet5": "soundnet5_quarter.t7"}


def _input(kind: str, folder: Path) -> list[str]:
    """make_reference.lua's input options for one kind of input."""
    if kind.startswith("wav"):
        path = folder / "clip.wav"
        sf.write(path, tone(float(kind[3:]), 22050), 22050, subtype="PCM_16")
        return ["-audio", str(path)]
    if kind.startswith("mp3"):
        seconds, rate = (float(part) for part in kind[3:].split("@"))
        path = folder / "clip.mp3"
        sf.write(path, tone(seconds, int(rate)), int(rate), subtype="MPEG_LAYER_III")
        return ["-audio", str(path)]
    if kind.startswith("raw"):
        path = folder / "wave.f32"
        (tone(float(kind[3:]), 22050)[:, 0] * 256).astype("<f4").tofile(path)
        return ["-raw", str(path)]
    return ["-seconds", kind[3:]]


@pytest.mark.slow
@pytest.mark.parametrize(
    "architecture, kind, has_final",
    [
        ("soundnet8", "wav48", False),  # a 48 s WAV: 9 time steps at the heads
        ("soundnet8", "mp36@44100", False),  # a 6 s MP3 at 44.1 kHz (audio.load does not resample: 12 s of samples)
        ("soundnet5", "mp36@22050", False),  # a 6 s MP3 through SoundNet5: one time step
        ("soundnet8", "raw12", False),
        ("soundnet8", "gen20", True),  # 20 s: exactly 4 steps, so `final` (net:forward) is stored too
        ("soundnet5", "gen20", True),
        ("soundnet5", "gen10", False),
    ],
)
def test_verify_reads_what_torch7_writes(tmp_path, torch7_runtime, architecture, kind, has_final):
    model = torch7_refs_dir() / MODELS[architecture]
    if not model.is_file():
        unavailable(f"{model} not found (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    refs = tmp_path / "refs.t7"
    run_lua(torch7_runtime, MAKE_REFERENCE, "-model", model, "-out", refs, *_input(kind, tmp_path))
    stored = convert.read_t7(refs)["outputs"]["clip"]
    assert ("final" in lua_table(stored)) == has_final
    if not has_final:
        assert isinstance(stored, list)  # exactly the shape that broke verify
    result = CliRunner().invoke(cli, ["verify", "--model", str(model), "--reference", str(refs)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    total = int(last.split(" of ")[1].split()[0])
    assert last == f"{total} of {total} arrays within tolerance"
    assert ("final (net:forward)" in result.output) == has_final


def test_verify_reads_a_sequence_without_final(tmp_path):
    """No runtime needed: outputs.clip keyed 1..n only (as Torch7 serialises it) reads back as a list."""
    model_path = torch7_refs_dir() / "refs_soundnet5_quarter.t7"
    if not model_path.is_file():
        unavailable(f"{model_path} not found (set SOUNDNET_TORCH7_REFS to shared/torch7)")
    refs = convert.read_t7(model_path)
    clip2 = {key: value for key, value in refs["outputs"]["clip2"].items() if isinstance(key, int)}
    table = {"inputs": {"clip": refs["inputs"]["clip2"]}, "outputs": {"clip": clip2}}
    convert.write_t7(table, tmp_path / "refs.t7")
    assert isinstance(convert.read_t7(tmp_path / "refs.t7")["outputs"]["clip"], list)
    result = CliRunner().invoke(
        cli,
        [
            "verify",
            "--model",
            str(torch7_refs_dir() / "soundnet5_quarter.t7"),
            "--reference",
            str(tmp_path / "refs.t7"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "15 of 15 arrays within tolerance" in result.output
