"""Engines that run inside this process on the CPU (llama.cpp for chat, ONNX Runtime for embeddings)."""
