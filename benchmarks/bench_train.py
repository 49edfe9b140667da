"""Training-step speed against Torch7, side by side: full-width SoundNet8, batch 8 x 20 s, CPU.

    python3 benchmarks/bench_train.py [--rounds 3] [--batch 8] [--repeat 2]

One step = forward + the teacher loss (8 KL terms x 250 / 8) + backward + Torch's Adam, on random
waveforms and teacher targets (decoding is not timed). Taking turns round by round after one warm-up
step each: Torch7 (benchmarks/torch7_server.lua: main_train.lua's modules, criterion and optim.adam) on
1 thread, ours in one process on 1 and on 2 threads, and ours as 2 DDP ranks (gloo, 1 thread and half
the batch each, synchronised BN) kept running between rounds. A turn is one untimed step and then --repeat
timed steps (the steady rate of a training run, for Torch7 and ours alike). Each line: median and range of
seconds per step, clips/s and the ratio. Targets: >= 4x Torch7 on one thread; 2 DDP ranks faster than one
process.
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

from side_by_side import CLIP_SAMPLES, both, cpu_description, interleaved, start_torch7, timed, wall

from soundnet.cli.allocator import tune
from soundnet.model.network import SoundNet8
from soundnet.training import distributed
from soundnet.training.losses import teacher_loss
from soundnet.training.optim import TorchAdam
from soundnet.training.train import init_original


def training_step(batch: int, threads: int, context: distributed.Context | None = None, seed: int = 0):
    """A function running one training step on `batch` random clips of this process."""
    generator = torch.Generator().manual_seed(seed)
    model = init_original(SoundNet8(), generator).train()
    net: torch.nn.Module = model
    if context is not None:
        distributed.synchronise_batchnorm(model)
        net = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = TorchAdam(model.parameters())
    waveform = torch.randn(batch, CLIP_SAMPLES, generator=generator).clamp_(-3, 3).mul_(40)
    targets = tuple(torch.softmax(2 * torch.randn(batch, c, 4, generator=generator), 1) for c in (1000, 401))

    def step() -> None:
        torch.set_num_threads(threads)
        optimizer.zero_grad(set_to_none=True)
        teacher_loss(net(waveform), targets).backward()
        optimizer.step()

    return step


def _rank(rank: int, port: int, batch: int, commands, done) -> None:
    """A DDP rank that runs one step per command until it reads None."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    tune()
    context = distributed.setup("cpu")
    try:
        step = timed(training_step(batch, 1, context, seed=rank))
        done.put(0.0)
        while commands.get() is not None:
            done.put(step()[1])
    finally:
        distributed.teardown(context)


class DDPRanks:
    """Two gloo ranks on half the batch each, alive across rounds so that a round times one step only."""

    def __init__(self, batch: int):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        context = mp.get_context("spawn")
        self.commands = [context.Queue() for _ in range(2)]
        self.done = context.Queue()
        self.processes = [
            context.Process(target=_rank, args=(rank, port, batch // 2, self.commands[rank], self.done))
            for rank in range(2)
        ]
        for process in self.processes:
            process.start()
        self._wait()

    def _wait(self) -> float:
        """The CPU seconds both ranks spent on their step."""
        return sum(self.done.get(timeout=1200) for _ in range(2))

    def step(self) -> tuple[float, float]:
        start = time.perf_counter()
        for queue in self.commands:
            queue.put("step")
        cpu_seconds = self._wait()
        return time.perf_counter() - start, cpu_seconds

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for process in self.processes:
            process.join(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2, help="timed steps per turn, after one untimed")
    args = parser.parse_args()
    tune()
    print(cpu_description(), flush=True)
    print(
        f"training step, full SoundNet8, batch {args.batch} x 20 s (forward + loss + backward + Adam), "
        f"{args.rounds} rounds of {args.repeat} timed steps after an untimed one",
        flush=True,
    )
    torch7 = start_torch7(1)
    ranks = DDPRanks(args.batch)
    try:
        measures = {}
        if torch7:
            measures["Torch7, 1 thread"] = lambda: torch7.seconds(f"train {args.batch}")
        measures["ours, 1 process, 1 thread"] = timed(training_step(args.batch, 1))
        measures["ours, 1 process, 2 threads"] = timed(training_step(args.batch, 2))
        measures["ours, 2 DDP ranks x 1 thread"] = ranks.step
        samples = interleaved(measures, args.rounds, args.repeat)
    finally:
        ranks.close()
        if torch7:
            torch7.close()
    theirs = samples.get("Torch7, 1 thread")
    for name, seconds in samples.items():
        clips = args.batch / statistics.median(wall(seconds))
        print(f"{both(name, seconds, None if name.startswith('Torch7') else theirs, 1, 's')}; {clips:.2f} clips/s")
    names = ("1 process, 1 thread", "1 process, 2 threads", "2 DDP ranks x 1 thread")
    one_process, two_threads, ddp = (statistics.median(wall(samples[f"ours, {name}"])) for name in names)
    print(
        f"2 DDP ranks, wall time: {one_process / ddp:.2f}x faster than 1 process on 1 thread, "
        f"{two_threads / ddp:.2f}x than 1 process on 2 threads (target > 1x)"
    )


if __name__ == "__main__":
    main()
