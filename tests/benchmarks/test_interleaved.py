"""benchmarks/side_by_side.py's turn taking: every measure's samples come from the same rounds."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "benchmarks"))

import side_by_side  # noqa: E402


def test_turns_with_a_repeat_per_measure(monkeypatch):
    """One warm-up call each; then per round, in alternating order, one untimed and `repeat` timed calls of
    each measure: the one-clip reference of the batch ratio takes its turns among the batch's."""
    monkeypatch.setattr(side_by_side, "SETTLE_SECONDS", 0)
    calls: list[str] = []

    def measure(name: str):
        def call() -> tuple[float, float]:
            calls.append(name)
            return (float(len(calls)), 0.0)

        return call

    samples = side_by_side.interleaved(
        {"batch": measure("batch"), "one clip": measure("one clip")}, 2, {"batch": 2, "one clip": 3}
    )
    assert calls == ["batch", "one clip"] + ["batch"] * 3 + ["one clip"] * 4 + ["one clip"] * 4 + ["batch"] * 3
    assert [len(samples["batch"]), len(samples["one clip"])] == [4, 6]
    # the untimed call of each turn is not among the samples
    assert samples["batch"][0][0] == 4.0 and samples["one clip"][0][0] == 7.0
