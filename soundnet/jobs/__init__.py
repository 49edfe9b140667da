"""Jobs over many files: clip lists, extraction with workers, feature files, caches, the demo."""
