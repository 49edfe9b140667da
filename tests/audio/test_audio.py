"""soundnet.audio: parity with Torch7's audio.load, formats, resampling, streaming and errors.

Fixtures other than the Torch7 references are written by the tests into tmp_path.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from convert import read_t7
from soundnet.audio import (
    AudioError,
    audio_info,
    iter_audio_blocks,
    load_audio,
    prepare_waveform,
    resampled_length,
)

RATE = 22050
MP3_DELAY = 1681  # libmad's delay on the LAME reference MP3s (docs/audio.md)


@pytest.fixture(scope="module")
def audio_reference(torch7_refs):
    return read_t7(torch7_refs / "audio_load_reference.t7")


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    """frames x channels float32 sine, each channel at a different frequency."""
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([amplitude * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], axis=1).astype(
        np.float32
    )


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32767).astype(np.int16)


def best_lag(reference: np.ndarray, ours: np.ndarray) -> tuple[int, float]:
    """Lag L maximising the normalised correlation of reference[n + L] with ours[n]."""
    n = len(reference) + len(ours)
    xcorr = np.fft.irfft(np.fft.rfft(reference, n) * np.conj(np.fft.rfft(ours, n)), n)
    lag = int(np.argmax(xcorr))
    lag = lag - n if lag > len(reference) else lag
    a, b = (reference[lag:], ours) if lag >= 0 else (reference, ours[-lag:])
    m = min(len(a), len(b))
    a, b = a[:m].astype(np.float64), b[:m].astype(np.float64)
    return lag, float(a @ b / np.sqrt((a @ a) * (b @ b)))


def check_error(path, match: str) -> str:
    """The loaders raise one-line AudioErrors that name the file."""
    for load in (load_audio, audio_info, lambda p: list(iter_audio_blocks(p, 4096))):
        with pytest.raises(AudioError, match=match) as err:
            load(path)
        message = str(err.value)
        assert str(path) in message and "\n" not in message
    return message


# --- parity with Torch7 -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny_tone_mono", "tiny_tone_stereo"])
def test_wav_is_bit_exact_with_torch7(torch7_refs, audio_reference, name):
    ref = audio_reference[f"{name}_wav"]
    path = torch7_refs / "audio" / f"{name}.wav"
    waveform = load_audio(path)
    assert waveform.dtype == torch.float32
    assert torch.equal(waveform, torch.from_numpy(np.asarray(ref["soundnet_input"]).reshape(-1)))
    # soundfile's int32 is sox's left-aligned int32: the whole N x C raw tensor matches.
    samples, _ = sf.read(path, dtype="int32", always_2d=True)
    np.testing.assert_array_equal(samples.astype(np.float32), np.asarray(ref["raw"]))


@pytest.mark.parametrize("name", ["tiny_tone_mono", "tiny_tone_stereo"])
def test_mp3_is_gapless_and_libmad_was_delayed(torch7_refs, audio_reference, name):
    ref = np.asarray(audio_reference[f"{name}_mp3"]["soundnet_input"]).reshape(-1)
    ours = load_audio(torch7_refs / "audio" / f"{name}.mp3").numpy()
    wav = load_audio(torch7_refs / "audio" / f"{name}.wav").numpy()
    assert len(ours) == len(wav) == 22050 and len(ref) == 23616
    lag, corr = best_lag(ref, ours)
    assert lag == MP3_DELAY and corr > 0.999999
    # After the delay the two decoders agree to float rounding.
    overlap = len(ref) - MP3_DELAY
    np.testing.assert_allclose(ref[MP3_DELAY:], ours[:overlap], rtol=0, atol=1e-3)
    lag, corr = best_lag(wav, ours)
    assert lag == 0 and corr > 0.99999


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, subtype",
    [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"), ("FLAC", "PCM_16"), ("FLAC", "PCM_24")],
)
def test_lossless_formats_are_exact(tmp_path, fmt, subtype):
    x = tone(0.5, RATE)
    if subtype == "FLOAT":
        data, expected = x, x[:, 0] * np.float32(256)
    else:
        bits = int(subtype[4:])
        ints = np.round(x * 2 ** (bits - 1)).astype(np.int32)
        data, expected = ints << (32 - bits), ints[:, 0] * np.float32(256 / 2 ** (bits - 1))
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, data, RATE, format=fmt, subtype=subtype)
    assert torch.equal(load_audio(path), torch.from_numpy(expected))


@pytest.mark.parametrize("fmt, subtype", [("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_lossy_formats(tmp_path, fmt, subtype):
    if not sf.check_format(fmt, subtype):
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {fmt}")
    x = tone(1.0, RATE)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, x, RATE, format=fmt, subtype=subtype)
    waveform = load_audio(path).numpy()
    assert len(waveform) == len(x)  # both gapless: no encoder delay or padding
    lag, corr = best_lag(x[:, 0] * 256, waveform)
    assert lag == 0 and corr > 0.999


def test_stereo_channel_modes(tmp_path):
    x = tone(0.3, RATE, channels=2)
    path = tmp_path / "stereo.wav"
    sf.write(path, to_int16(x), RATE)
    ints = to_int16(x).astype(np.float32)
    assert torch.equal(load_audio(path), torch.from_numpy(ints[:, 0] / 128))
    torch.testing.assert_close(load_audio(path, channel="mean"), torch.from_numpy(ints.mean(axis=1) / 128))


@pytest.mark.parametrize("rate", [44100, 48000, 8000])
def test_resampling_keeps_length_and_pitch(tmp_path, rate):
    path = tmp_path / f"tone{rate}.wav"
    sf.write(path, to_int16(tone(1.37, rate, freq=1000.0)), rate)
    waveform = load_audio(path).numpy()
    frames = round(1.37 * rate)
    assert len(waveform) == resampled_length(frames, rate) == audio_info(path).frames
    assert abs(len(waveform) - 1.37 * RATE) <= 1
    spectrum = np.abs(np.fft.rfft(waveform))
    peak_hz = np.argmax(spectrum) * RATE / len(waveform)
    assert abs(peak_hz - 1000.0) < RATE / len(waveform)
    middle = waveform[len(waveform) // 4 : -len(waveform) // 4]  # away from the edges' ringing
    assert 0.99 * 128 < np.abs(middle).max() < 1.01 * 128


def test_resampled_length_matches_soxr():
    # 65760 at 48 kHz is a tie (30208.5) that soxr's double arithmetic rounds down; 44.1 kHz ties round up.
    for frames, rate in [(65760, 48000), (65759, 48000), (132317, 44100), (3, 48000), (1, 48000), (12345, 8000)]:
        resampled = soxr.resample(np.zeros(frames, np.float32), rate, RATE, quality="VHQ")
        assert resampled_length(frames, rate) == len(resampled)


def test_short_and_silent_files(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, np.zeros(100, np.int16), RATE)
    assert torch.equal(load_audio(path), torch.zeros(100))
    sf.write(path, np.zeros(10, np.int16), 48000)
    assert len(load_audio(path)) == resampled_length(10, 48000) == 5
    sf.write(path, np.zeros(1, np.int16), 48000)  # under half an output sample
    check_error(path, "no samples")


def test_audio_info(torch7_refs):
    info = audio_info(torch7_refs / "audio" / "tiny_tone_stereo.wav")
    assert info == (22050, 22050, 2, 1.0)


# --- streaming ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [RATE, 44100, 48000])
@pytest.mark.parametrize("block", [7, 1000, 22050, 10**6])
def test_blocks_concatenate_to_whole_file(tmp_path, rate, block):
    path = tmp_path / "long.flac"
    sf.write(path, to_int16(tone(0.3 if block == 7 else 2.3, rate, channels=2)), rate)
    check_blocks(path, block)


def test_mp3_blocks_concatenate_to_whole_file(tmp_path):
    path = tmp_path / "long.mp3"
    sf.write(path, tone(2.3, 44100, channels=2), 44100, format="MP3", subtype="MPEG_LAYER_III")
    check_blocks(path, 1000)


def check_blocks(path, block: int) -> None:
    whole = load_audio(path, channel="mean")
    blocks = list(iter_audio_blocks(path, block, channel="mean"))
    assert all(len(b) == block for b in blocks[:-1]) and 0 < len(blocks[-1]) <= block
    # Measured: soxr's stream gives the same samples as one-shot resampling.
    assert torch.equal(torch.cat(blocks), whole)


# --- in-memory arrays -----------------------------------------------------------------------------


def test_prepare_waveform_scales_by_dtype():
    ints = to_int16(tone(0.1, RATE, channels=2))
    expected = torch.from_numpy(ints[:, 0] / np.float32(128))
    assert torch.equal(prepare_waveform(ints, RATE), expected)
    assert torch.equal(prepare_waveform(ints.astype(np.int32) << 16, RATE), expected)
    assert torch.equal(prepare_waveform(ints[:, 0].astype(np.float32) / 32768, RATE), expected)
    # The ESC-50 script's 2^-22 is scale=512.
    assert torch.equal(prepare_waveform(torch.from_numpy(ints), RATE, scale=512.0), 2 * expected)


def test_prepare_waveform_recognises_channels_first():
    stereo = np.random.default_rng(0).standard_normal((2, 44100)) * 0.1  # torchaudio's channels x frames
    wave = prepare_waveform(stereo, 44100)
    assert wave.shape == (22050,)  # not 1 sample of 44,100 channels
    assert torch.equal(wave, prepare_waveform(stereo.T, 44100))
    mean = prepare_waveform(stereo, 44100, channel="mean")
    assert torch.equal(mean, prepare_waveform(stereo.T, 44100, channel="mean"))
    assert prepare_waveform(np.zeros((3, 4)), RATE, channels_first=False).shape == (3,)
    with pytest.raises(ValueError, match="pass channels_first"):
        prepare_waveform(np.zeros((2, 2)), RATE)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channel": "left"}, "channel"),
        ({"scale": 0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"resample_quality": "best"}, "resample_quality"),
    ],
)
def test_invalid_options(torch7_refs, kwargs, match):
    path = torch7_refs / "audio" / "tiny_tone_mono.wav"
    for call in (lambda: load_audio(path, **kwargs), lambda: iter_audio_blocks(path, 10, **kwargs)):
        with pytest.raises(ValueError, match=match) as err:
            call()
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="block_samples"):
        iter_audio_blocks(path, 0)
    with pytest.raises(ValueError, match="shape"):
        prepare_waveform(np.zeros((0, 2)), RATE)


# --- broken files ---------------------------------------------------------------------------------


def test_truncated_wav_loads_the_readable_part(tmp_path):
    full, cut = tmp_path / "full.wav", tmp_path / "cut.wav"
    sf.write(full, to_int16(tone(1.0, RATE)), RATE)
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    whole, half = load_audio(full), load_audio(cut)
    assert 0 < len(half) < len(whole) and torch.equal(half, whole[: len(half)])


def test_truncated_flac_raises(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, to_int16(tone(1.0, RATE)), RATE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for load in (load_audio, lambda p: list(iter_audio_blocks(p, 4096))):
        with pytest.raises(AudioError, match="lost sync") as err:
            load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"this is not audio\n" * 50, "not recognised"),
        (np.random.default_rng(0).bytes(5000), "not recognised"),
        (b"", "empty"),
        (None, "no such file"),
    ],
    ids=["text", "random-bytes", "empty", "missing"],
)
def test_bad_files_raise_one_line_audio_error(tmp_path, content, match):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    check_error(path, match)
    check_error(tmp_path, "not a regular file")
