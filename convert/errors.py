"""The one exception a malformed .t7 stream may raise."""

from __future__ import annotations


class T7FormatError(ValueError):
    """The bytes are not a well-formed Torch7 serialization.

    ``offset`` is the byte position (from the start of the stream) where the
    reader found the problem; the message names it and what was expected there.
    """

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} (at byte offset {offset})")
        self.offset = offset
        self.reason = message
