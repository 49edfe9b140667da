"""Proof against Torch7: per-layer verification and an independent NumPy reference forward."""
