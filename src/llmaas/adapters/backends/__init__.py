"""Inference engines behind the ``InferenceBackend`` port."""
