"""`torchrun -m soundnet.cli train ...` runs the command under each rank."""

from .main import main

main()
