"""Where the time of one forward goes: per layer, module by module versus the time-major inference path.

    python3 benchmarks/profile_layers.py [--rounds 15] [--threads 1] [--batch 1]

Full-width SoundNet8 (random weights, non-trivial BN statistics), eval mode, inference_mode, one 20 s
clip by default. "modules" runs each nn module in turn (conv, BN, ReLU, pool: the path autograd and
training use, and the eval path before soundnet/model/inference.py); "time-major" runs the steps of
`time_major_stages` (BN folded into the conv, ReLU after the pool). The two paths are timed in
alternating rounds; each figure is the median over rounds, with the median total of whole passes.
Both paths run layer by layer on the whole batch here (the model runs conv1 and conv2 depth first, clip
by clip, see `time_major_forward`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from side_by_side import CLIP_SAMPLES, cpu_description

from soundnet.cli.allocator import tune
from soundnet.model.inference import time_major_stages
from soundnet.model.network import SoundNet8


def benchmark_model() -> torch.nn.Module:
    """SoundNet8 with BN statistics away from (0, 1), so that folding BN is not a no-op."""
    generator = torch.Generator().manual_seed(0)
    model = SoundNet8().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 1, generator=generator)
                module.running_var.uniform_(0.5, 2, generator=generator)
                module.weight.normal_(1, 0.1, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)
    return model


def module_steps(model) -> list[tuple[str, object]]:
    steps = [(spec.name, model.get_submodule(spec.name)) for spec in model.architecture.body]
    heads = model.head_modules()
    return steps + [("heads", lambda h: tuple(head(h) for head in heads))]


def timed_pass(steps, x) -> dict[str, float]:
    times = {}
    for name, step in steps:
        start = time.perf_counter()
        x = step(x)
        times[name] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    tune()
    torch.set_num_threads(args.threads)
    model = benchmark_model()
    clip = torch.randn(args.batch, 1, CLIP_SAMPLES, generator=torch.Generator().manual_seed(1)) * 40
    head = model.architecture.head
    paths = {
        "modules": (module_steps(model), clip),
        "time-major": (
            [(stage.name, stage.run) for stage in time_major_stages(model, head, model._time_major)],
            clip.reshape(args.batch, -1, 1),
        ),
    }
    print(cpu_description())
    print(
        f"per-layer time, full SoundNet8, batch {args.batch} x 20 s, {args.threads} thread(s), "
        f"median of {args.rounds} rounds (ms)"
    )
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    with torch.inference_mode():
        for round_number in range(args.rounds + 2):
            for name, (steps, x) in paths.items() if round_number % 2 else reversed(paths.items()):
                times = timed_pass(steps, x)
                if round_number >= 2:
                    samples[name].append(times)
    for name, rounds in samples.items():
        totals = [sum(r.values()) for r in rounds]
        print(
            f"{name}: total {statistics.median(totals) * 1e3:.1f} ms ({min(totals) * 1e3:.1f}-{max(totals) * 1e3:.1f})"
        )
        for step in rounds[0]:
            values = [r[step] * 1e3 for r in rounds]
            share = statistics.median(values) / (statistics.median(totals) * 1e3)
            print(f"  {step:<14} {statistics.median(values):7.2f}  ({share:5.1%})")


if __name__ == "__main__":
    main()
