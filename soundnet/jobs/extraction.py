"""`soundnet extract` over many files: decoding in worker processes, batches of equal length, resumable.

Worker processes decode clips (libsndfile + soxr) while the main process runs the net, a bounded number
of clips ahead. Decoded clips wait in groups of equal length and run as one batch; files longer than
STREAM_SECONDS are streamed block by block through the exact chunked path instead, so no file is ever
held whole. Outputs are written atomically; finished ones are skipped, so a killed job resumes.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..audio import audio_info, iter_audio_blocks, load_audio
from ..devices import as_numpy
from ..errors import one_line
from ..inference.chunked import default_chunk_samples
from ..inference.features import DEFAULT_LAYER, POOLS, extract_features, feature_layer
from ..model.architecture import INPUT_SCALE, SAMPLE_RATE, Layer
from ..model.network import SoundNet
from .clip_lists import read_list
from .feature_files import FEATURE_FORMATS, feature_settings
from .feature_sinks import ConsolidatedSink, PerFileSink, Sink
from .worker_lifetime import die_with_parent

STREAM_SECONDS = 600  # longer files are streamed in the main process rather than decoded whole


@dataclass(frozen=True)
class Decoding:
    """How clips become waveforms (the load_audio options)."""

    channel: str = "first"
    scale: float = INPUT_SCALE

    def load(self, path: str) -> torch.Tensor:
        return load_audio(path, channel=self.channel, scale=self.scale)

    def blocks(self, path: str, block_samples: int) -> Iterator[torch.Tensor]:
        return iter_audio_blocks(path, block_samples, channel=self.channel, scale=self.scale)


@dataclass
class JobReport:
    """What a run did: counts, failures (path, one-line message naming the path) and the audio it processed."""

    total: int = 0
    written: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0


def parse_shard(spec: str | None, environ: dict[str, str] | None = None) -> tuple[int, int]:
    """(k, n) from "K/N" (0-based K, like torchrun's RANK), else from RANK/WORLD_SIZE, else (0, 1)."""
    environ = os.environ if environ is None else environ
    if spec is None and "WORLD_SIZE" in environ:
        spec = f"{environ.get('RANK', '0')}/{environ['WORLD_SIZE']}"
    if spec is None:
        return 0, 1
    k, _, n = spec.partition("/")
    if not (k.strip().isdigit() and n.strip().isdigit()) or not 0 <= int(k) < int(n):
        raise ValueError(f"shard must be K/N with 0 <= K < N (K counts from 0, like RANK), got {spec!r}")
    return int(k), int(n)


def select_shard(paths: list[str], k: int, n: int) -> list[str]:
    """Every n-th path from the k-th of the list without repeats: n shards cover it exactly once."""
    return list(dict.fromkeys(paths))[k::n]


def _decode(path: str, decoding: Decoding) -> tuple[str, str, object]:
    """In a worker: ("wave", path, samples) or ("stream", path, None) for long files, ("error", path, why)."""
    try:
        if audio_info(path).frames > STREAM_SECONDS * SAMPLE_RATE:
            return "stream", path, None
        return "wave", path, decoding.load(path).numpy()
    except (ValueError, OSError, RuntimeError) as error:
        return "error", path, one_line(error)


def _decoded(paths: list[str], decoding: Decoding, workers: int) -> Iterator[tuple[str, str, object]]:
    """Decode in `workers` processes (0: here), at most a few clips per worker ahead of the consumer."""
    if workers == 0:
        yield from (_decode(path, decoding) for path in paths)
        return
    context = multiprocessing.get_context("fork")  # no re-import of torch per worker
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        pending: deque = deque()
        try:
            for path in paths:
                pending.append(pool.submit(_decode, path, decoding))
                if len(pending) >= 4 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """Iterate `items` in a thread, `depth` ahead, so decoding a stream overlaps the net's compute.

    If the consumer stops early, the thread stops at its next item instead of decoding the rest.
    """
    slots: queue.Queue = queue.Queue(depth)
    done, stop = object(), threading.Event()

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                return slots.put(item, timeout=0.1)
            except queue.Full:
                continue

    def fill() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                put(item)
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(error)
        put(done)

    threading.Thread(target=fill, daemon=True).start()
    try:
        while (item := slots.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class ExtractJob:
    """Features of one layer for many files into a sink (per-file HDF5 or one consolidated file)."""

    def __init__(
        self,
        model: SoundNet,
        layer: Layer,
        sink: Sink,
        *,
        pool: str = "none",
        batch_size: int = 16,
        workers: int = 1,
        strict: bool = False,
        decoding: Decoding = Decoding(),
        progress: bool | None = None,
    ):
        self.model, self.layer, self.sink, self.pool = model, layer, sink, pool
        self.batch_size, self.workers, self.strict, self.decoding = batch_size, workers, strict, decoding
        self.budget = default_chunk_samples(model, layer)
        self.progress = progress
        self.report = JobReport()

    def run(self, paths: list[str], force: bool = False) -> JobReport:
        """Process `paths` (skipping finished outputs unless force); failures are collected or, strict, raised."""
        start = time.perf_counter()
        todo = paths if force else [path for path in paths if not self.sink.done(path)]
        self.report = JobReport(total=len(paths), skipped=len(paths) - len(todo))
        bar = tqdm(
            total=len(todo),
            unit="file",
            disable=None if self.progress is None else not self.progress,
            dynamic_ncols=True,
            smoothing=0.1,
        )
        groups: OrderedDict[int, list[tuple[str, np.ndarray]]] = OrderedDict()
        try:
            with self.sink:
                for kind, path, value in _decoded(todo, self.decoding, self.workers):
                    if kind == "error":
                        self._failed(path, str(value))
                    elif kind == "stream":
                        self._guarded([path], lambda path=path: [self._stream(path)])
                    else:
                        groups.setdefault(len(value), []).append((path, value))
                        self._flush_full(groups)
                    self._tick(bar, start)
                while groups:
                    self._run_group(groups.popitem(last=False)[1])
                    self._tick(bar, start)
        finally:
            bar.close()
            self.report.wall_seconds = time.perf_counter() - start
        return self.report

    def _batch_limit(self, length: int) -> int:
        return max(1, min(self.batch_size, self.budget // max(1, length)))

    def _flush_full(self, groups: OrderedDict) -> None:
        """Run full groups, and the oldest ones while too many clips wait (lengths that rarely repeat)."""
        for length in [n for n, clips in groups.items() if len(clips) >= self._batch_limit(n)]:
            self._run_group(groups.pop(length))
        while sum(map(len, groups.values())) > 2 * self.batch_size:
            self._run_group(groups.popitem(last=False)[1])

    def _run_group(self, clips: list[tuple[str, np.ndarray]]) -> None:
        batch = torch.from_numpy(np.stack([wave for _, wave in clips]))
        self._guarded(
            [path for path, _ in clips],
            lambda: zip(
                as_numpy(extract_features(self.model, batch, self.layer, pool=self.pool)), [batch.shape[1]] * len(clips)
            ),
        )

    def _stream(self, path: str) -> tuple[np.ndarray, int]:
        counted = [0]

        def blocks() -> Iterator[torch.Tensor]:
            for block in self.decoding.blocks(path, self.budget):
                counted[0] += len(block)
                yield block

        features = extract_features(self.model, _prefetched(blocks()), self.layer, pool=self.pool)[0]
        return as_numpy(features), counted[0]

    def _guarded(self, paths: list[str], compute: Callable[[], Iterable[tuple[np.ndarray, int]]]) -> None:
        """Compute (features, samples) for `paths` and hand them to the sink; a failure counts for each path."""
        try:
            results = list(compute())
        except (ValueError, OSError, RuntimeError) as error:
            for path in paths:
                self._failed(path, one_line(error))
            return
        for path, (features, samples) in zip(paths, results):
            self.sink.write(path, features, samples)
            self.report.written += 1
            self.report.audio_seconds += samples / SAMPLE_RATE

    def _failed(self, path: str, reason: str) -> None:
        message = reason if path in reason else f"{path}: {reason}"
        self.report.failures.append((path, message))
        if self.strict:
            raise ValueError(message)

    def _tick(self, bar: tqdm, start: float) -> None:
        finished = self.report.written + len(self.report.failures)
        bar.update(finished - bar.n)
        elapsed = max(time.perf_counter() - start, 1e-9)
        bar.set_postfix_str(f"{self.report.audio_seconds / elapsed:.0f} audio-s/s", refresh=False)


def shard_target(h5: str | os.PathLike, k: int, n: int) -> Path:
    """The consolidated file shard k of n writes: `name.shard-K-of-N.h5` (the file itself when n is 1)."""
    h5 = Path(h5)
    return h5 if n == 1 else h5.with_name(f"{h5.stem}.shard-{k}-of-{n}{h5.suffix}")


def extract_files(
    model: SoundNet,
    paths: list[str],
    *,
    layer: int | str = DEFAULT_LAYER,
    pool: str = "none",
    out_dir: str | os.PathLike | None = None,
    h5: str | os.PathLike | None = None,
    fmt: str = "h5",
    force: bool = False,
    batch_size: int = 16,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    strict: bool = False,
    decoding: Decoding = Decoding(),
    progress: bool | None = None,
) -> JobReport:
    """Features of `layer` for this shard's part of `paths`, per file (beside the audio or under out_dir, as
    h5 or npz) or into one consolidated HDF5 file; see ExtractJob. Every output records the settings
    (feature_files.feature_settings), so that only features of one model and one recipe merge, and a
    per-file output made otherwise is recomputed."""
    target = feature_layer(model, layer)
    if target == model.architecture.head and not model.architecture.is_classifier:
        raise ValueError(f"layer {target.index} is the object and scene heads; predict gives their probabilities")
    if out_dir is not None and h5 is not None:
        raise ValueError("give an output folder or one consolidated file, not both")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    if fmt not in FEATURE_FORMATS:
        raise ValueError(f"feature format must be one of {', '.join(FEATURE_FORMATS)}, got {fmt!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")
    settings = feature_settings(model, target, pool, decoding.scale, decoding.channel)
    if h5 is None:
        sink: Sink = PerFileSink(settings, out_dir, fmt)
    elif fmt != "h5":
        raise ValueError("a consolidated feature file is HDF5; the npz format is for one file per clip")
    else:
        sink = ConsolidatedSink(shard_target(h5, *shard), settings)
    job = ExtractJob(
        model,
        target,
        sink,
        pool=pool,
        batch_size=batch_size,
        workers=workers,
        strict=strict,
        decoding=decoding,
        progress=progress,
    )
    return job.run(select_shard(paths, *shard), force=force)


def summary_line(report: JobReport, shard: tuple[int, int], where: object) -> str:
    """One line for the end of a run: counts, where the outputs went, and the speed."""
    k, n = shard
    part = f" (shard {k}/{n})" if n > 1 else ""
    line = (
        f"{report.written} written, {report.skipped} skipped, {len(report.failures)} failed of "
        f"{report.total} file(s){part} -> {where}"
    )
    if report.written:
        rate = report.audio_seconds / max(report.wall_seconds, 1e-9)
        line += f"; {report.audio_seconds:.1f} s of audio in {report.wall_seconds:.1f} s ({rate:.0f}x real time)"
    return line


def run_extraction(
    model: SoundNet,
    audio: list[str],
    list_file: str | os.PathLike | None,
    *,
    shard: str | None = None,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
    **options,
) -> bool:
    """What `soundnet extract` does: files or a list (clip_lists.read_list), this shard of it, a summary
    line and one line per failure; False when some file failed."""
    if bool(audio) == bool(list_file):
        raise ValueError("give audio files or a list file (not both)")
    paths = (
        list(audio) if audio else [str(clip.path) for clip in read_list(list_file, labels="ignored", check_files=False)]
    )
    k, n = parse_shard(shard)
    report = extract_files(model, paths, shard=(k, n), **options)
    h5, out_dir = options.get("h5"), options.get("out_dir")
    echo(
        summary_line(
            report, (k, n), shard_target(h5, k, n) if h5 else (Path(out_dir) if out_dir else "beside the audio")
        )
    )
    for _, message in report.failures:
        warn(f"Error: {message}")
    return not report.failures
