"""Models by name, as torchvision's registry: list_models(), get_model(), get_model_weights(), get_weight().

The same names work wherever a model file is asked for: `example` is the embedded random-weight
checkpoint, a model name with released weights (`soundnet8`) is its default weights, fetched into the
cache folder on first use. Anything else is a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .architecture import ARCHITECTURES
from .examples import EXAMPLE_MODEL, EXAMPLE_NAME
from .network import SoundNet
from .weights import BUNDLES, SoundNet8_Weights, Weights, WeightsEnum

MODEL_WEIGHTS: dict[str, type[WeightsEnum]] = {"soundnet8": SoundNet8_Weights}


def list_models() -> list[str]:
    """Every architecture get_model builds (those in MODEL_WEIGHTS also have released weights)."""
    return sorted(ARCHITECTURES)


def get_model_weights(name: str) -> type[WeightsEnum]:
    """The weights enum of a model name, e.g. get_model_weights('soundnet8') is SoundNet8_Weights."""
    if name not in MODEL_WEIGHTS:
        known = ", ".join(MODEL_WEIGHTS)
        raise ValueError(f"no released weights for {name!r}; models with released weights: {known}")
    return MODEL_WEIGHTS[name]


def get_weight(name: str) -> WeightsEnum:
    """A weights enum member from its full name, e.g. 'SoundNet8_Weights.RELEASED'."""
    enum_name, _, member = name.partition(".")
    for enum in BUNDLES:
        if enum.__name__ == enum_name:
            return enum.verify(member)
    raise ValueError(
        f"unknown weights {name!r}; known: "
        + ", ".join(f"{enum.__name__}.{m}" for enum in BUNDLES for m in enum.__members__)
    )


def get_model(name: str, *, weights: WeightsEnum | Weights | str | None = None, **config: Any) -> SoundNet:
    """A model by name: random weights (weights=None, config as SoundNet's: widths, classes), or the named
    weights ('released', 'DEFAULT' or a member), fetched into the cache folder on first use."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    if weights is None:
        return SoundNet(name, **config)
    if config:
        raise ValueError(f"get_model({name!r}) with weights takes no {', '.join(config)}: the weights fix them")
    chosen: Weights = weights if isinstance(weights, Weights) else get_model_weights(name).verify(weights).value
    if chosen.architecture != name:
        raise ValueError(f"{chosen.name} are {chosen.architecture} weights, not {name}")
    return chosen.get_model()


def resolve_model_path(name: str | Path, *, progress: bool = True) -> Path:
    """'example' -> the embedded checkpoint; 'soundnet8' -> its released weights in the cache (fetched on
    first use); anything else is a path."""
    text = str(name)
    if text == EXAMPLE_NAME:
        return EXAMPLE_MODEL
    if text in MODEL_WEIGHTS:
        from .cache import cached_weights

        return cached_weights(MODEL_WEIGHTS[text]["DEFAULT"], progress=progress)
    return Path(name)


MODEL_NAMES = (EXAMPLE_NAME, *MODEL_WEIGHTS)
