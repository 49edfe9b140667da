"""torch.hub entry points for SoundNet.

    model = torch.hub.load("path/to/soundnet-t7", "soundnet8", source="local")   # released weights
    model = torch.hub.load(repo, "soundnet8", weights="example", source="local")  # offline, random weights
    model = torch.hub.load(repo, "soundnet5", weights="soundnet5_final.t7", source="local")

Each returns a soundnet.SoundNet in eval mode: model(waveform scaled to [-256, 256]) gives the object
and scene logits, model.forward_features(waveform, "pool5") a feature layer.
"""

dependencies = ["torch", "numpy", "h5py", "safetensors", "soundfile", "soxr", "tqdm"]  # what `import soundnet` needs

RELEASED_SOUNDNET8 = "soundnet8"  # soundnet.load's name for the released SoundNet8 weights


def _model(architecture: str, pretrained: bool, weights: str | None, default_weights: str | None):
    import soundnet

    if not pretrained:
        if weights:
            raise ValueError("give weights or pretrained=False, not both")
        return soundnet.SoundNet(architecture).eval()
    source = weights or default_weights
    if source is None:
        raise ValueError(
            f"no released {architecture} weights are published; pass weights=PATH "
            "(.t7, .safetensors, .pth or .h5) or pretrained=False"
        )
    model = soundnet.load(source)
    if model.name != architecture:
        raise ValueError(f"{source} holds a {model.name}, not a {architecture}")
    return model


def soundnet8(pretrained: bool = True, weights: str | None = None):
    """SoundNet8: the released weights by default, `weights=` any model file (or "example"), or random."""
    return _model("soundnet8", pretrained, weights, RELEASED_SOUNDNET8)


def soundnet5(pretrained: bool = True, weights: str | None = None):
    """SoundNet5 from `weights=` (soundnet5_final.t7 or a converted copy), or random with pretrained=False."""
    return _model("soundnet5", pretrained, weights, None)
