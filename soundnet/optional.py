"""Optional dependencies, imported where they are first needed so the core works without them.

Converting, verifying, predicting, extracting and training need neither; `soundnet evaluate` needs
scikit-learn (the SVM) and matplotlib (the confusion figure), plots need matplotlib. `pip install
"soundnet-t7[eval]"` installs both, `"soundnet-t7[plots]"` only matplotlib.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {"sklearn": ("scikit-learn", "eval"), "matplotlib": ("matplotlib", "plots")}


class MissingDependency(ImportError, RuntimeError):
    """An optional package is not installed (a RuntimeError too, so the command line reports it in one line)."""


def require(module: str, needed_for: str) -> ModuleType:
    """Import `module` (e.g. "sklearn.svm"), or say in one line which extra installs it."""
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if not error.name or not f"{module}.".startswith(f"{error.name}."):
            raise  # the package is there but something it needs is not: its own message says what
        package, extra = EXTRAS[top]
        raise MissingDependency(
            f'{needed_for} needs {package}, which is not installed: pip install "soundnet-t7[{extra}]"', name=top
        ) from None
