"""Running a model on waveforms: exact chunked inference, features, predictions, reports."""
