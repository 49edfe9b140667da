"""Torch7 ``.t7`` serialization in pure Python/numpy: read and write binary and ascii files.

This package knows bytes and Torch classes only, nothing about any model.
``read_t7`` turns a file into Python values (numbers, str/bytes, bool, None,
dict/list, TorchObject, Tensor, Storage, LuaFunction); ``write_t7`` inverts it.
"""
from .errors import T7FormatError
from .objects import LuaFunction, Storage, Tensor, TorchObject, make_tensor
from .reader import read_t7
from .writer import write_t7

__all__ = ["T7FormatError", "LuaFunction", "Storage", "Tensor", "TorchObject", "make_tensor", "read_t7", "write_t7"]
