"""Feature extraction speed (layer 24, full-width SoundNet8 with random weights) and memory on long audio.

    python3 benchmarks/bench_extract.py [--clips 200] [--long-minutes 30] [--workers 1] [--skip-naive]

Generates 200 five-second clips (WAV at 22.05 kHz, and MP3 at 44.1 kHz, which must be decoded and
resampled) and one 30-minute WAV in a temporary folder, then times
- the pipeline (soundnet.jobs.extraction.extract_files: decode workers, equal-length batches, in-place
  inference forward, chunked streaming of long files, atomic HDF5 writes), and
- a naive loop as public ports run it: per clip load_audio, model.forward_features on one clip with autograd on,
  write the HDF5 file; the long file loaded whole and passed in one piece,
as audio-seconds per wall-second and their ratio. Then the peak RSS of the chunked path for 1 and 60
minutes of audio, each in a fresh subprocess, from /proc/self/status VmHWM.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from soundnet import SoundNet8, load_audio  # noqa: E402
from soundnet.cli.allocator import tune  # noqa: E402
from soundnet.jobs.extraction import extract_files  # noqa: E402
from soundnet.model.architecture import SAMPLE_RATE  # noqa: E402

LAYER = 24
TARGET = 250.0

_RSS_CHILD = r"""
import sys, torch
from soundnet import SoundNet8
from soundnet.audio import iter_audio_blocks
from soundnet.inference.chunked import default_chunk_samples
from soundnet.inference.features import extract_features
torch.manual_seed(0)
model = SoundNet8().eval()
layer = model.architecture.layer(24)
blocks = iter_audio_blocks(sys.argv[1], default_chunk_samples(model, layer))
features = extract_features(model, blocks, layer)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(features.shape[-1], peak * 1024)
"""


def write_wav(path: Path, seconds: float, seed: int, rate: int = SAMPLE_RATE, block_seconds: float = 60.0) -> Path:
    """A tone-plus-noise WAV (PCM 16) or MP3, written block by block so that hours take little memory."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(80, 4000, size=3)
    total, done = int(seconds * rate), 0
    subtype = "MPEG_LAYER_III" if path.suffix == ".mp3" else "PCM_16"
    with sf.SoundFile(path, "w", rate, 1, subtype=subtype) as handle:
        while done < total:
            n = min(int(block_seconds * rate), total - done)
            t = (done + np.arange(n)) / rate
            wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 4 + 0.1 * rng.standard_normal(n)
            handle.write(wave.astype(np.float32))
            done += n
    return path


def naive(model: torch.nn.Module, paths: list[Path], out_dir: Path) -> None:
    """One clip at a time, autograd on, whole file in memory: what public ports do."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        features = model.forward_features(load_audio(path)[None, None], LAYER)
        with h5py.File(out_dir / (path.name + ".soundnet.h5"), "w") as handle:
            handle.create_dataset(f"layer{LAYER}", data=features.detach().squeeze().numpy())


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def throughput(
    name: str, model, paths: list[Path], seconds: float, folder: Path, workers: int, skip_naive: bool
) -> None:
    fast = timed(
        lambda: extract_files(
            model, [str(p) for p in paths], layer=LAYER, out_dir=folder / "fast", workers=workers, progress=False
        )
    )
    line = f"{name}: pipeline {seconds / fast:.0f}x real time ({seconds:.0f} s of audio in {fast:.2f} s)"
    if not skip_naive:
        slow = timed(lambda: naive(model, paths, folder / "naive"))
        line += f"; naive loop {seconds / slow:.0f}x ({slow:.2f} s); ratio {slow / fast:.1f}x"
    verdict = "meets" if seconds / fast >= TARGET else "MISSES"
    print(f"{line}; {verdict} the {TARGET:.0f}x target", flush=True)


def peak_rss(path: Path) -> tuple[int, int]:
    result = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path)], capture_output=True, text=True, check=True, cwd=REPO
    )
    steps, peak = result.stdout.split()
    return int(steps), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    tune()  # what the soundnet command does at start (soundnet/cli/allocator.py)
    torch.manual_seed(0)
    model = SoundNet8().eval()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; full-width SoundNet8 (random weights), "
        f"layer {LAYER}; {args.workers} decode worker(s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        folder = Path(tmp)
        clips = [write_wav(folder / f"clip{i:04d}.wav", 5.0, i) for i in range(args.clips)]
        throughput(
            f"{args.clips} clips of 5 s (WAV, 22.05 kHz)",
            model,
            clips,
            5.0 * args.clips,
            folder / "clips",
            args.workers,
            args.skip_naive,
        )
        clips = [write_wav(folder / f"clip{i:04d}.mp3", 5.0, i, rate=44100) for i in range(args.clips)]
        throughput(
            f"{args.clips} clips of 5 s (MP3, 44.1 kHz: decode + resample)",
            model,
            clips,
            5.0 * args.clips,
            folder / "mp3",
            args.workers,
            args.skip_naive,
        )
        long_file = write_wav(folder / "long.wav", args.long_minutes * 60, 1)
        throughput(
            f"one {args.long_minutes:g}-minute file",
            model,
            [long_file],
            args.long_minutes * 60,
            folder / "long",
            args.workers,
            args.skip_naive,
        )
        long_file.unlink()
        rss = {}
        for minutes in (1, 60):
            path = write_wav(folder / f"rss{minutes}.wav", minutes * 60, 2)
            rss[minutes] = peak_rss(path)
            path.unlink()
        (steps1, peak1), (steps60, peak60) = rss[1], rss[60]
        print(
            f"peak RSS, chunked streaming of layer {LAYER}: 1 min {peak1 / 2**20:.0f} MiB ({steps1} steps), "
            f"60 min {peak60 / 2**20:.0f} MiB ({steps60} steps); ratio {peak60 / peak1:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
