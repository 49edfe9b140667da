"""A longer fuzzing campaign for convert.read_t7 than CI runs.

    python3 benchmarks/fuzz_t7.py [--seconds 120] [--seed 0] [--out DIR]

Mutates small generated files (binary with 8- and 4-byte longs, ascii) and the
real Torch7 files in ../shared/torch7 (when present), plus random int streams.
Any exception other than T7FormatError is a bug: the input is saved under --out
and the script exits 1. Prints the cases run and cases per second.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from convert_helpers import i32, mutations, read_or_format_error, seed_bytes  # noqa: E402

REAL = [
    "soundnet8_finetune_quarter.t7",
    "variants/soundnet8_finetune_quarter_b32.t7",
    "soundnet8_finetune_quarter_ascii.t7",
    "refs_soundnet8_quarter.t7",
]


def int_streams(rng: random.Random):
    while True:
        values = [rng.choice([rng.randrange(-2, 10), rng.randrange(-(2**31), 2**31)]) for _ in range(rng.randrange(60))]
        yield f"ints {values[:12]}", i32(*values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("fuzz_failures"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    streams = {
        name: mutations(seed_bytes(fmt, size), rng)
        for name, fmt, size in [
            ("small-binary8", "binary", 8),
            ("small-binary4", "binary", 4),
            ("small-ascii", "ascii", 8),
        ]
    }
    refs = Path(os.environ.get("SOUNDNET_TORCH7_REFS", REPO.parent / "shared" / "torch7"))
    for name in REAL:
        if (refs / name).is_file():
            streams[name] = mutations((refs / name).read_bytes(), rng)
    streams["int-streams"] = int_streams(rng)
    counts = dict.fromkeys(streams, 0)
    spent = dict.fromkeys(streams, 0.0)  # equal time per stream, so cheap small files get many more cases
    start = time.perf_counter()
    slowest = (0.0, "")
    while time.perf_counter() - start < args.seconds:
        name = min(spent, key=spent.get)
        label, data = next(streams[name])
        try:
            took = read_or_format_error(data, f"{name} {label}")
        except AssertionError as failure:
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f"case_{sum(counts.values())}.t7"
            path.write_bytes(data)
            print(f"FAILURE {failure} (input saved to {path})")
            return 1
        slowest = max(slowest, (took, f"{name} {label}"))
        counts[name] += 1
        spent[name] += took
    elapsed = time.perf_counter() - start
    total = sum(counts.values())
    print(f"cases run: {total} in {elapsed:.1f} s = {total / elapsed:.0f} cases/s; only T7FormatError raised")
    for name, count in counts.items():
        print(f"  {name}: {count} cases in {spent[name]:.1f} s")
    print(f"slowest case: {slowest[0] * 1e3:.1f} ms ({slowest[1][:80]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
