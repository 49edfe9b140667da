"""Error messages on one line: every failure the tool reports is a single `Error: ...` line."""
from __future__ import annotations


def one_line(error: BaseException | str) -> str:
    """The message with its whitespace (newlines from libraries included) collapsed; the type if empty."""
    text = " ".join(str(error).split())
    return text or (type(error).__name__ if isinstance(error, BaseException) else "")
