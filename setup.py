"""soundnet-t7: SoundNet (Aytar, Vondrick, Torralba 2016) from Torch7 to PyTorch."""
from setuptools import find_packages, setup

ONNX = ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.2"]  # soundnet export MODEL out.onnx, and its check

setup(
    name="soundnet-t7",
    version="0.1.0",
    description="Convert, verify, run and train SoundNet from its Torch7 .t7 files in PyTorch",
    long_description=open("README.md", encoding="utf-8").read(),
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
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
    ],
    extras_require={
        "onnx": ONNX,
        "test": ["pytest>=7", "hypothesis>=6.80", "torchfile==0.1.0", *ONNX],
    },
    entry_points={"console_scripts": ["soundnet=soundnet.cli:main"]},
)
