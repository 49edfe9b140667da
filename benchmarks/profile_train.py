"""Where the time of one training step goes: the operators of one step, by input shape (torch.profiler).

    python3 benchmarks/profile_train.py [--threads 1] [--batch 8] [--top 25]

The step of bench_train.py (full-width SoundNet8, B x 20 s, forward + teacher loss + backward + Torch's
Adam) after two warm-up steps; one line per operator and input shape, by self time (a layer's forward,
backward and weight gradient show up as the convolution, BN, pooling and copy operators on its shapes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_train import training_step
from side_by_side import cpu_description

from soundnet.cli.allocator import tune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    tune()
    torch.set_num_threads(args.threads)
    step = training_step(args.batch, args.threads)
    for _ in range(2):
        step()
    start = time.perf_counter()
    step()
    seconds = time.perf_counter() - start
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        step()
    print(cpu_description())
    print(
        f"training step, full SoundNet8, batch {args.batch} x 20 s, {args.threads} thread(s): "
        f"{seconds * 1e3:.0f} ms unprofiled; self time per operator and input shape (ms, calls):"
    )
    events = sorted(profiler.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    for event in events[: args.top]:
        shapes = str(event.input_shapes)[:90]
        print(f"  {event.self_cpu_time_total / 1e3:8.1f} {event.count:5d}  {event.key:<32} {shapes}")


if __name__ == "__main__":
    main()
