"""Shared by the benchmarks: a Torch7 timed in the same run, interleaved rounds, and the machine's description.

Ratios are only meaningful side by side: the machine is shared and noisy, so every benchmark alternates
Torch7 and ours round by round and prints medians with their spread, never a figure from another run.
Every measure gives wall time and CPU time (user + system, all threads of the process): on a machine
whose cores are oversubscribed, wall time mostly measures waiting for a core, and single-thread CPU
time is the figure that still compares the work done.
Torch7 runs in torch7_server.lua (one long-lived luajit per thread count; the runtime's env.sh is sourced
only in that subprocess, as its libtorch.so would shadow PyTorch's).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVER = Path(__file__).resolve().parent / "torch7_server.lua"
CLIP_SAMPLES = 441_000  # 20 s at 22,050 Hz


def torch7_runtime_dir() -> Path:
    """$SOUNDNET_TORCH7_RUNTIME, else torch7-runtime beside the reference folder (../shared by default)."""
    if os.environ.get("SOUNDNET_TORCH7_RUNTIME"):
        return Path(os.environ["SOUNDNET_TORCH7_RUNTIME"])
    refs = os.environ.get("SOUNDNET_TORCH7_REFS")
    return (Path(refs).parent if refs else REPO.parent / "shared") / "torch7-runtime"


class Torch7:
    """torch7_server.lua running with `threads` OpenMP and OpenBLAS threads; times one command per call."""

    def __init__(self, threads: int, runtime: Path):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        script = f'source "{runtime / "env.sh"}" && exec luajit "{SERVER}" {threads}'
        self.process = subprocess.Popen(
            ["bash", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        first = self.process.stdout.readline().strip()
        if first != "ready":
            self.close()
            raise RuntimeError(f"Torch7 benchmark server did not start (said {first!r})")

    def seconds(self, command: str) -> tuple[float, float]:
        """(wall, CPU) seconds of one command in the server."""
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if not answer.startswith("ok "):
            raise RuntimeError(f"Torch7 {command!r}: {answer or 'no answer (server exited)'}")
        wall, cpu = answer[3:].split()
        return float(wall), float(cpu)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def start_torch7(threads: int) -> Torch7 | None:
    """A Torch7 server, or None (with a note) when the runtime is not on this machine."""
    runtime = torch7_runtime_dir()
    if not (runtime / "env.sh").is_file():
        print(f"Torch7 runtime not found at {runtime} (set SOUNDNET_TORCH7_RUNTIME): ours only, no ratios")
        return None
    return Torch7(threads, runtime)


def cpu_description() -> str:
    """Model name, vector ISA and core count from /proc/cpuinfo, the ISA PyTorch dispatches to, load average."""
    import torch

    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    extras = [name for name in ("avx512_bf16", "amx_tile", "avx512_fp16") if name in flags]
    load = "/".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"CPU: {model}, {isa}{' (+' + ', '.join(extras) + ')' if extras else ''}, {os.cpu_count()} cores; "
        f"torch {torch.__version__} dispatching {torch.backends.cpu.get_cpu_capability()}; "
        f"load average {load}"
    )


Sample = tuple[float, float]  # (wall, CPU) seconds

# Pause before each turn. After a multi-threaded call, OpenMP and OpenBLAS worker threads keep spinning
# on their cores for a while (libgomp ~300,000 spins, OpenBLAS up to 2^28 cycles, ~0.1 s), so whatever
# runs next on a 2-core machine, Torch7 or ours, would share a core with them.
SETTLE_SECONDS = 0.2


def interleaved(
    measures: dict[str, Callable[[], Sample]], rounds: int, repeat: int | dict[str, int] = 1
) -> dict[str, list[Sample]]:
    """(wall, CPU) seconds per call of each measure: one warm-up call each, then `rounds` rounds taking turns.

    The order flips every round so that a burst of load from other processes hits every measure alike.
    With `repeat` > 1 a turn is one untimed call and then `repeat` timed calls back to back: the steady
    rate of a job that runs call after call, as extraction does. The first call after the other side's
    turn pays for caches and sleeping worker threads that a short call cannot hide (our one-clip forward
    on 2 threads: 15 ms as a single call after Torch7's turn, 9 ms back to back). `repeat` may differ per
    measure (a dict by name): a short call wants more timed calls per turn than a long one.
    """
    names = list(measures)
    repeats = repeat if isinstance(repeat, dict) else dict.fromkeys(names, repeat)
    for name in names:
        measures[name]()
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_number in range(rounds):
        for name in names if round_number % 2 == 0 else reversed(names):
            time.sleep(SETTLE_SECONDS)
            if repeats[name] > 1:
                measures[name]()
            samples[name] += [measures[name]() for _ in range(repeats[name])]
    return samples


def wall(samples: list[Sample]) -> list[float]:
    return [sample[0] for sample in samples]


def cpu(samples: list[Sample]) -> list[float]:
    return [sample[1] for sample in samples]


def spread(seconds: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    """'median (min-max, n runs)' in `suffix`."""
    values = [s * unit for s in seconds]
    return f"{statistics.median(values):8.1f} {suffix} ({min(values):.1f}-{max(values):.1f}, n={len(values)})"


def ratio(torch7: list[float], ours: list[float]) -> str:
    """Torch7's median over ours, with the range of round-by-round ratios."""
    pairs = sorted(t / o for t, o in zip(torch7, ours))
    times = statistics.median(torch7) / statistics.median(ours)
    return f"{times:5.1f}x Torch7 (call by call {pairs[0]:.1f}-{pairs[-1]:.1f})"


def timed(call: Callable[[], object]) -> Callable[[], Sample]:
    """A measure: the wall and CPU time of one call in this process."""

    def measure() -> Sample:
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        return time.perf_counter() - start, time.process_time() - start_cpu

    return measure


def both(name: str, samples: list[Sample], torch7: list[Sample] | None, unit: float = 1e3, suffix: str = "ms") -> str:
    """One figure's line: wall and CPU medians with spreads, and the ratios to Torch7 when it ran."""
    line = f"{name}: wall {spread(wall(samples), unit, suffix)}"
    if torch7:
        line += f" vs Torch7 {spread(wall(torch7), unit, suffix)} = {ratio(wall(torch7), wall(samples))}"
    line += f"; CPU {spread(cpu(samples), unit, suffix)}"
    if torch7:
        line += f" vs Torch7 {spread(cpu(torch7), unit, suffix)} = {ratio(cpu(torch7), cpu(samples))}"
    return line
