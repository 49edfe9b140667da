"""Torch7 ``.t7`` serialization in pure Python/numpy: read and write binary and ascii files.

This package knows bytes and Torch classes only, nothing about any model.

Conventions of ``read_t7`` (``write_t7`` inverts them):

* numbers are doubles in Lua: ``int`` when integral and below 2**53 in magnitude (not -0.0), else ``float``;
* strings (values and keys) are ``str`` when valid UTF-8, else ``bytes``; booleans and nil are bool and None;
* tables are ``dict``, or ``list`` when the keys are exactly 1..n (n >= 1); a table reached again while it is
  still being read (a cycle) stays a dict so every reference keeps pointing at the same object;
* Torch classes are ``TorchObject(typename, fields, version)``; a file without a ``V n`` prefix gives version
  0 (as Torch7 reads it) and is written back with ``V 0``; ``tds.Vec``/``tds.Hash`` are TorchObjects whose
  fields are a list (nil elements as None) / a dict, version 0 as tds writes them;
* tensors are ``Tensor`` views of a shared ``Storage`` (offset, size and stride as in the file); Torch's
  empty tensors read as shape ``(0,)``; CUDA types read as their CPU dtype and keep their name;
* functions are opaque ``LuaFunction`` bytecode, never run.

Malformed input raises ``T7FormatError`` (a ValueError) naming the byte offset; I/O errors stay OSError.
"""

from .errors import T7FormatError
from .objects import LuaFunction, Storage, Tensor, TorchObject, make_tensor
from .reader import read_t7
from .writer import write_t7

__all__ = ["T7FormatError", "LuaFunction", "Storage", "Tensor", "TorchObject", "make_tensor", "read_t7", "write_t7"]
