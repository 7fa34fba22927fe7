"""Logging (structured, content-free by construction) and, later, metrics and tracing."""
