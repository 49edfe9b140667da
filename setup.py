"""soundnet-t7: SoundNet (Aytar, Vondrick, Torralba 2016) from Torch7 to PyTorch.

Tool configuration (pytest, ruff, mypy) is in pyproject.toml; tool versions are pinned in constraints.txt.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
# The one place the version is written is soundnet/__init__.py; read it without importing the package.
VERSION = re.search(r'^__version__ = "([^"]+)"$', (HERE / "soundnet" / "__init__.py").read_text(), re.M).group(1)
PLOTS = ["matplotlib>=3.7"]
EVAL = ["scikit-learn>=1.3", *PLOTS]
ONNX = ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.2"]  # soundnet export MODEL out.onnx, and its check

setup(
    name="soundnet-t7",
    version=VERSION,
    description="Convert, verify, run and train SoundNet from its Torch7 .t7 files in PyTorch",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["convert", "convert.*", "soundnet", "soundnet.*"]),
    package_data={"soundnet": ["data/*"]},
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "h5py>=3.8",
        "click>=8.1",
        "safetensors>=0.4",
        "soundfile>=0.12",
        "soxr>=0.3",
        "tqdm>=4.60",
    ],
    extras_require={
        "eval": EVAL,  # soundnet evaluate: the linear SVM and the confusion figure
        "plots": PLOTS,  # soundnet visualize filters, the training loss curve
        "onnx": ONNX,  # soundnet export MODEL out.onnx, and its check
        "test": [*EVAL, *ONNX, "pytest>=7", "pytest-timeout>=2.1", "hypothesis>=6.80", "torchfile==0.1.0"],
        "lint": ["ruff", "mypy"],  # versions pinned in constraints.txt
    },
    entry_points={"console_scripts": ["soundnet=soundnet.cli:main"]},
)
