"""Decode audio files into SoundNet's input: mono, 22,050 Hz, float32, scaled to [-256, 256].

The original scripts used lua---audio (libsox): samples as sox int32 values times 2^-23, first channel
only. Integer PCM is read here as left-aligned int32 (what libsndfile and sox both produce), so
WAV and FLAC input reproduces the original bit for bit. MP3 is decoded gaplessly by libsndfile; the
original's libmad kept the encoder delay (see docs/audio.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import soundfile as sf
import soxr
import torch

from .errors import describe_os_error
from .model.architecture import INPUT_SCALE, SAMPLE_RATE
from .native_output import stderr_labelled

CHANNEL_MODES = ("first", "mean")
RESAMPLE_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")

PathLike = str | os.PathLike[str]
_NO_SAMPLES = "it holds no samples (at the target rate)"
MIN_NATIVE_RATE = 1000  # Hz; lower rates are not audio (and would make the resampler's output explode)
# libsndfile's words for "no format it knows" when given a regular file
_UNRECOGNISED = ("File does not exist or is not a regular file", "Format not recognised", "unknown format")


class AudioError(ValueError):
    """A file that cannot be used as audio; the message is one line naming the file and the reason."""


class NonFiniteAudioError(AudioError):
    """Decoded samples include NaN or infinity (a float file): an error, never silently propagated."""


class AudioInfo(NamedTuple):
    frames: int  # samples load_audio returns (after resampling to the target rate)
    sample_rate: int  # the file's native rate
    channels: int
    duration: float  # seconds


def _check_options(channel: str, scale: float, resample_quality: str) -> None:
    if channel not in CHANNEL_MODES:
        raise ValueError(f"channel must be one of {CHANNEL_MODES}, got {channel!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if resample_quality not in RESAMPLE_QUALITIES:
        raise ValueError(f"resample_quality must be one of {RESAMPLE_QUALITIES}, got {resample_quality!r}")


def _mono_scaled(samples: np.ndarray, channel: str, scale: float) -> np.ndarray:
    """frames x channels -> scaled float32 mono. Integers count as full scale 2^(bits-1), like sox."""
    if np.issubdtype(samples.dtype, np.signedinteger):
        factor = scale / 2.0 ** (8 * samples.dtype.itemsize - 1)
    elif np.issubdtype(samples.dtype, np.floating):
        factor = scale
    else:
        raise ValueError(f"samples must be signed integers or floats, got dtype {samples.dtype}")
    mono = samples[:, 0] if channel == "first" else samples.mean(axis=1)
    # int32 -> float32 first, then a power-of-two factor: the original's exact arithmetic.
    return mono.astype(np.float32) * np.float32(factor)


def check_finite(samples: np.ndarray, where: str, first: int = 0, rate: int | None = None) -> None:
    """Raise NonFiniteAudioError naming the first NaN/infinite sample (counting from `first`)."""
    if np.issubdtype(samples.dtype, np.floating) and not np.isfinite(samples).all():
        index = first + int(np.flatnonzero(~np.isfinite(samples).reshape(len(samples), -1).all(axis=1))[0])
        at = f"sample {index}" + (f" ({index / rate:.3f} s)" if rate else "")
        raise NonFiniteAudioError(f"{where}: it holds a NaN or infinite value at {at}")


def resampled_length(frames: int, native_rate: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Samples soxr returns for `frames` input samples (its own double-precision rounding, measured)."""
    return int(frames / (native_rate / sample_rate) + 0.5)


def prepare_waveform(
    samples: np.ndarray | torch.Tensor,
    native_rate: int,
    *,
    channel: str = "first",
    scale: float = INPUT_SCALE,
    sample_rate: int = SAMPLE_RATE,
    resample_quality: str = "VHQ",
    channels_first: bool | None = None,
) -> torch.Tensor:
    """Turn decoded samples (frames, frames x channels or channels x frames, at native_rate) into a waveform.

    The same recipe as load_audio, for audio already in memory: floats are taken as [-1, 1] and
    integers as full scale of their type, so int32 from sox or soundfile gives the original's 2^-23.
    A 2-D array is read as soundfile's frames x channels or torchaudio's channels x frames: the shorter
    axis holds the channels, unless `channels_first` says which; a square one must say.
    """
    _check_options(channel, scale, resample_quality)
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"samples must be a non-empty frames, frames x channels or channels x frames array, got shape {array.shape}"
        )
    if channels_first is None:
        if array.shape[0] == array.shape[1] and array.shape[0] > 1:
            raise ValueError(
                f"samples of shape {array.shape} could be frames x channels or channels x frames; pass channels_first"
            )
        channels_first = array.shape[0] < array.shape[1]
    if channels_first:
        array = array.T
    check_finite(array, "samples", rate=native_rate)
    mono = _mono_scaled(array, channel, scale)
    if native_rate != sample_rate:
        mono = soxr.resample(mono, native_rate, sample_rate, quality=resample_quality)
    return torch.from_numpy(mono)


def _audio_error(path: PathLike, reason: str) -> AudioError:
    return AudioError(f"cannot read audio file {os.fspath(path)}: {reason}")


@contextmanager
def _audio_errors(path: PathLike) -> Iterator[None]:
    """Turn libsndfile's exceptions into a one-line AudioError that names the file."""
    try:
        yield
    except sf.SoundFileError as exc:
        reason = (getattr(exc, "error_string", None) or str(exc)).strip().splitlines()[0]
        if reason.startswith(_UNRECOGNISED) and os.path.isfile(path):
            reason = "Format not recognised: not audio libsndfile can decode (a wrong suffix or a damaged file)"
        raise _audio_error(path, reason) from exc


def _open(path: PathLike, sample_rate: int, reader: type[sf.SoundFile] = sf.SoundFile) -> sf.SoundFile:
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise _audio_error(name, "not a regular file" if os.path.exists(name) else "no such file")
    if os.path.getsize(name) == 0:
        raise _audio_error(name, "the file is empty")
    try:
        open(name, "rb").close()
    except OSError as error:
        raise _audio_error(name, describe_os_error(error).removeprefix(f"{name}: ")) from None
    with _audio_errors(name), stderr_labelled(name):
        handle = reader(name)
    if handle.samplerate < MIN_NATIVE_RATE:
        handle.close()
        raise _audio_error(
            name,
            f"its header declares a sample rate of {handle.samplerate} Hz (at least {MIN_NATIVE_RATE} Hz expected)",
        )
    if resampled_length(handle.frames, handle.samplerate, sample_rate) == 0:
        handle.close()
        raise _audio_error(name, _NO_SAMPLES)
    return handle


def _read_dtype(handle: sf.SoundFile) -> str:
    # Integer PCM as left-aligned int32 (exact, like sox); MP3, Vorbis, float WAV as float32.
    return "int32" if handle.subtype.startswith("PCM_") else "float32"


def load_audio(
    path: PathLike,
    *,
    channel: str = "first",
    scale: float = INPUT_SCALE,
    sample_rate: int = SAMPLE_RATE,
    resample_quality: str = "VHQ",
) -> torch.Tensor:
    """Decode a whole file (WAV, FLAC, OGG, MP3, ...) into a 1-D float32 waveform in [-scale, scale].

    channel="first" keeps the first channel as the original scripts did; "mean" averages them.
    scale=512 reproduces the ESC-50 evaluation script's 2^-22. Use iter_audio_blocks for long files.
    """
    _check_options(channel, scale, resample_quality)
    with _open(path, sample_rate) as handle, _audio_errors(path), stderr_labelled(os.fspath(path)):
        samples = handle.read(dtype=_read_dtype(handle), always_2d=True)
        native_rate = handle.samplerate
    check_finite(samples, f"cannot use audio file {os.fspath(path)}", rate=native_rate)
    if resampled_length(len(samples), native_rate, sample_rate) == 0:
        raise _audio_error(path, _NO_SAMPLES)
    return prepare_waveform(
        samples, native_rate, channel=channel, scale=scale, sample_rate=sample_rate, resample_quality=resample_quality
    )


def iter_audio_blocks(
    path: PathLike,
    block_samples: int,
    *,
    channel: str = "first",
    scale: float = INPUT_SCALE,
    sample_rate: int = SAMPLE_RATE,
    resample_quality: str = "VHQ",
) -> Iterator[torch.Tensor]:
    """Yield the waveform of load_audio in consecutive blocks of block_samples (the last may be shorter).

    Memory stays bounded for hours-long files: libsndfile reads the file block by block and soxr
    resamples it as a stream, which gives the same samples as resampling the whole file at once
    (measured for WAV, FLAC and MP3 at 22.05, 44.1 and 48 kHz).
    The file is opened (and checked) when this is called, not when iteration starts.
    """
    _check_options(channel, scale, resample_quality)
    if isinstance(block_samples, bool) or not isinstance(block_samples, int) or block_samples < 1:
        raise ValueError(f"block_samples must be a positive integer, got {block_samples!r}")
    handle = _open(path, sample_rate, _SequentialSoundFile)
    stream, read_frames = None, block_samples
    if handle.samplerate != sample_rate:
        stream = soxr.ResampleStream(handle.samplerate, sample_rate, 1, dtype="float32", quality=resample_quality)
        # input frames giving about block_samples output samples: upsampling must not multiply the block
        read_frames = max(1, math.ceil(block_samples * handle.samplerate / sample_rate))
    return _blocks(handle, path, block_samples, read_frames, channel, scale, stream)


class _SequentialSoundFile(sf.SoundFile):
    """A SoundFile that reads straight through, without soundfile's seek after every read.

    With libsndfile 1.2.2 that seek restarts the MP3 decoder, which corrupts the following frames
    (measured: errors up to 0.6 of full scale on a LAME-encoded tone read in 1000-frame blocks).
    """

    def seekable(self) -> bool:
        return False


def _scaled_pieces(
    handle: sf.SoundFile, path: PathLike, frames: int, channel: str, scale: float, stream: soxr.ResampleStream | None
) -> Iterator[np.ndarray]:
    first = 0
    while True:
        with stderr_labelled(os.fspath(path)):  # only around the native call: the consumer's output stays its own
            block = handle.read(frames, dtype=_read_dtype(handle), always_2d=True)
        if not len(block):
            break
        check_finite(block, f"cannot use audio file {os.fspath(path)}", first, handle.samplerate)
        first += len(block)
        piece = _mono_scaled(block, channel, scale)
        yield piece if stream is None else stream.resample_chunk(piece)
    if stream is not None:
        yield stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def _blocks(
    handle: sf.SoundFile,
    path: PathLike,
    block_samples: int,
    read_frames: int,
    channel: str,
    scale: float,
    stream: soxr.ResampleStream | None,
) -> Iterator[torch.Tensor]:
    pending = np.zeros(0, dtype=np.float32)
    produced = 0
    with handle, _audio_errors(path):
        for piece in _scaled_pieces(handle, path, read_frames, channel, scale, stream):
            pending = np.concatenate([pending, piece])
            while len(pending) >= block_samples:
                produced += block_samples
                yield torch.from_numpy(pending[:block_samples].copy())
                pending = pending[block_samples:]
    if len(pending):
        yield torch.from_numpy(pending)
    elif produced == 0:
        raise _audio_error(path, _NO_SAMPLES)


def audio_info(path: PathLike, *, sample_rate: int = SAMPLE_RATE) -> AudioInfo:
    """Length, native rate, channels and duration from the header, without decoding.

    For MP3 the frame count is libsndfile's header estimate; a damaged file may decode shorter.
    """
    with _open(path, sample_rate) as handle:
        return AudioInfo(
            frames=resampled_length(handle.frames, handle.samplerate, sample_rate),
            sample_rate=handle.samplerate,
            channels=handle.channels,
            duration=handle.frames / handle.samplerate,
        )
