"""Conversion and forward speed of full-width SoundNet8, side by side in one run.

    python3 benchmarks/bench_model.py [--repeats 9]

1. Convert a full-width SoundNet8 .t7 in the released layout (cudnn classes, CudaTensor, weights and
   gradients as views into two flat storages: ~115 MB, written with convert.write_t7) to safetensors:
   wall time and peak RSS, each in a fresh process, against torchfile.load of the same file alone.
   Target: conversion <= 1.5 x torchfile's read time.
2. Forward of one 20 s clip (441,000 samples), eval mode, inference_mode, with 1 and 2 threads, for the
   layer implementations tried: plain Conv1d, Conv2d with k x 1 kernels (Torch's layout), and ours
   (polyphase stride-1 conv for the low-channel strided layers, im2col + matmul for the deep short ones,
   Conv1d in between).
   Targets: <= 65 ms on one thread (>= 4x Torch7's ~260 ms, >= 300x real time).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCH7_FORWARD_MS = 260.0  # Torch7 CPU forward, full SoundNet8, one 20 s clip, one thread (MANIFEST step 5)
CLIP_SECONDS = 20.0
CACHE = Path(tempfile.gettempdir()) / "soundnet_bench"

CHILD = r"""
import json, sys, time
what, src, dst = sys.argv[1:4]
if what == "torchfile":
    import torchfile
else:
    import soundnet
def status(key):  # kB; VmHWM is this process's own peak (ru_maxrss would include the parent's)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))
base = status("VmRSS:")
start = time.perf_counter()
if what == "torchfile":
    torchfile.load(src)
else:
    soundnet.convert_file(src, dst)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rss_mb": (status("VmHWM:") - base) / 1024}))
"""


def full_width_t7() -> Path:
    import soundnet

    path = CACHE / "soundnet8_full_released.t7"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        soundnet.export_t7(soundnet.SoundNet8().eval(), path, layout="released")
    return path


def in_fresh_process(what: str, src: Path, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, what, str(src), str(CACHE / "out.safetensors")],
                             check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout))
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "rss_mb": statistics.median(r["rss_mb"] for r in runs)}


def conversion(repeats: int) -> None:
    src = full_width_t7()
    size_mb = src.stat().st_size / 1e6
    reader = in_fresh_process("torchfile", src, repeats)
    ours = in_fresh_process("convert", src, repeats)
    print(f"full SoundNet8 .t7, released layout: {size_mb:.1f} MB")
    print(f"  torchfile.load alone      {reader['seconds'] * 1e3:8.1f} ms   peak RSS +{reader['rss_mb']:.0f} MB")
    print(f"  soundnet convert -> safet. {ours['seconds'] * 1e3:7.1f} ms   peak RSS +{ours['rss_mb']:.0f} MB")
    print(f"  ratio convert / torchfile: {ours['seconds'] / reader['seconds']:.2f}x (target <= 1.5x); "
          f"convert peak RSS {ours['rss_mb'] / size_mb:.2f}x the file size")


def conv2d_forward(self, x):
    """Torch7's own layout: B x C x N x 1 with k x 1 kernels."""
    import torch.nn.functional as F

    return F.conv2d(x.unsqueeze(-1), self.weight.unsqueeze(-1), self.bias,
                    (self.stride[0], 1), (self.padding[0], 0)).squeeze(-1)


def forward_timings(repeats: int) -> None:
    import torch

    import soundnet
    from soundnet.model.layers import TorchConv1d

    model = soundnet.SoundNet8().eval()
    clip = torch.randn(1, 1, int(CLIP_SECONDS * soundnet.SAMPLE_RATE)) * 40
    convs = [m for m in model.modules() if isinstance(m, TorchConv1d)]
    ours = [(m.polyphase, m.im2col) for m in convs]

    def configure(variant: str) -> None:
        for module, (polyphase, im2col) in zip(convs, ours):
            module.__dict__.pop("forward", None)
            module.polyphase, module.im2col = (polyphase, im2col) if variant == "ours" else (False, False)
            if variant == "conv2d":
                module.forward = conv2d_forward.__get__(module)

    variants = {"Conv1d (plain)": "plain", "Conv2d k x 1": "conv2d", "ours (polyphase/im2col/Conv1d)": "ours"}
    print(f"forward, one 20 s clip, full SoundNet8, eval + inference_mode (median of {repeats}):")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, variant in variants.items():
            configure(variant)
            with torch.inference_mode():
                for _ in range(2):
                    model(clip)
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    model(clip)
                    times.append(time.perf_counter() - start)
            ms = statistics.median(times) * 1e3
            print(f"  {threads} thread{'s' if threads > 1 else ' '} {name:<31} {ms:7.1f} ms  "
                  f"{CLIP_SECONDS * 1e3 / ms:6.0f}x real time  {TORCH7_FORWARD_MS / ms:4.1f}x Torch7")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    conversion(max(3, args.repeats // 3))
    forward_timings(args.repeats)


if __name__ == "__main__":
    main()
