"""Model files: .t7 import/export, safetensors/pth/h5 tensors, categories, inspect, load/save."""
