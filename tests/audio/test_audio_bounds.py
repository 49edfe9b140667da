"""Decoding holds bounded, finite data: the resampler's block is sized by its output, NaN is an error."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from soundnet import audio
from soundnet.audio import AudioError, NonFiniteAudioError, iter_audio_blocks, load_audio, prepare_waveform


def test_upsampling_reads_input_blocks_sized_by_the_output(tmp_path, monkeypatch):
    """At 2 kHz, 22,050 output samples come from ~2,000 input frames: reading 22,050 would make 243,101."""
    sf.write(tmp_path / "low.wav", np.zeros(20_000, np.int16), 2000, subtype="PCM_16")
    requested = []
    real_read = audio._SequentialSoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(audio._SequentialSoundFile, "read", spy)
    blocks = list(iter_audio_blocks(tmp_path / "low.wav", 22050))
    assert requested and max(requested) == 2000
    assert sum(len(block) for block in blocks) == audio.resampled_length(20_000, 2000)
    assert max(len(block) for block in blocks) == 22050


def test_a_sample_rate_below_1000_hz_is_refused(tmp_path):
    sf.write(tmp_path / "slow.wav", np.zeros(100, np.int16), 999, subtype="PCM_16")
    for load in (load_audio, lambda p: list(iter_audio_blocks(p, 4096))):
        with pytest.raises(AudioError, match="sample rate of 999 Hz"):
            load(tmp_path / "slow.wav")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_errors_naming_file_and_position(tmp_path, bad):
    wave = np.zeros(44100, np.float32)
    wave[30000] = bad
    sf.write(tmp_path / "bad.wav", wave, 22050, subtype="FLOAT")
    for load in (load_audio, lambda p: list(iter_audio_blocks(p, 4096))):
        with pytest.raises(
            NonFiniteAudioError,
            match=r"bad\.wav: it holds a NaN or infinite value at sample 30000 "
            r"\(1\.361 s\)",
        ):
            load(tmp_path / "bad.wav")
    with pytest.raises(ValueError, match="sample 30000"):
        prepare_waveform(wave, 22050)
