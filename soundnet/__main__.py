"""`python -m soundnet` is the `soundnet` command (works before the console script is on PATH)."""

from .cli import main

main()
