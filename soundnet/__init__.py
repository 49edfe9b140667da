"""soundnet-t7: SoundNet from Torch7 to PyTorch.

    import soundnet
    model = soundnet.load("soundnet8_final.t7")      # or .safetensors / .pth / .h5
    objects, scenes = model(waveform)                  # logits B x 1000 x T, B x 401 x T
"""
from .architecture import SAMPLE_RATE, INPUT_SCALE, ARCHITECTURES, get_architecture
from .model import SoundNet, SoundNet5, SoundNet8, SoundNet8Finetuned

__version__ = "0.1.0"
