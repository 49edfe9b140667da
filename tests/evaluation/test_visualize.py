"""soundnet visualize: conv1 filter plots, unit rankings against brute force, the page in headless Chromium."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from matplotlib.image import imread

from generated_sounds import KINDS, write_clip
from soundnet import load, load_audio
from soundnet.cli import cli
from soundnet.model.examples import EXAMPLE_MODEL
from soundnet.evaluation.visualize import TopK, parse_units

CHROMIUM = Path("/usr/bin/chromium")
UNITS, TOP = [0, 3, 7, 31], 4


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Twelve short clips (tiled to 10 s) and one of 11 s (used whole), listed with labels and a comment."""
    folder = tmp_path_factory.mktemp("clips")
    paths = [write_clip(folder / "wav" / f"{kind}{i}.wav", kind, 1.5, seed=10 * i + k)
             for i in range(3) for k, kind in enumerate(KINDS)]
    paths.append(write_clip(folder / "wav" / "long_chirp.wav", "chirp", 11.0, seed=7))
    (folder / "clips.txt").write_text("# clips\n" + "".join(f"wav/{p.name} x\n" for p in paths))
    return folder, paths


@pytest.fixture(scope="module")
def page(clips):
    folder, _ = clips
    out = folder / "units"
    result = CliRunner().invoke(cli, ["visualize", "units", "--model", "example", "--list", str(folder / "clips.txt"),
                                      "--layer", "conv7", "--units", "0,3,7,31", "--top", str(TOP), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "ranking.json").read_text())


def test_ranking_equals_brute_force(clips, page):
    _, paths = clips
    _, ranking = page
    model = load(EXAMPLE_MODEL)
    everything = []  # every clip's C x T, all in memory, computed without the module's streaming helpers
    for path in paths:
        waveform = load_audio(path).numpy()
        tiled = torch.from_numpy(np.resize(waveform, max(len(waveform), 10 * 22050)))
        with torch.inference_mode():
            everything.append(model.forward_features(tiled, "conv7")[0].numpy())
    assert everything[-1].shape[1] > everything[0].shape[1]  # the 11 s clip was not cut to 10 s
    for unit in UNITS:
        peaks = [(float(a[unit].max()), clip, int(a[unit].argmax())) for clip, a in enumerate(everything)]
        expected = sorted(peaks, key=lambda p: (-p[0], p[1]))[:TOP]
        hits = [h for h in ranking["hits"] if h["unit"] == unit]
        assert [(h["activation"], h["clip_index"], h["step"]) for h in hits] == expected
        assert [h["rank"] for h in hits] == list(range(1, TOP + 1))
        assert all(h["clip"] == str(paths[h["clip_index"]]) for h in hits)


def test_segments_are_the_receptive_field_of_the_peak(clips, page):
    _, paths = clips
    out, ranking = page
    model = load(EXAMPLE_MODEL)
    field = model.architecture.receptive_field(model.architecture.layer("conv7"))
    assert ranking["receptive_field"] == {"stride": 32768, "offset": 55584, "size": 91166}
    for hit in ranking["hits"]:
        audio, rate = sf.read(out / hit["audio"])
        source, _ = sf.read(paths[hit["clip_index"]])
        tiled = np.resize(source, max(len(source), 10 * rate))  # np.resize repeats the clip
        begin = hit["step"] * field.stride - field.offset
        start, end = max(0, begin), min(len(tiled), begin + field.size)
        assert rate == 22050 and hit["start_s"] == pytest.approx(start / rate, abs=1e-4)
        assert len(audio) == end - start and np.abs(audio).max() > 0.01
        np.testing.assert_allclose(audio, tiled[start:end], atol=2 / 32768)


def test_running_top_k_equals_sorting_everything():
    rng = np.random.default_rng(1)
    maps = [rng.integers(0, 5, size=(6, rng.integers(1, 8))).astype(np.float32) for _ in range(300)]  # many ties
    top = TopK([5, 0, 2], 7)
    for clip, activations in enumerate(maps):
        top.update(clip, activations)
        assert all(len(heap) <= 7 for heap in top.heaps.values())
    for unit, hits in top.ranking().items():
        expected = sorted(((float(m[unit].max()), c, int(m[unit].argmax())) for c, m in enumerate(maps)),
                          key=lambda p: (-p[0], p[1]))[:7]
        assert [(h.activation, h.clip, h.step) for h in hits] == expected


def test_long_clips_stream_through_the_chunked_path(clips):
    from soundnet.evaluation.visualize import heard_blocks, heard_span

    _, paths = clips
    long, short = paths[-1], paths[0]
    blocks = list(heard_blocks(long, 256.0, block_samples=22_050))
    assert max(block.shape[-1] for block in blocks) <= 22_050  # never the whole 11 s clip at once
    assert torch.equal(torch.cat(blocks, dim=1)[0], load_audio(long))
    tiled = torch.cat(list(heard_blocks(short, 256.0)), dim=1)[0]
    assert len(tiled) == 10 * 22050  # a short clip is tiled to 10 s as the evaluation scripts did
    assert torch.equal(heard_span(long, 256.0, 30_000, 40_000), load_audio(long)[30_000:40_000])


def test_units_option():
    assert parse_units("3, 0-2,3", 8) == [3, 0, 1, 2]
    for bad in ("8", "a", "2-x", ""):
        with pytest.raises(ValueError, match="units"):
            parse_units(bad, 8)


def test_filters_png(tmp_path):
    result = CliRunner().invoke(cli, ["visualize", "filters", "--model", "example", "--out",
                                      str(tmp_path / "conv1.png")])
    assert result.exit_code == 0, result.output
    image = imread(tmp_path / "conv1.png")
    assert image.shape[0] > 150 and image.shape[1] > 600 and image[..., :3].std() > 0.05


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                   "(scripts/install_test_tools.sh installs it)")
def test_page_plays_in_headless_chromium(page, tmp_path):
    out, ranking = page
    probe = """<script>
Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(done => {
  const report = () => done({src: a.getAttribute('src'), ready: a.readyState, duration: a.duration,
                             error: a.error && a.error.code});
  if (a.readyState >= 1) report();
  else { a.addEventListener('loadedmetadata', report); a.addEventListener('error', report); }
}))).then(r => { const p = document.createElement('pre'); p.id = 'audio-check'; p.textContent = JSON.stringify(r);
  document.body.append(p); console.log('audio probe finished'); });
</script>
</body>"""
    checked = out / "probe.html"  # beside index.html, so the relative audio links resolve the same way
    checked.write_text((out / "index.html").read_text().replace("</body>", probe))
    run = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
                          "--dump-dom", checked.as_uri()], capture_output=True, text=True, timeout=60)
    found = re.search(r'<pre id="audio-check">(.*?)</pre>', run.stdout)
    assert found, f"the probe did not run; chromium said: {run.stderr[-2000:]}"
    players = json.loads(found.group(1).replace("&quot;", '"'))
    assert [p["src"] for p in players] == [h["audio"] for h in ranking["hits"]]
    for player, hit in zip(players, ranking["hits"]):
        assert player["error"] is None and player["ready"] >= 1, player  # HAVE_METADATA or better
        assert player["duration"] == pytest.approx(hit["end_s"] - hit["start_s"], abs=1e-3)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert len(console) == 1 and "audio probe finished" in console[0], console


@pytest.mark.parametrize("args, message", [
    (["--units", "40"], "units must lie in 0..31"),
    (["--layer", "conv9"], "has no layer 'conv9'"),
    (["--list", "{missing}"], "no such audio file"),
])
def test_units_errors_are_one_line(clips, tmp_path, args, message):
    folder, _ = clips
    (tmp_path / "bad.txt").write_text("nothing.wav\n")
    args = [a.format(missing=tmp_path / "bad.txt") for a in args]
    base = ["visualize", "units", "--model", "example", "--list", str(folder / "clips.txt"),
            "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output and not (tmp_path / "o").exists()


def test_filters_error_is_one_line(tmp_path):
    missing = tmp_path / "none.t7"
    result = CliRunner().invoke(cli, ["visualize", "filters", "--model", str(missing), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert f"no such model file: {missing}" in result.output
