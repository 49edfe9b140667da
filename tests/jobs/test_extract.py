"""extract_features and the extraction job: features, pooling, file layouts, batching, resume, shards, merge."""

from __future__ import annotations

import os
import threading
import time

import h5py
import numpy as np
import pytest
import torch

import soundnet
import soundnet.jobs.extraction as extract_job
from audio_fixtures import small_soundnet8, truncate, write_audio
from soundnet.formats.loading import model_sha256
from soundnet.jobs.clip_lists import read_list
from soundnet.jobs.extraction import extract_files, parse_shard, select_shard, shard_target
from soundnet.jobs.feature_files import (
    CATEGORY_SUFFIX,
    FEATURE_SUFFIX,
    clip_key,
    feature_settings,
    merge_consolidated,
    output_path,
    read_index,
    read_settings,
    step_geometry,
    torch7_squeeze,
    write_categories_file,
    write_consolidated,
    write_layer_file,
)
from soundnet.jobs.feature_sinks import ConsolidatedSink
from tolerances import close

MODEL = small_soundnet8()


def features_of(path, layer=24, pool="none") -> np.ndarray:
    return soundnet.extract_features(MODEL, soundnet.load_audio(path), layer, pool=pool)[0].numpy()


def test_extract_layers_pooling_and_batches():
    x = torch.randn(7 * 22050) * 40
    features = soundnet.extract_features(MODEL, x)
    with torch.no_grad():
        expected = MODEL.forward_features(x, 24)
    steps = MODEL.architecture.output_length(len(x), MODEL.architecture.layer(24))
    assert features.shape == expected.shape == (1, 16, steps)  # the same B x C x T as forward_features
    assert close(features, expected)
    assert torch.equal(soundnet.extract_features(MODEL, x, "relu7"), features)
    assert close(soundnet.extract_features(MODEL, x, pool="mean"), features.mean(-1))
    assert torch.equal(soundnet.extract_features(MODEL, x, pool="max"), features.amax(-1))
    batch = soundnet.extract_features(MODEL, torch.stack([x, -x]), 18)
    assert batch.shape[0] == 2 and close(batch[1:], soundnet.extract_features(MODEL, -x, 18))
    heads = soundnet.extract_features(MODEL, torch.randn(10 * 22050), 25)
    assert isinstance(heads, soundnet.HeadOutputs) and heads.objects.shape[1] == 10 and heads.scenes.shape[1] == 6
    clips = soundnet.extract_features(MODEL, [x, x[: 5 * 22050]], 24)  # a list of any lengths: one output each
    assert torch.equal(clips[0], features) and clips[1].shape[-1] < steps
    with pytest.raises(ValueError, match="pool must be"):
        soundnet.extract_features(MODEL, x, pool="sum")
    with pytest.raises(ValueError, match="no layer 26"):
        soundnet.extract_features(MODEL, x, 26)
    with pytest.raises(ValueError, match="audio must be"):
        soundnet.extract_features(MODEL, 3.0)


def test_layer_file_layouts_as_the_original(tmp_path):
    features = np.random.rand(16, 5).astype(np.float64)
    with h5py.File(write_layer_file(tmp_path / "a.h5", 24, features, {}), "r") as handle:
        assert list(handle) == ["layer24"]
        assert handle["layer24"].shape == (16, 5) and handle["layer24"].dtype == np.float32
    with h5py.File(write_layer_file(tmp_path / "b.h5", 18, features[:, :1], {}), "r") as handle:
        assert handle["layer18"].shape == (16,)  # Torch's squeeze() drops T = 1 too
    assert torch7_squeeze(np.ones((1, 1))).shape == (1,)
    geometry = step_geometry(MODEL, MODEL.architecture.head)
    written = write_categories_file(
        tmp_path / "c.h5",
        {"object": np.ones((10, 3)), "scene": np.ones((6, 3))},
        geometry,
        samples=3 * 22050,
        repeats=4,
    )
    with h5py.File(written, "r") as handle:
        assert sorted(handle) == ["object", "scene", "times"]
        assert handle.attrs["tiled"] and handle.attrs["tile_repeats"] == 4
        assert (handle["times"][()] < 3.0).all()  # folded back onto the 3 s clip's timeline
        assert handle["object"].shape == (1, 10, 3, 1) and handle["scene"].shape == (1, 6, 3, 1)
        assert handle["object"].dtype == np.float32


def test_output_paths(tmp_path):
    assert output_path("dir/a.mp3", FEATURE_SUFFIX) == output_path("dir/./a.mp3", FEATURE_SUFFIX)
    assert str(output_path("dir/a.mp3", FEATURE_SUFFIX)) == "dir/a.mp3.soundnet.h5"
    assert output_path("dir/a.mp3", CATEGORY_SUFFIX, tmp_path) == tmp_path / "dir/a.mp3.soundnet_categories.h5"
    assert output_path("/data/a.wav", FEATURE_SUFFIX, tmp_path) == tmp_path / "data/a.wav.soundnet.h5"
    assert output_path("../a.wav", FEATURE_SUFFIX, tmp_path).is_relative_to(tmp_path)


@pytest.fixture
def clips(tmp_path):
    """Formats, rates and channel counts the original met, plus a mix of lengths for batching."""
    specs = [
        ("a.wav", 5.0, 22050, 1),
        ("b.wav", 5.0, 22050, 1),
        ("c.flac", 5.0, 44100, 2),
        ("d.ogg", 3.0, 48000, 1),
        ("e.mp3", 4.0, 22050, 2),
        ("f.wav", 0.6, 22050, 1),
        ("g.wav", 5.0, 22050, 1),
    ]
    return [
        str(write_audio(tmp_path / name, seconds, rate, channels, seed=i))
        for i, (name, seconds, rate, channels) in enumerate(specs)
    ]


def test_per_file_outputs_skip_and_force(clips):
    report = extract_files(MODEL, clips, batch_size=2, workers=0)
    assert (report.written, report.skipped, report.failures) == (len(clips), 0, [])
    for path in clips:
        with h5py.File(path + FEATURE_SUFFIX, "r") as handle:
            assert close(handle["layer24"][()], features_of(path))
    stamp = clips[0] + FEATURE_SUFFIX
    before = os.stat(stamp).st_mtime_ns
    again = extract_files(MODEL, clips, workers=0)
    assert (again.written, again.skipped) == (0, len(clips))
    assert os.stat(stamp).st_mtime_ns == before
    forced = extract_files(MODEL, clips[:2], workers=0, force=True, layer=18, pool="max")
    assert forced.written == 2
    with h5py.File(stamp, "r") as handle:
        assert list(handle) == ["layer18"] and handle["layer18"].shape == (8,) and handle.attrs["pool"] == "max"


def test_workers_and_streaming_give_the_same_features(clips, tmp_path, monkeypatch):
    extract_files(MODEL, clips, workers=2, out_dir=tmp_path / "workers", batch_size=3)
    monkeypatch.setattr(extract_job, "STREAM_SECONDS", 1.0)  # every clip over 1 s is streamed in blocks
    extract_files(MODEL, clips, workers=0, out_dir=tmp_path / "streamed")
    for path in clips:
        expected = features_of(path)
        for folder in ("workers", "streamed"):
            with h5py.File(output_path(path, FEATURE_SUFFIX, tmp_path / folder), "r") as handle:
                assert close(handle["layer24"][()], expected), (folder, path)


def test_broken_files_are_reported_and_skipped(clips, tmp_path):
    silent = write_audio(tmp_path / "silent.wav", 2.0)
    silent.write_bytes(silent.read_bytes()[:44] + bytes(len(silent.read_bytes()) - 44))
    bad = [
        str(truncate(write_audio(tmp_path / "cut.flac", 3.0))),
        str(tmp_path / "missing.wav"),
        str(tmp_path / "text.wav"),
        str(write_audio(tmp_path / "tiny.wav", 0.05)),
    ]
    (tmp_path / "text.wav").write_text("not audio")
    paths = [clips[0], *bad, str(silent), str(truncate(write_audio(tmp_path / "cut.wav", 3.0)))]
    report = extract_files(MODEL, paths, workers=1)
    failed = dict(report.failures)
    assert sorted(failed) == sorted(bad) and report.written == 3
    assert "too short" in failed[bad[3]] and "no such file" in failed[bad[1]]
    assert all("\n" not in reason for reason in failed.values())
    assert np.isfinite(h5py.File(str(silent) + FEATURE_SUFFIX, "r")["layer24"][()]).all()
    for path in bad:
        assert not output_path(path, FEATURE_SUFFIX).exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_strict_aborts_at_the_first_failure(clips, tmp_path):
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ValueError, match="text.wav"):
        extract_files(MODEL, [str(tmp_path / "text.wav"), *clips], workers=0, strict=True)
    assert not any(output_path(path, FEATURE_SUFFIX).exists() for path in clips)


def test_shards_cover_the_list_once_and_merge(clips, tmp_path, monkeypatch):
    assert sorted(sum((select_shard(clips + clips[:2], k, 3) for k in range(3)), [])) == sorted(clips)
    assert parse_shard(None, {}) == (0, 1)
    assert parse_shard(None, {"RANK": "2", "WORLD_SIZE": "4"}) == (2, 4)
    assert parse_shard("1/2", {"RANK": "3", "WORLD_SIZE": "4"}) == (1, 2)
    for spec in ("2/2", "a/b", "1", "-1/2"):
        with pytest.raises(ValueError, match="K/N"):
            parse_shard(spec, {})
    target = tmp_path / "all.h5"
    for k in range(3):
        extract_files(MODEL, clips, h5=target, shard=(k, 3), workers=0, pool="mean")
    parts = [shard_target(target, k, 3) for k in range(3)]
    assert parts[1].name == "all.shard-1-of-3.h5"
    assert merge_consolidated(target, parts) == len(clips)
    index = read_index(target)
    assert sorted(index) == sorted(clips)
    with h5py.File(target, "r") as handle:
        assert handle.attrs["layer"] == 24 and handle.attrs["pool"] == "mean"
        for path in clips:
            stored = handle["features"][index[path]][()]
            assert stored.dtype == np.float32 and close(stored, features_of(path, pool="mean"))
    other = tmp_path / "other.h5"
    extract_files(MODEL, clips[:1], h5=other, workers=0, pool="max")
    with pytest.raises(ValueError, match="pool=max"):
        merge_consolidated(tmp_path / "new.h5", [target, other])
    with pytest.raises(ValueError, match="exists"):
        merge_consolidated(other, [target])
    with pytest.raises(ValueError, match="not a consolidated"):
        merge_consolidated(tmp_path / "new.h5", [target, clips[0]])
    assert not (tmp_path / "new.h5").exists()


def test_consolidated_resumes_from_parts_after_a_kill(clips, tmp_path):
    target = tmp_path / "features.h5"
    attrs = feature_settings(MODEL, MODEL.architecture.layer(24), "none", 256.0, "first")
    # a killed run leaves complete part files (written atomically) and no target
    write_consolidated(
        target.with_name("features.h5.parts") / "part-1.h5", [(clips[0], features_of(clips[0]), 5 * 22050)], attrs
    )
    assert ConsolidatedSink(target, attrs).done(clips[0])
    report = extract_files(MODEL, clips, h5=target, workers=0)
    assert (report.written, report.skipped) == (len(clips) - 1, 1)
    assert sorted(read_index(target)) == sorted(clips)
    assert not target.with_name("features.h5.parts").exists()
    assert extract_files(MODEL, clips, h5=target, workers=0).skipped == len(clips)
    with pytest.raises(ValueError, match=r"layer=24 \(not 18\)"):
        extract_files(MODEL, clips, h5=target, workers=0, layer=18)


def test_job_options_are_checked(clips, tmp_path):
    with pytest.raises(ValueError, match="predict"):
        extract_files(MODEL, clips, layer=25)
    with pytest.raises(ValueError, match="not both"):
        extract_files(MODEL, clips, out_dir=tmp_path, h5=tmp_path / "x.h5")
    (tmp_path / "list.txt").write_text(f"# clips\n{clips[0]}\n\n{clips[1]}\n")
    assert [str(clip.path) for clip in read_list(tmp_path / "list.txt", labels="ignored")] == clips[:2]
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="names no clips"):
        read_list(tmp_path / "empty.txt")
    with pytest.raises(ValueError, match="no such list file"):
        read_list(tmp_path / "absent.txt")
    with pytest.raises(ValueError, match="npz format is for one file per clip"):
        extract_files(MODEL, clips, h5=tmp_path / "x.h5", fmt="npz")
    assert clip_key("a/./b.wav") == clip_key("a/b.wav")


def test_feature_files_record_the_model_settings_hop_and_step_times(clips, tmp_path):
    extract_files(MODEL, clips[:1], workers=0, out_dir=tmp_path / "h5")
    extract_files(MODEL, clips[:1], workers=0, out_dir=tmp_path / "npz", fmt="npz", layer=18)
    field = MODEL.architecture.receptive_field(MODEL.architecture.layer(24))
    with h5py.File(output_path(clips[0], FEATURE_SUFFIX, tmp_path / "h5"), "r") as handle:
        attrs, features, times = dict(handle.attrs), handle["layer24"][()], handle["times"][()]
    assert attrs["model_sha256"] == model_sha256(MODEL) and attrs["model"] == MODEL.name
    assert (attrs["layer"], attrs["layer_name"], attrs["scale"], attrs["pool"]) == (24, "relu7", 256.0, "none")
    assert attrs["hop_samples"] == field.stride and attrs["hop_seconds"] == pytest.approx(field.stride / 22050)
    assert attrs["samples"] == 5 * 22050 and len(times) == features.shape[-1]
    assert times[0] == pytest.approx((field.size - field.offset) / 2 / 22050)  # the window clipped at 0 s
    inside = (2 * field.stride - field.offset + field.size / 2) / 22050  # step 2's window lies inside the clip
    assert times[2] == pytest.approx(inside) and (times >= 0).all() and (times <= 5.0).all()
    with np.load(output_path(clips[0], ".soundnet.npz", tmp_path / "npz")) as archive:
        assert close(archive["layer18"], features_of(clips[0], 18))
        assert int(archive["attr_layer"]) == 18 and str(archive["attr_model_sha256"]) == model_sha256(MODEL)
        assert len(archive["times"]) == archive["layer18"].shape[-1]
    target = tmp_path / "all.h5"
    extract_files(MODEL, clips[:2], workers=0, h5=target)
    with h5py.File(target, "r") as handle:
        key = read_index(target)[clips[0]]
        assert np.allclose(handle["times"][key][()], times) and handle.attrs["hop_samples"] == field.stride


def test_a_rerun_with_other_settings_recomputes_instead_of_keeping_stale_files(clips):
    extract_files(MODEL, clips[:2], workers=0)
    output = clips[0] + FEATURE_SUFFIX
    for change in ({"layer": 18}, {"decoding": extract_job.Decoding(scale=512.0)}, {"pool": "mean"}):
        report = extract_files(MODEL, clips[:2], workers=0, **change)
        assert (report.written, report.skipped) == (2, 0), change
    assert read_settings(output)["pool"] == "mean" and read_settings(output)["layer"] == 24
    assert extract_files(small_soundnet8(seed=5), clips[:1], workers=0, pool="mean").written == 1  # another model
    with h5py.File(output, "w") as handle:  # a file from an older version: no settings recorded
        handle.create_dataset("layer24", data=np.zeros((16, 1), np.float32))
    assert extract_files(MODEL, clips[:1], workers=0).written == 1
    assert extract_files(MODEL, clips[:1], workers=0).skipped == 1


def test_prefetching_thread_passes_errors_and_stops_early():
    def numbers():
        n = 0
        while True:
            n += 1
            yield n

    threads = threading.active_count()
    stream = extract_job._prefetched(numbers())
    assert [next(stream) for _ in range(3)] == [1, 2, 3]
    stream.close()  # the consumer stops: the thread must not run on forever
    deadline = time.monotonic() + 5
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == threads

    def broken():
        yield 1
        raise ValueError("decoder lost sync")

    with pytest.raises(ValueError, match="lost sync"):
        list(extract_job._prefetched(broken()))
