"""The HEAR API (hear-eval-kit's common interface): SoundNet embeddings for audio benchmarks.

    import soundnet.hear as hear
    model = hear.load_model()                                   # the released SoundNet8
    scene = hear.get_scene_embeddings(audio, model)             # n_sounds x 256
    frames, times = hear.get_timestamp_embeddings(audio, model) # n_sounds x T x 256, n_sounds x T (ms)

`audio` is n_sounds x n_samples float in [-1, 1] at 22,050 Hz; it is scaled by 256 as the original
scripts fed SoundNet.

Which layer: pool5 (Torch index 18). The paper compares linear SVMs on the features of each layer and
finds pool5 and conv7 the best (SoundNet8's published ESC-50 accuracy, 74.2 %, is read off these);
`soundnet evaluate` defaults to pool5 too. Of the two, pool5 is four times finer in time, one step per
8,192 samples (372 ms) where conv7 has one per 32,768 (1.49 s), which timestamp tasks need (HEAR
suggests 50 ms or less and its validator warns about 372 ms; a finer hop would take 8x the compute).
Scene embeddings are the mean of pool5 over time: the paper pooled features over time windows before
its classifier, and the mean keeps every step's evidence whatever the clip's length. Sounds shorter
than pool5's 4,574-sample receptive-field minimum are padded with silence to that length.
"""

from __future__ import annotations

import torch
from torch import nn

from .formats.loading import load
from .inference.features import extract_features
from .model.architecture import INPUT_SCALE, SAMPLE_RATE
from .model.network import SoundNet

DEFAULT_MODEL = "soundnet8"  # soundnet.load's name for the released SoundNet8 weights
EMBEDDING_LAYER = "pool5"


class HearModel(nn.Module):
    """A SoundNet with the attributes HEAR reads: sample_rate and both embedding sizes (pool5 width)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, soundnet: SoundNet, layer: int | str = EMBEDDING_LAYER):
        super().__init__()
        self.soundnet = soundnet.eval()
        self.layer = soundnet.architecture.layer(layer)
        if self.layer.index >= soundnet.architecture.head.index:
            raise ValueError("HEAR embeddings come from a body layer, not the heads")
        self.scene_embedding_size = int(soundnet.widths[self.layer.block - 1])
        self.timestamp_embedding_size = self.scene_embedding_size

    def scaled_input(self, audio: torch.Tensor) -> torch.Tensor:
        """n_sounds x n_samples in [-1, 1] -> SoundNet's x256 input, padded with silence to one step."""
        audio = torch.as_tensor(audio)
        if audio.dim() != 2 or audio.shape[0] == 0 or audio.shape[1] == 0:
            raise ValueError(f"HEAR audio must be n_sounds x n_samples with both non-zero; got {tuple(audio.shape)}")
        shortest = self.soundnet.architecture.min_input_length(self.layer)
        if audio.shape[1] < shortest:
            audio = nn.functional.pad(audio, (0, shortest - audio.shape[1]))
        return audio * INPUT_SCALE

    def step_times_ms(self, steps: int) -> torch.Tensor:
        """The centre of each step's receptive field, in milliseconds from the start of the sound."""
        field = self.soundnet.architecture.receptive_field(self.layer)
        centres = torch.arange(steps, dtype=torch.float64) * field.stride - field.offset + field.size / 2
        return (centres * 1000.0 / SAMPLE_RATE).float()


def load_model(model_file_path: str = "") -> HearModel:
    """The released SoundNet8 by default, or any model file soundnet.load reads (.t7, .safetensors, ...)."""
    return HearModel(load(model_file_path or DEFAULT_MODEL))


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """pool5 per step: float32 n_sounds x T x C, and each step's time in ms (n_sounds x T)."""
    features = extract_features(model.soundnet, model.scaled_input(audio), model.layer)  # B x C x T
    embeddings = features.transpose(1, 2).float()
    times = model.step_times_ms(embeddings.shape[1]).to(embeddings.device)
    return embeddings, times.expand(embeddings.shape[0], -1)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """pool5 averaged over time: float32 n_sounds x C."""
    return extract_features(model.soundnet, model.scaled_input(audio), model.layer, pool="mean").float()
