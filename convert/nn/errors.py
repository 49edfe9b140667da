"""The one exception the Torch7 module converter raises: it names the class and the path in the tree."""

from __future__ import annotations


class ModuleConversionError(ValueError):
    """A module cannot be converted; ``path`` is its Torch index path ("3.2"; "" for the root)."""

    def __init__(self, typename: str, path: str, reason: str) -> None:
        where = f"module {path}" if path else "the root module"
        super().__init__(f"{typename} at {where}: {reason}")
        self.typename, self.path, self.reason = typename, path, reason
