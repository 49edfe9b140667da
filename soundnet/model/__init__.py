"""The SoundNet network: architecture tables, Torch7-exact layers, heads, the embedded example."""
