"""Implementations of the ports: the only place I/O libraries appear."""
