"""Training-step speed on CPU: full-width SoundNet8, batch 8 x 20 s, forward + backward + Torch Adam.

    python3 benchmarks/bench_train.py [--steps N] [--batch B]

Prints clips/s for one process with 1 thread, one process with 2 threads, and 2 DDP ranks (gloo, 1 thread
each, 4 clips per rank, synchronised BN), next to Torch7's figure on this machine (MANIFEST Step 5: a full
SoundNet8 step on a batch of 2 x 20 s took 1.38 s on one thread = 1.45 clips/s). Random waveforms and
teacher targets: the step itself is timed, not decoding. Each figure is the median of --steps timed steps
after one warm-up step.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from soundnet.training import distributed  # noqa: E402
from soundnet.training.losses import teacher_loss  # noqa: E402
from soundnet.model.network import SoundNet8  # noqa: E402
from soundnet.training.optim import TorchAdam  # noqa: E402
from soundnet.training.train import init_original  # noqa: E402

SAMPLES = 441_000
TORCH7_CLIPS_PER_S = 2 / 1.38
TARGET = 2 * TORCH7_CLIPS_PER_S


def step_times(batch: int, steps: int, threads: int, context: distributed.Context | None = None) -> list[float]:
    """Seconds per training step (after one warm-up) for `batch` clips on this process."""
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    model = init_original(SoundNet8(), generator).train()
    net: torch.nn.Module = model
    if context is not None:
        distributed.synchronise_batchnorm(model)
        net = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = TorchAdam(model.parameters())
    waveform = torch.randn(batch, SAMPLES, generator=generator).clamp_(-3, 3).mul_(40)
    targets = tuple(torch.softmax(2 * torch.randn(batch, c, 4, generator=generator), 1) for c in (1000, 401))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        teacher_loss(net(waveform), targets).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def _rank(rank: int, port: int, batch: int, steps: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    context = distributed.setup("cpu")
    try:
        results[rank] = step_times(batch // 2, steps, 1, context)
    finally:
        distributed.teardown(context)


def ddp_times(batch: int, steps: int) -> list[float]:
    """Per-step time of the slower of two gloo ranks, each on half the batch."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank, args=(port, batch, steps, results), nprocs=2)
        return [max(a, b) for a, b in zip(results[0], results[1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    print(f"SoundNet8 full width, training step (forward + backward + Torch Adam), batch {args.batch} x 20 s, CPU "
          f"({os.cpu_count()} cores), torch {torch.__version__}")
    print(f"Torch7 (MANIFEST, 1 thread, batch 2):       {TORCH7_CLIPS_PER_S:6.2f} clips/s   target >= {TARGET:.2f}")
    runs = [("1 process, 1 thread", lambda: step_times(args.batch, args.steps, 1)),
            ("1 process, 2 threads", lambda: step_times(args.batch, args.steps, 2)),
            ("2 DDP ranks (gloo), 1 thread each", lambda: ddp_times(args.batch, args.steps))]
    for label, measure in runs:
        seconds = statistics.median(measure())
        print(f"{label + ':':43s} {args.batch / seconds:6.2f} clips/s   ({seconds:.2f} s/step, "
              f"{args.batch / seconds / TORCH7_CLIPS_PER_S:.1f}x Torch7)")


if __name__ == "__main__":
    main()
