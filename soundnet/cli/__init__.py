"""The `soundnet` command: a thin click layer, one module per group of commands."""

from .main import cli, main

__all__ = ["cli", "main"]
