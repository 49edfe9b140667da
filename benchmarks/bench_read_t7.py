"""Benchmark .t7 loading on a full-width SoundNet8-sized .t7 (about 115 MB): ours against torchfile and Torch7.

    python3 benchmarks/bench_read_t7.py [--runs N] [--cache-dir DIR]

Readers: convert.read_t7 (the object tree), soundnet.load (a ready SoundNet, as torch.load gives a ready
net in Torch7), torchfile.load, and Torch7's own torch.load (benchmarks/torch7_server.lua, one warm luajit
process) when the runtime is present; they take turns run by run.

The file is built once (cached) in the released layout: every weight/bias a view
into one flat storage of 14,352,713 floats, every gradWeight/gradBias a view into
a second one. Each timed load runs in a fresh subprocess so its peak RSS above
the interpreter baseline (imports done) can be measured. Also reports the ascii
parse speed on the real ascii file from ../shared/torch7.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from side_by_side import cpu_description, ratio, spread, start_torch7  # noqa: E402

TIME_TARGET, RSS_TARGET, ASCII_TARGET_MBS = 1.1, 1.5, 20.0
FULL_PARAMETERS = 14_352_713

# (name, nIn, nOut, k) of the full-width SoundNet8 convolutions; a BN follows every body conv.
CONV_SHAPES = [
    ("conv1", 1, 16, 64),
    ("conv2", 16, 32, 32),
    ("conv3", 32, 64, 16),
    ("conv4", 64, 128, 8),
    ("conv5", 128, 256, 4),
    ("conv6", 256, 512, 4),
    ("conv7", 512, 1024, 4),
]
HEAD_SHAPES = [("conv8", 1024, 1000, 8), ("conv8_2", 1024, 401, 8)]

_CHILD = r"""
import json, sys, time
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
which, path = sys.argv[1], sys.argv[2]
if which == "read_t7":
    import numpy, convert
    load = convert.read_t7
elif which == "soundnet.load":
    import soundnet
    load = soundnet.load
else:
    import numpy, torchfile
    def load(p):
        try:
            return torchfile.load(p)
        except ValueError:
            return torchfile.load(p, use_list_heuristic=False)
base = status("VmRSS:")
t0 = time.perf_counter()
value = load(path)
elapsed = time.perf_counter() - t0
print(json.dumps({"time": elapsed, "rss": status("VmHWM:") - base}))
"""


def _plain_table_tree():
    """The released-layout module list built from CONV_SHAPES alone (used when soundnet.export_t7 is absent)."""
    import numpy as np

    import convert

    weights = convert.Storage.from_array(
        np.random.default_rng(0).standard_normal(FULL_PARAMETERS, dtype=np.float32), "torch.CudaStorage"
    )
    grads = convert.Storage.from_array(np.zeros(FULL_PARAMETERS, np.float32), "torch.CudaStorage")
    offset = 0

    def views(shape):
        nonlocal offset
        stride = [int(np.prod(shape[i + 1 :])) for i in range(len(shape))]
        pair = [convert.make_tensor(s, offset, shape, stride, "torch.CudaTensor") for s in (weights, grads)]
        offset += int(np.prod(shape))
        return pair

    def layer(typename, shapes, **extra):
        (w, gw), (b, gb) = views(shapes[0]), views(shapes[1])
        return convert.TorchObject(typename, {"weight": w, "bias": b, "gradWeight": gw, "gradBias": gb, **extra})

    def conv(n_in, n_out, k):
        shapes = [(n_out, n_in, k, 1), (n_out,)]
        return layer("cudnn.SpatialConvolution", shapes, nInputPlane=n_in, nOutputPlane=n_out, kW=1, kH=k)

    modules = []
    for _, n_in, n_out, k in CONV_SHAPES:
        modules.append(conv(n_in, n_out, k))
        modules.append(
            layer(
                "nn.SpatialBatchNormalization",
                [(n_out,), (n_out,)],
                eps=1e-5,
                momentum=0.1,
                running_mean=np.zeros(n_out, np.float32),
                running_var=np.ones(n_out, np.float32),
            )
        )
        modules[-1].version = 2
    heads = [conv(n_in, n_out, k) for _, n_in, n_out, k in HEAD_SHAPES]
    modules.append(convert.TorchObject("nn.ConcatTable", {"modules": heads, "train": False}))
    assert offset == FULL_PARAMETERS, offset
    return convert.TorchObject("nn.Sequential", {"modules": modules, "train": False})


def build_file(path: Path, layout: str) -> str:
    """Write the benchmark file; prefer the project's own exporter when it is in the tree."""
    try:
        import soundnet

        soundnet.export_t7(soundnet.SoundNet8(), path, layout=layout)
        return f"soundnet.export_t7(SoundNet8(), layout={layout!r})"
    except (ImportError, AttributeError, TypeError):
        if layout != "released":
            raise
        import convert

        convert.write_t7(_plain_table_tree(), path)
        return "benchmarks/bench_read_t7.py layer table"


def measure(path: Path, runs: int, torch7) -> dict[str, list[dict]]:
    """Time and peak RSS (bytes above baseline) per reader and run: Python readers in fresh subprocesses.

    The readers alternate run by run so that load on a shared machine hits all alike.
    """
    samples: dict[str, list[dict]] = {"read_t7": [], "soundnet.load": [], "torchfile": []}
    if torch7:
        samples["Torch7 torch.load"] = []
        torch7.seconds(f"load {path}")  # warm-up, as the Python readers' imports are outside their timing
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for _ in range(runs):
        for which, results in samples.items():
            if which.startswith("Torch7"):
                results.append({"time": torch7.seconds(f"load {path}")[0]})
                continue
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, which, str(path)], capture_output=True, text=True, env=env, check=True
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return samples


def report(path: Path, samples: dict[str, list[dict]]) -> None:
    size = path.stat().st_size
    print(f"file: {path} ({size / 1e6:.1f} MB), median of {len(samples['read_t7'])} runs (ms)")
    times = {which: [r["time"] for r in results] for which, results in samples.items()}
    for which, seconds in times.items():
        line = f"  load {which:<18} {spread(seconds)}"
        if "Torch7 torch.load" in times and not which.startswith("Torch7"):
            line += f" | {ratio(times['Torch7 torch.load'], seconds)}"
        print(line)
    (ours_t, ours_rss), (tf_t, tf_rss) = (
        (statistics.median(r["time"] for r in samples[which]), statistics.median(r["rss"] for r in samples[which]))
        for which in ("read_t7", "torchfile")
    )
    print(f"  read time: read_t7 / torchfile.load = {ours_t / tf_t:.2f}x (target <= {TIME_TARGET}x)")
    print(
        f"  peak RSS above baseline: read_t7 {ours_rss / 1e6:.1f} MB = {ours_rss / size:.2f}x file size "
        f"(target <= {RSS_TARGET}x), torchfile.load {tf_rss / 1e6:.1f} MB = {tf_rss / size:.2f}x"
    )


def ascii_speed(runs: int) -> tuple[Path, float] | None:
    refs = Path(os.environ.get("SOUNDNET_TORCH7_REFS", REPO.parent / "shared" / "torch7"))
    path = refs / "soundnet8_finetune_quarter_ascii.t7"
    if not path.is_file():
        return None
    import convert

    best = []
    for _ in range(runs):
        t0 = time.perf_counter()
        convert.read_t7(path)
        best.append(time.perf_counter() - t0)
    return path, path.stat().st_size / statistics.median(best) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "soundnet_t7_bench")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(cpu_description())
    torch7 = start_torch7(1)
    try:
        # the released layout (cudnn classes, CudaTensor) only loads where cutorch is: Torch7 reads the nn one
        for layout, server in (("released", None), ("torch", torch7)):
            path = args.cache_dir / f"soundnet8_full_{layout}.t7"
            if not path.is_file():
                t0 = time.perf_counter()
                how = build_file(path, layout)
                print(f"built {path} with {how} in {time.perf_counter() - t0:.1f} s")
            report(path, measure(path, args.runs, server))
    finally:
        if torch7:
            torch7.close()
    speed = ascii_speed(args.runs)
    if speed is None:
        print("ascii: reference file not found (set SOUNDNET_TORCH7_REFS)")
    else:
        print(f"ascii parse: {speed[0].name} at {speed[1]:.1f} MB/s (target >= {ASCII_TARGET_MBS} MB/s)")


if __name__ == "__main__":
    main()
