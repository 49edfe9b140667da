"""soundnet-t7: SoundNet from Torch7 to PyTorch.

import soundnet
model = soundnet.load("soundnet8")                 # the released weights (fetched once), or any file:
model = soundnet.load("soundnet8_final.t7")        # .t7 / .safetensors / .pth / .h5 / sound8.npy
objects, scenes = model(waveform)                  # HeadOutputs: logits B x 1000 x T, B x 401 x T
pool5 = model.forward_features(waveform, "pool5")  # any layer, B x C x T
conv7 = soundnet.extract_features(model, "long.wav", 24)  # any length, exact, bounded memory
model.weights.meta["categories"]                   # what is known of the weights (torchvision style)
soundnet.save(model, "soundnet8.safetensors")
"""

from .audio import AudioError, load_audio
from .formats.loading import attach_categories, convert_file, load, save
from .formats.t7_export import export_t7
from .formats.t7_import import NotSoundNetError
from .inference.features import extract_features
from .inference.predict import predict
from .model.architecture import ARCHITECTURES, INPUT_SCALE, SAMPLE_RATE, get_architecture
from .model.cache import WeightsUnavailable, cached_weights, soundnet_home
from .model.heads import HeadOutputs
from .model.network import SoundNet, SoundNet5, SoundNet8, SoundNet8Finetuned
from .model.registry import get_model, get_model_weights, get_weight, list_models
from .model.weights import SoundNet8_Weights, Weights, WeightsEnum

__version__ = "0.2.0"

__all__ = [
    "ARCHITECTURES",
    "INPUT_SCALE",
    "SAMPLE_RATE",
    "get_architecture",
    "AudioError",
    "load_audio",
    "extract_features",
    "HeadOutputs",
    "attach_categories",
    "convert_file",
    "load",
    "save",
    "SoundNet",
    "SoundNet5",
    "SoundNet8",
    "SoundNet8Finetuned",
    "predict",
    "export_t7",
    "NotSoundNetError",
    "WeightsUnavailable",
    "cached_weights",
    "soundnet_home",
    "get_model",
    "get_model_weights",
    "get_weight",
    "list_models",
    "SoundNet8_Weights",
    "Weights",
    "WeightsEnum",
]
