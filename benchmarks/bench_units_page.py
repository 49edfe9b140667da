"""The units page for all 1,024 units of relu7 (full-width SoundNet8, random weights): time, memory, size.

    python3 benchmarks/bench_units_page.py [--clips 40] [--seconds 4]

Generates N and 2N clips (tones, noise, chirps, clicks; shorter than 10 s, so tiled as the net hears
them) and runs `soundnet visualize units --model MODEL --units all --top 9` on each collection in a fresh
subprocess. Prints, side by side: wall time, peak RSS (VmHWM, /proc) of the whole command, the folder's
size, the largest HTML file and the number of segment files. Memory should stay flat from N to 2N clips
(one chunked pass with a running top-k); the page should stay small (thumbnails of a few kB, segments
shared between units, 32 units a page).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from generated_sounds import KINDS, write_clip  # noqa: E402 - needs tests/ on the path first

_RUN = r"""
import sys
from soundnet.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="soundnet", standalone_mode=False)
finally:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            print("PEAK", int(line.split()[1]) // 1024, file=sys.stderr)
"""


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def collection(folder: Path, count: int, seconds: float) -> Path:
    lines = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        path = write_clip(folder / "wav" / f"{kind}{i}.wav", kind, seconds, seed=i)
        lines.append(f"wav/{path.name} {kind}\n")
    (folder / "clips.txt").write_text("".join(lines))
    return folder / "clips.txt"


def run(model: Path, clips: Path, out: Path) -> dict:
    started = time.perf_counter()
    command = [
        "visualize",
        "units",
        "--model",
        str(model),
        "--list",
        str(clips),
        "--layer",
        "relu7",
        "--units",
        "all",
        "--top",
        "9",
        "--out",
        str(out),
    ]
    done = subprocess.run([sys.executable, "-c", _RUN, *command], capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    peak = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK")))
    files = [f for f in out.rglob("*") if f.is_file()]
    return {
        "wall_s": wall,
        "peak_mib": peak,
        "folder_mib": sum(f.stat().st_size for f in files) / 2**20,
        "largest_html_kib": max(f.stat().st_size for f in files if f.suffix == ".html") / 1024,
        "segments": len(list((out / "segments").glob("*.flac"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    import torch

    from soundnet import SoundNet8, save

    print(f"CPU: {cpu_name()}; torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        model = save(SoundNet8(), tmp / "soundnet8_random.safetensors")
        results = {}
        for count in (args.clips, 2 * args.clips):
            clips = collection(tmp / f"c{count}", count, args.seconds)
            results[count] = run(model, clips, tmp / f"units{count}")
        print(f"{'clips':>6} {'wall s':>8} {'peak MiB':>9} {'folder MiB':>11} {'largest html KiB':>17} {'segments':>9}")
        for count, r in results.items():
            print(
                f"{count:>6} {r['wall_s']:>8.1f} {r['peak_mib']:>9} {r['folder_mib']:>11.1f} "
                f"{r['largest_html_kib']:>17.0f} {r['segments']:>9}"
            )
        first, second = results.values()
        print(f"peak memory ratio {2 * args.clips} vs {args.clips} clips: {second['peak_mib'] / first['peak_mib']:.2f}")


if __name__ == "__main__":
    main()
