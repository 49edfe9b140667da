"""soundnet visualize: conv1 filter plots, unit rankings against brute force, the page in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from matplotlib.image import imread

from generated_sounds import KINDS, write_clip
from soundnet import load, load_audio
from soundnet.cli import cli
from soundnet.evaluation import unit_page
from soundnet.evaluation.unit_segments import concept_inputs, file_spans, head_input
from soundnet.evaluation.visualize import TopK, as_heard, filters_figure, heard_blocks, kernel_responses, parse_units
from soundnet.formats.categories import display_name
from soundnet.inference.predict import category_names
from soundnet.model.examples import EXAMPLE_MODEL
from soundnet.model.network import SoundNet
from soundnet.outputs import save_figure

UNITS, TOP = [0, 3, 7, 31], 4


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Twelve short clips (tiled to 10 s) labelled by kind, and one of 11 s (used whole) without a label."""
    folder = tmp_path_factory.mktemp("clips")
    paths = [
        write_clip(folder / "wav" / f"{kind}{i}.wav", kind, 1.5, seed=10 * i + k)
        for i in range(3)
        for k, kind in enumerate(KINDS)
    ]
    paths.append(write_clip(folder / "wav" / "long_chirp.wav", "chirp", 11.0, seed=7))
    lines = [f"wav/{p.name} {p.stem.rstrip('0123456789')}\n" for p in paths[:-1]] + [f"wav/{paths[-1].name}\n"]
    (folder / "clips.txt").write_text("# clips\n" + "".join(lines))
    return folder, paths


@pytest.fixture(scope="module")
def page(clips):
    folder, _ = clips
    out = folder / "units"
    result = CliRunner().invoke(
        cli,
        [
            "visualize",
            "units",
            "--model",
            "example",
            "--list",
            str(folder / "clips.txt"),
            "--layer",
            "conv7",
            "--units",
            "0,3,7,31",
            "--top",
            str(TOP),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "ranking.json").read_text())


def all_activations(paths) -> tuple[list[np.ndarray], list[int]]:
    """Every clip's conv7 C x T in memory, with one pass each, and each clip's heard length."""
    model = load(EXAMPLE_MODEL)
    maps, lengths = [], []
    for path in paths:
        waveform = load_audio(path).numpy()
        tiled = torch.from_numpy(np.resize(waveform, max(len(waveform), 10 * 22050)))  # np.resize repeats
        with torch.inference_mode():
            maps.append(model.forward_features(tiled, "conv7")[0].numpy())
        lengths.append(len(tiled))
    return maps, lengths


def test_ranking_equals_brute_force(clips, page):
    _, paths = clips
    _, ranking = page
    field = load(EXAMPLE_MODEL).architecture.receptive_field(load(EXAMPLE_MODEL).architecture.layer("conv7"))
    maps, lengths = all_activations(paths)
    assert maps[-1].shape[1] > maps[0].shape[1]  # the 11 s clip was not cut to 10 s
    for unit in UNITS:
        peaks = []
        for clip, (a, length) in enumerate(zip(maps, lengths)):
            # steps whose window [j*stride - offset, + size) lies inside the input
            inside = [
                j
                for j in range(a.shape[1])
                if 0 <= j * field.stride - field.offset and j * field.stride - field.offset + field.size <= length
            ]
            assert inside and len(inside) < a.shape[1]
            best = max(inside, key=lambda j: (a[unit, j], -j))
            peaks.append((float(a[unit, best]), clip, best))
        floor = min(p[0] for p in peaks)
        best = sorted(peaks, key=lambda p: (-p[0], p[1]))[:TOP]
        expected = [p for p in best if p[0] > floor]
        hits = [h for h in ranking["hits"] if h["unit"] == unit]
        assert [(h["activation"], h["clip_index"], h["step"]) for h in hits] == expected
        assert [h["rank"] for h in hits] == list(range(1, len(expected) + 1))
        assert all(h["clip"] == str(paths[h["clip_index"]]) for h in hits)
        summary = next(s for s in ranking["unit_summaries"] if s["unit"] == unit)
        values = np.array([p[0] for p in peaks], dtype=np.float64)
        high, mean, spread = values.max(), values.mean(), values.std()
        assert summary["max_activation"] == pytest.approx(high, rel=1e-6)  # float32 peaks summed in float64
        top_mean = np.mean([p[0] for p in best])  # the top-k before the floor is dropped
        assert summary["selectivity"] == pytest.approx((top_mean - mean) / spread, abs=1e-4)  # rounded to 4
        assert summary["active_clips"] == sum(p[0] > 0 for p in peaks)
        assert [h["fraction"] for h in hits] == [pytest.approx(h["activation"] / high, abs=1e-4) for h in hits]


def test_segments_are_the_receptive_field_of_the_peak(clips, page):
    _, paths = clips
    out, ranking = page
    model = load(EXAMPLE_MODEL)
    field = model.architecture.receptive_field(model.architecture.layer("conv7"))
    assert ranking["receptive_field"] == {"stride": 32768, "offset": 55584, "size": 91166}
    for hit in ranking["hits"]:
        audio, rate = sf.read(out / hit["audio"])
        source, _ = sf.read(paths[hit["clip_index"]])
        tiled = np.resize(source, max(len(source), 10 * rate))
        start = hit["step"] * field.stride - field.offset
        assert rate == 22050 and hit["input_start_s"] == pytest.approx(start / rate, abs=1e-4)
        assert len(audio) == field.size and np.abs(audio).max() > 0.01
        np.testing.assert_allclose(audio, tiled[start : start + field.size], atol=2 / 32768)  # 16-bit FLAC, lossless


def test_times_lie_in_the_original_file(clips, page):
    _, paths = clips
    _, ranking = page
    assert {h["clip_index"] for h in ranking["hits"]} >= {0, len(paths) - 1} or ranking["hits"]
    for hit in ranking["hits"]:
        duration = sf.info(paths[hit["clip_index"]]).duration
        assert hit["clip_seconds"] == pytest.approx(duration, abs=1e-4)
        for start, end in hit["file_spans"]:
            assert 0 <= start < end <= duration + 1e-4, hit
        assert hit["looped"] == (hit["input_end_s"] - hit["input_start_s"] >= duration)


def test_file_spans_of_tiled_and_whole_clips():
    rate = 22050
    assert file_spans(2 * rate, 3 * rate, 10 * rate, tiled=False) == ([(2.0, 3.0)], False)
    clip = 2 * rate  # a 2 s clip heard tiled: input second 5.5 is second 1.5 of the file
    assert file_spans(int(5.5 * rate), int(6.0 * rate), clip, tiled=True) == ([(1.5, 2.0)], False)
    assert file_spans(int(5.5 * rate), int(6.5 * rate), clip, tiled=True) == ([(1.5, 2.0), (0.0, 0.5)], False)
    assert file_spans(rate, 4 * rate, clip, tiled=True) == ([(0.0, 2.0)], True)


@pytest.mark.parametrize("architecture", ["soundnet8", "soundnet5"])
def test_concept_window_is_the_unpadded_head_step(architecture):
    model = SoundNet(architecture)
    head = model.architecture.head
    field = model.architecture.receptive_field(head)
    lead, length, step = head_input(field)
    assert model.architecture.output_length(length, head) > step
    assert field.window(step) == (lead, lead + field.size) and lead >= 0
    clip = torch.arange(1000.0)  # a tiled clip: windows wrap around its length
    rows = concept_inputs(clip, True, [2500, 0], field)
    assert rows.shape == (2, length)
    centre = lead + field.size // 2  # sample of each row heard at the centre of the head step
    assert [int(r[centre]) for r in rows] == [500, 0]
    long_clip = torch.arange(float(length + 10))  # a long clip: the window moves inside the file
    assert concept_inputs(long_clip, False, [0], field)[0, 0] == 0


def test_concepts_are_the_heads_on_a_window_centred_on_the_segment(clips, page):
    _, paths = clips
    _, ranking = page
    model = load(EXAMPLE_MODEL)
    architecture = model.architecture
    field, head = (architecture.receptive_field(architecture.layer(name)) for name in ("conv7", "heads"))
    lead, length, step = head_input(head)
    names = category_names(model)
    for hit in ranking["hits"][::5]:
        clip = load_audio(paths[hit["clip_index"]]).numpy()
        start = hit["step"] * field.stride - field.offset + field.size // 2 - head.size // 2 - lead
        if len(clip) >= length:  # the long clip: the window is moved inside it
            window = clip[min(max(start, 0), len(clip) - length) :][:length]
        else:  # a tiled clip: the window continues the tiling
            window = np.take(clip, np.arange(start, start + length), mode="wrap")
        with torch.inference_mode():
            objects, scenes = model.forward_features(torch.from_numpy(window), "heads")
        assert hit["object"] == display_name(names[0][int(objects[0, :, step].argmax())])
        assert hit["scene"] == display_name(names[1][int(scenes[0, :, step].argmax())])


def test_page_shows_labels_concepts_and_settings(page):
    out, ranking = page
    text = (out / "index.html").read_text()
    for needle in (
        "<b>model</b> example (soundnet8)",
        "conv7",
        "Torch index 22",
        "input scale</b> 256",
        "label purity",
        "most frequent object",
        'href="#unit-31"',
    ):
        assert needle in text, needle
    labelled = [h for h in ranking["hits"] if h["label"] is not None]
    assert labelled and {h["label"] for h in labelled} <= set(KINDS)
    assert all(h["object"] and h["scene"] for h in ranking["hits"])
    for summary in ranking["unit_summaries"]:
        hits = [h for h in ranking["hits"] if h["unit"] == summary["unit"]]
        if any(h["label"] for h in hits):
            top = max(KINDS, key=[h["label"] for h in hits].count)
            assert summary["purity"] == pytest.approx([h["label"] for h in hits].count(top) / len(hits), abs=1e-4)


def test_many_units_go_on_linked_pages(page, monkeypatch, tmp_path):
    out, ranking = page
    monkeypatch.setattr(unit_page, "UNITS_PER_PAGE", 3)
    written = unit_page.pages(
        {k: v for k, v in ranking.items() if k not in ("hits", "unit_summaries")},
        ranking["unit_summaries"],
        ranking["hits"],
    )
    assert sorted(written) == ["index.html", "units-0-7.html", "units-31-31.html"]
    anchors = {name: set(re.findall(r'id="(unit-\d+)"', text)) for name, text in written.items()}
    links = re.findall(r'href="(units-[\d-]+\.html)#(unit-\d+)"', written["index.html"])
    assert sorted(unit for _, unit in links) == sorted(f"unit-{u}" for u in UNITS)
    assert all(anchor in anchors[name] for name, anchor in links)
    assert all(len(re.findall("<audio ", text)) <= 3 * TOP for text in written.values())


def test_running_top_k_equals_sorting_everything():
    rng = np.random.default_rng(1)
    maps = [rng.integers(0, 5, size=(6, rng.integers(1, 8))).astype(np.float32) for _ in range(300)]  # many ties
    top = TopK([5, 0, 2], 7)
    for clip, activations in enumerate(maps):
        top.update(clip, activations)
        assert all(len(heap) <= 7 for heap in top.heaps.values())
    for unit, hits in top.ranking().items():
        expected = sorted(
            ((float(m[unit].max()), c, int(m[unit].argmax())) for c, m in enumerate(maps)), key=lambda p: (-p[0], p[1])
        )[:7]
        assert [(h.activation, h.clip, h.step) for h in hits] == expected


def test_long_clips_stream_through_the_chunked_path(clips):
    _, paths = clips
    long, short = paths[-1], paths[0]
    counted = [0]
    blocks = list(heard_blocks(long, 256.0, counted, block_samples=22_050))
    assert max(block.shape[-1] for block in blocks) <= 22_050  # never the whole 11 s clip at once
    assert torch.equal(torch.cat(blocks, dim=1)[0], load_audio(long)) and counted[0] == len(load_audio(long))
    tiled = torch.cat(list(heard_blocks(short, 256.0, [0])), dim=1)[0]
    assert len(tiled) == 10 * 22050  # a short clip is tiled to 10 s as the evaluation scripts did
    assert torch.equal(tiled, as_heard(load_audio(short)))


def test_units_option():
    assert parse_units("3, 0-2,3", 8) == [3, 0, 1, 2]
    for bad in ("8", "a", "2-x", ""):
        with pytest.raises(ValueError, match="units"):
            parse_units(bad, 8)


def test_filters_png(tmp_path):
    result = CliRunner().invoke(
        cli, ["visualize", "filters", "--model", "example", "--out", str(tmp_path / "conv1.png")]
    )
    assert result.exit_code == 0, result.output
    image = imread(tmp_path / "conv1.png")
    assert image.shape[1] == 1200 and image.shape[0] > 250 and image[..., :3].std() > 0.05


@pytest.mark.parametrize("architecture, kernels", [("soundnet8", 16), ("soundnet5", 32)])
def test_filter_figure_at_full_width(architecture, kernels, tmp_path):
    torch.manual_seed(0)
    model = SoundNet(architecture)
    figure = filters_figure(model)
    width, height = figure.get_size_inches() * 100  # save_figure's default dpi
    assert width == 1200 and 700 < height < 2000
    freqs, decibels = kernel_responses(model.conv1.weight.detach().double().numpy()[:, 0, :])
    assert decibels.shape == (kernels, 513) and np.allclose(decibels.max(axis=1), 0)  # dB re. each kernel's peak
    order = [int(k) for k in np.argsort(freqs[decibels.argmax(axis=1)], kind="stable")]
    top, bottom = figure.subfigs
    heat, panels = top.axes[0], bottom.axes[: 2 * kernels]
    assert [t.get_text() for t in heat.get_yticklabels()] == [f"kernel {k}" for k in order]
    assert heat.get_xlabel() == "frequency (kHz)"
    time_axes, freq_axes = panels[0::2], panels[1::2]
    assert [ax.get_title(loc="left") for ax in time_axes] == [f"kernel {k}" for k in order]  # 0-based, as --units
    assert {ax.get_xlabel() for ax in time_axes} == {"ms"} and {ax.get_xlabel() for ax in freq_axes} == {"kHz"}
    assert freq_axes[0].get_ylabel() == "dB re. peak" and time_axes[0].get_ylabel() == "weight"
    assert all(ax.get_title(loc="left").startswith("peak ") for ax in freq_axes)
    save_figure(figure, tmp_path / "conv1.png")
    assert imread(tmp_path / "conv1.png").shape[1] == 1200


PROBE = """<script>
for (const a of document.querySelectorAll('audio')) a.preload = 'metadata';
for (const i of document.querySelectorAll('img')) i.loading = 'eager';
const images = [...document.images].map(i => new Promise(done => {
  const report = () => done({src: i.getAttribute('src'), width: i.naturalWidth});
  if (i.complete) report(); else { i.addEventListener('load', report); i.addEventListener('error', report); }
}));
const players = [...document.querySelectorAll('audio')].map(a => new Promise(done => {
  const report = () => done({src: a.getAttribute('src'), ready: a.readyState, duration: a.duration,
                             error: a.error && a.error.code});
  a.addEventListener('loadedmetadata', report); a.addEventListener('error', report); a.load();
}));
document.querySelector('#index th[data-key="selectivity"]').click();  // the sort script runs
Promise.all([Promise.all(players), Promise.all(images)]).then(([p, i]) => {
  const out = document.createElement('pre'); out.id = 'check';
  out.textContent = JSON.stringify({players: p, images: i,
    order: [...document.querySelectorAll('#index tbody tr')].map(r => r.dataset.selectivity)});
  document.body.append(out); console.log('probe finished');
});
</script>
</body>"""


def test_page_loads_in_headless_chromium(chromium, page, tmp_path):
    out, ranking = page
    checked = out / "probe.html"  # beside index.html, so the relative links resolve the same way
    checked.write_text((out / "index.html").read_text().replace("</body>", PROBE))
    run = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            checked.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="check">(.*?)</pre>', run.stdout)
    assert found, f"the probe did not run; chromium said: {run.stderr[-2000:]}"
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert [p["src"] for p in result["players"]] == [h["audio"] for h in ranking["hits"]]
    for player, hit in zip(result["players"], ranking["hits"]):
        assert player["error"] is None and player["ready"] >= 1, player  # HAVE_METADATA or better
        assert player["duration"] == pytest.approx(hit["input_end_s"] - hit["input_start_s"], abs=1e-3)
        assert (out / hit["audio"]).is_file()
    assert [i["src"] for i in result["images"]] == [h["thumbnail"] for h in ranking["hits"]]
    assert all(i["width"] == 160 for i in result["images"])  # every thumbnail exists and decodes
    order = [float(v) for v in result["order"] if v]
    assert order == sorted(order, reverse=True) and len(order) == len(UNITS)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert len(console) == 1 and "probe finished" in console[0], console


@pytest.mark.parametrize(
    "args, message",
    [
        (["--units", "40"], "units must lie in 0..31"),
        (["--layer", "conv9"], "has no layer 'conv9'"),
        (["--list", "{missing}"], "no such audio file"),
    ],
)
def test_units_errors_are_one_line(clips, tmp_path, args, message):
    folder, _ = clips
    (tmp_path / "bad.txt").write_text("nothing.wav\n")
    args = [a.format(missing=tmp_path / "bad.txt") for a in args]
    base = [
        "visualize",
        "units",
        "--model",
        "example",
        "--list",
        str(folder / "clips.txt"),
        "--out",
        str(tmp_path / "o"),
    ]
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output and not (tmp_path / "o").exists()


def test_filters_error_is_one_line(tmp_path):
    missing = tmp_path / "none.t7"
    result = CliRunner().invoke(
        cli, ["visualize", "filters", "--model", str(missing), "--out", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert f"no such model file: {missing}" in result.output
