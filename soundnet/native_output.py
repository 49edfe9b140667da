"""What native decoders print: libmpg123 writes `Note:`/`warning:` lines straight to file descriptor 2.

Unlabelled, such lines cannot be tied to a file when many are decoded; here they are caught while the
decoder runs and written afterwards, each prefixed with the name of the file being decoded. When the
decoder fails they are dropped: the one-line error says what happened.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def stderr_labelled(label: str) -> Iterator[None]:
    """Run the block with fd 2 sent to a temporary file; then, if it succeeded, echo the lines as `label: line`."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all: nothing to label
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        for line in capture.read().decode("utf-8", "replace").splitlines():
            if line.strip():
                sys.stderr.write(f"{label}: {line.strip()}\n")
